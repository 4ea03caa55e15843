"""The SolaraViz dashboard: its model is a Mesa model whose DataCollector and fan chart carry the
ensemble's real numbers (so the page shows what the engine computes)."""

import numpy as np
import pytest

pytest.importorskip("solara")

from alliance_sim.app import DashboardModel, alignment_fan, make_page  # noqa: E402


def test_dashboard_model_collects_and_plots_real_quantiles():
    model = DashboardModel(replicates=120, months=8, kor_tariff=0.5, nk_rate=0.5)
    for _ in range(8):
        model.step()
    model.step()  # past the horizon: stops instead of failing
    assert model.running is False
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 9  # initial state + 8 months
    assert np.isclose(df["share_crossed_KOR"].iloc[-1], np.mean(model.state.alignment[:, 1] < 0))
    fig = alignment_fan(model)
    ax = fig.axes[0]
    medians = {line.get_label(): line.get_ydata() for line in ax.lines if "median" in str(line.get_label())}
    assert set(medians) == {"JPN median", "KOR median"}
    np.testing.assert_allclose(medians["KOR median"][-1], np.median(model.state.alignment[:, 1]))
    assert "120 replicates" in ax.get_title()


def test_slider_changes_the_outcome_with_common_random_numbers():
    lo, hi = DashboardModel(replicates=200, months=18, kor_tariff=0.0), DashboardModel(
        replicates=200, months=18, kor_tariff=0.6)
    for _ in range(18):
        lo.step()
        hi.step()
    # a 60 % tariff strains the tie with Washington: Korea's mean alignment must be lower
    assert hi.state.alignment[:, 1].mean() < lo.state.alignment[:, 1].mean() - 0.02


def test_page_builds():
    assert make_page(DashboardModel(replicates=50, months=6)) is not None
