"""The standard plots show the dataset's numbers: read the artists back and compare with the data."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.image import AxesImage

from alliance_sim import plots
from alliance_sim.ensemble import run_ensemble
from alliance_sim.model.parameters import Parameters, ScriptedEvent, TariffStep
from alliance_sim.results import to_dataset

REPLICATES = 300


def _params(tariff: float) -> Parameters:
    p = Parameters()
    p.simulation.months = 12
    p.tariffs = [TariffStep(month="2025-08", target="KOR", rate=tariff, label="Tariff letter"),
                 TariffStep(month="2025-08", target="JPN", rate=tariff)]
    p.events = [ScriptedEvent(month="2025-10", kind="threat", targets=["KOR", "JPN"], magnitude=0.3,
                              source="PRK", label="Missile test"),
                ScriptedEvent(month="2026-02", kind="reassurance", targets=["KOR"], magnitude=0.5,
                              label="Summit")]
    return p


@pytest.fixture(scope="module")
def ds():
    out = run_ensemble(_params(0.25), replicates=REPLICATES, seed=7, months=12, keep_trajectories=10)
    return to_dataset(out, "plot_test")


@pytest.fixture(scope="module")
def ds_other():
    out = run_ensemble(_params(0.6), replicates=REPLICATES, seed=7, months=12, keep_trajectories=10)
    return to_dataset(out, "plot_test_high")


def _title(fig) -> str:
    return fig._suptitle.get_text() if fig._suptitle is not None else ""


def _band_ys(ax, label: str) -> np.ndarray:
    polys = [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_label() == label]
    assert len(polys) == 1, f"expected one '{label}' band, found {len(polys)}"
    return polys[0].get_paths()[0].vertices[:, 1]


def _contains_all(haystack: np.ndarray, needles: np.ndarray) -> bool:
    return all(np.isclose(haystack, v).any() for v in np.ravel(needles))


def _assert_title(fig, ds):
    title = _title(fig)
    assert ds.attrs["scenario"] in title
    assert f"{REPLICATES:,} replicates" in title


def _assert_events(fig, ax, ds):
    xs = sorted({float(ln.get_xdata()[0]) for ln in ax.lines if ln.get_gid() == "event"})
    months = list(ds.month.values)
    assert xs == [float(months.index("2025-08")), float(months.index("2025-10")), float(months.index("2026-02"))]
    key = fig._supxlabel.get_text()
    for label in ("Tariff letter", "Missile test", "Summit"):
        assert label in key
    numbers = [t.get_text() for t in ax.texts if t.get_gid() == "event_number"]
    assert numbers == ["1", "2", "3"]


def test_alignment_fan_chart_shows_median_and_bands(ds):
    fig = plots.plot_alignment(ds)
    axes = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert len(axes) == ds.sizes["ally"]
    _assert_title(fig, ds)
    for ax, ally in zip(axes, ds.ally.values, strict=True):
        assert ax.get_title(loc="left") == plots.actor_name(str(ally))
        q = ds.alignment_q.sel(ally=ally)
        median = [ln for ln in ax.lines if ln.get_label() == "median"]
        assert len(median) == 1
        np.testing.assert_allclose(median[0].get_ydata(), q.sel(quantile=0.5).values)
        np.testing.assert_allclose(median[0].get_xdata(), np.arange(ds.sizes["month"]))
        ys50 = _band_ys(ax, "50% band")
        assert _contains_all(ys50, q.sel(quantile=0.25).values) and _contains_all(ys50, q.sel(quantile=0.75).values)
        ys90 = _band_ys(ax, "90% band")
        assert _contains_all(ys90, q.sel(quantile=0.05).values) and _contains_all(ys90, q.sel(quantile=0.95).values)
        zero = [ln for ln in ax.lines if ln.get_gid() == "zero"]
        assert zero and np.allclose(zero[0].get_ydata(), 0)
        assert any(t.get_text() == "Beijing's side" for t in ax.texts)
        assert any(p.get_label() == "Beijing's side" for p in ax.patches)
        _assert_events(fig, ax, ds)
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert ticks[0] == "Jul 2025"


def test_cohesion_plot(ds):
    fig = plots.plot_cohesion(ds)
    ax = fig.axes[0]
    _assert_title(fig, ds)
    median = [ln for ln in ax.lines if ln.get_label() == "median"]
    np.testing.assert_allclose(median[0].get_ydata(), ds.cohesion_q.sel(quantile=0.5).values)
    ys50 = _band_ys(ax, "50% band")
    assert _contains_all(ys50, ds.cohesion_q.sel(quantile=0.25).values)
    assert _contains_all(ys50, ds.cohesion_q.sel(quantile=0.75).values)
    _assert_events(fig, ax, ds)


def test_crossing_plot_shows_p_crossed(ds):
    fig = plots.plot_crossing(ds)
    ax = fig.axes[0]
    _assert_title(fig, ds)
    for ally in ds.ally.values:
        name = plots.actor_name(str(ally))
        lines = [ln for ln in ax.lines if ln.get_label() == f"{name}: has crossed"]
        assert len(lines) == 1
        np.testing.assert_allclose(lines[0].get_ydata(), ds.p_crossed.sel(ally=ally).values)
    assert ax.get_ylim()[1] >= float(ds.p_crossed.max())


def test_tie_heatmap_equals_median_ties_at_horizon(ds):
    fig = plots.plot_ties(ds)
    ax = fig.axes[0]
    _assert_title(fig, ds)
    images = [im for im in ax.get_images() if isinstance(im, AxesImage)]
    assert len(images) == 1
    actors, expected = plots.tie_matrix(ds)
    shown = np.ma.filled(images[0].get_array().astype(float), np.nan)
    np.testing.assert_allclose(shown, expected, equal_nan=True)
    last = ds.month.values[-1]
    for pair in ds.pair.values:
        a, b = str(pair).split("-")
        value = float(ds.tie_q.sel(quantile=0.5, month=last, pair=pair))
        assert shown[actors.index(a), actors.index(b)] == pytest.approx(value)
        assert shown[actors.index(b), actors.index(a)] == pytest.approx(value)
    n = len(actors)
    annotations = [t.get_text() for t in ax.texts]
    assert len(annotations) == n * (n - 1)
    assert f"{expected[0, 1]:+.2f}" in annotations
    norm = images[0].norm
    assert norm.vmin == -1 and norm.vmax == 1 and norm(0.0) == pytest.approx(0.5)  # centred at 0


def test_decision_areas_stack_the_frequencies(ds):
    fig = plots.plot_decisions(ds)
    _assert_title(fig, ds)
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_title(loc="left")]
    assert len(visible) == 3 * ds.sizes["ally"]
    by_title = {ax.get_title(loc="left"): ax for ax in visible}
    for ally in ds.ally.values:
        name = plots.actor_name(str(ally))
        ax = by_title[f"{name} decides"]
        options = [str(o) for o in ds.ally_option.values if str(o) != "hold"]
        polys = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert [p.get_label() for p in polys] == [o.replace("_", " ") for o in options]
        freq = ds.ally_decision_freq.sel(ally=ally)
        top = sum(freq.sel(ally_option=o).values for o in options)
        assert _contains_all(polys[-1].get_paths()[0].vertices[:, 1], top)
        assert float(top.max()) > 0  # something is decided: the plot is not empty
        china = by_title[f"China toward {name}"]
        labels = [c.get_label() for c in china.collections if isinstance(c, PolyCollection)]
        assert "none" not in labels and labels == ["induce", "coerce"]


def test_compare_overlays_each_scenario(ds, ds_other):
    fig = plots.plot_compare({"low": ds, "high": ds_other})
    axes = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert len(axes) == ds.sizes["ally"]
    assert f"{REPLICATES:,} replicates" in _title(fig)
    for ax, ally in zip(axes, ds.ally.values, strict=True):
        for name, d in (("low", ds), ("high", ds_other)):
            lines = [ln for ln in ax.lines if ln.get_label() == name]
            assert len(lines) == 1
            np.testing.assert_allclose(lines[0].get_ydata(), d.alignment_q.sel(ally=ally, quantile=0.5).values)
        assert len([c for c in ax.collections if c.get_label() == "50% band"]) == 2
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_texts == ["low", "high"]
    # the two scenarios really differ (a higher tariff pulls Korea further from Washington)
    kor_low = ds.alignment_q.sel(ally="KOR", quantile=0.5).values[-1]
    kor_high = ds_other.alignment_q.sel(ally="KOR", quantile=0.5).values[-1]
    assert kor_high < kor_low


def test_compare_crossing_shows_each_scenarios_probability(ds, ds_other):
    fig = plots.plot_compare_crossing({"low": ds, "high": ds_other})
    axes = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left") for ax in axes] == ["Japan", "South Korea"]
    for ax, ally in zip(axes, ds.ally.values, strict=True):
        for name, d in (("low", ds), ("high", ds_other)):
            lines = [ln for ln in ax.lines if ln.get_label() == name]
            assert len(lines) == 1
            np.testing.assert_allclose(lines[0].get_ydata(), d.p_crossed.sel(ally=ally).values)
        ends = sorted(t.get_text() for t in ax.texts if t.get_text().endswith("%"))
        assert ends == sorted(f"{d.p_crossed.sel(ally=ally).values[-1]:.0%}" for d in (ds, ds_other))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["low", "high"]
    _assert_events(fig, axes[0], ds)
    kor = "KOR"  # the higher tariff makes crossing likelier (else this plot could show the same line twice)
    assert float(ds_other.p_crossed.sel(ally=kor)[-1]) > float(ds.p_crossed.sel(ally=kor)[-1])


def test_save_all_writes_nonempty_pngs(ds, tmp_path):
    paths = plots.save_all(ds, tmp_path / "plots")
    assert sorted(p.name for p in paths) == sorted(f"{n}.png" for n in plots.STANDARD_PLOTS + ("drivers",))
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_plots_survive_a_netcdf_round_trip(ds, tmp_path):
    from alliance_sim.rundir import load_results, write_results

    back = load_results(write_results(ds, tmp_path / "results.nc"))
    assert back.attrs["event_labels"] == ds.attrs["event_labels"]
    fig = plots.plot_alignment(back)
    ax = fig.axes[0]
    _assert_events(fig, ax, back)


def test_percent_ticks_carry_the_decimals_a_tick_needs():
    fmt = plots.percent_formatter()
    assert [fmt(v) for v in (0.0, 0.025, 0.05, 0.075, 0.2, 1.0)] == ["0%", "2.5%", "5%", "7.5%", "20%", "100%"]
    assert fmt(0.1 + 0.2) == "30%"        # float noise is not shown as 30.000000000000004%
