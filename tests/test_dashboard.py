"""The dashboard's Python side: settings change the scenario as they say (and nothing with the
defaults), each session is its own reproducible world, the log's utility terms are the engine's, and
the charts show the session's numbers.  The browser side is tests/test_dashboard_browser.py."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib import cbook

pytest.importorskip("solara")

from alliance_sim.dashboard import explain, figures  # noqa: E402
from alliance_sim.dashboard.session import Session, Settings, apply_settings  # noqa: E402
from alliance_sim.model.compiled import (  # noqa: E402
    ADVERSARY_OPTIONS,
    ALLY_OPTIONS,
    CHINA_OPTIONS,
    US_OPTIONS,
    compile_parameters,
)
from alliance_sim.model.model import AllianceModel  # noqa: E402
from alliance_sim.scenario import load_scenario, params_hash  # noqa: E402


@pytest.fixture(scope="module")
def shock():
    return load_scenario("tariff_shock_2025")


def test_default_settings_are_the_scenario(shock):
    p = apply_settings(shock.params, Settings(replicates=shock.params.simulation.replicates))
    assert params_hash(p) == params_hash(shock.params)


def test_default_session_matches_the_model_api(shock):
    s = Session(shock, Settings(replicates=64))
    s.advance(5)
    m = AllianceModel(shock.params, replicate_ids=np.arange(64), collect=False)
    for _ in range(5):
        m.step()
    np.testing.assert_array_equal(s.model.state.alignment, m.state.alignment)
    np.testing.assert_allclose(s.history[-1].alignment_q[2], np.median(m.state.alignment, axis=0))


def test_extra_tariff_adds_percentage_points_in_every_month(shock):
    base = compile_parameters(shock.params)
    p = apply_settings(shock.params, Settings(extra_tariff={"KOR": 10.0}))
    c = compile_parameters(p)
    k = c.allies.index("KOR")
    np.testing.assert_allclose(c.country_rate[:, k], np.clip(base.country_rate[:, k] + 0.10, 0, 2))
    j = c.allies.index("JPN")
    np.testing.assert_array_equal(c.country_rate[:, j], base.country_rate[:, j])
    cut = compile_parameters(apply_settings(shock.params, Settings(extra_tariff={"KOR": -50.0})))
    assert cut.country_rate[:, k].min() == 0.0  # clipped, not negative


def test_threat_scale_and_leaders_and_china(shock):
    base = compile_parameters(shock.params)
    p = apply_settings(shock.params, Settings(threat_scale={"nk_provocations": 2.0}, leader={"KOR": 0.9},
                                              induce=-1.0, coerce=-6.0, seed=7, replicates=50))
    c = compile_parameters(p)
    k = [str(name) for name in p.threats].index("nk_provocations")
    np.testing.assert_allclose(c.proc_rate[:, k], 2.0 * base.proc_rate[:, k])
    assert p.actors["KOR"].leader_orientation == 0.9
    assert (p.china_policy.induce_base_utility, p.china_policy.coerce_base_utility) == (-1.0, -6.0)
    assert (p.simulation.seed, p.simulation.replicates) == (7, 50)


def test_sessions_are_independent_and_reproducible(shock):
    a, b = Session(shock, Settings(replicates=80)), Session(shock, Settings(replicates=80))
    a.advance(4)
    assert (a.month, b.month) == (4, 0)
    b.advance(4)
    np.testing.assert_array_equal(a.model.state.alignment, b.model.state.alignment)
    b.change(seed=12345)
    assert b.month == 4  # a change replays to the month reached
    assert not np.array_equal(a.model.state.alignment, b.model.state.alignment)
    a.reset()
    assert a.month == 0 and len(a.history) == 1


def test_slider_replays_with_the_new_setting(shock):
    s = Session(shock, Settings(replicates=300))
    s.advance(12)
    before = s.history[-1].alignment_q.copy()
    s.change(extra_tariff={"KOR": 40.0}, threat_scale={"nk_provocations": 0.0})
    assert s.month == 12
    assert not np.allclose(before, s.history[-1].alignment_q)


def test_p_crossed_counts_every_month_so_far(shock):
    s = Session(shock, Settings(replicates=300, leader={"KOR": -1.0, "JPN": -1.0}, extra_tariff={"KOR": 50.0}))
    ever = s.model.state.alignment < 0
    for _ in range(12):
        s.step()
        ever |= s.model.state.alignment < 0
        np.testing.assert_allclose(s.history[-1].crossed, ever.mean(axis=0))
    assert np.all(np.diff([h.crossed for h in s.history], axis=0) >= 0)


def _utilities(terms, options, R):
    """(R, k) utilities from the explained terms; hold is 0, an option not offered is unavailable."""
    u = np.full((R, len(options)), -np.inf)
    u[:, 0] = 0.0
    for k, option in enumerate(options[1:], start=1):
        if option in terms:
            total = np.asarray(sum(terms[option].values()), dtype=float)
            u[:, k] = np.where(np.isnan(total), -np.inf, total)
    return u


def _check_shares(terms, options, choice, who):
    """The model's choices are logit draws: their shares must be the mean logit probabilities of the
    explained utilities (a wrong weight or a missing term moves the probabilities by far more than
    the sampling error of a few thousand replicates)."""
    R = len(choice)
    u = _utilities(terms, options, R)
    p = np.exp(u - u.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    for k, option in enumerate(options):
        expected = p[:, k].mean()
        got = np.mean(choice == k)
        se = np.sqrt(max(expected * (1 - expected), 1e-4) / R)
        assert abs(got - expected) < 5 * se + 0.004, f"{who} {option}: model {got:.3f}, terms {expected:.3f}"


@pytest.mark.parametrize("name", ["tariff_shock_2025", "opcon_bargain", "north_korea_actor"])
def test_log_terms_are_the_models_utilities(name):
    s = Session(load_scenario(name), Settings(replicates=6000, extra_tariff={"KOR": 20.0}))
    s.advance(7)
    c = s.model.compiled
    before = s.model.state.copy()
    s.step()
    d = s.model.last_decisions
    t = before.month
    for a, ally in enumerate(c.allies):
        _check_shares(explain.ally_terms(c, before, a), ALLY_OPTIONS, d.ally[:, a], ally)
        if c.upol.mode != "scripted":
            _check_shares(explain.patron_terms(c, before, a), US_OPTIONS, d.us[:, a], f"US→{ally}")
        if c.cpol.mode == "behavioural" and not (c.ev_induce[t, a] or c.ev_coerce[t, a]):
            _check_shares(explain.challenger_terms(c, before, a), CHINA_OPTIONS, d.china[:, a], f"China→{ally}")
    for k in range(len(c.adversary_idx)):
        _check_shares(explain.adversary_terms(c, before), ADVERSARY_OPTIONS, d.adversary[:, k], "adversary")


def test_a_wrong_term_is_caught():
    """The check above can fail: double one weight and the shares no longer match."""
    s = Session(load_scenario("tariff_shock_2025"), Settings(replicates=6000))
    s.advance(7)
    c = s.model.compiled
    before = s.model.state.copy()
    s.step()
    terms = explain.ally_terms(c, before, 1)
    terms["hedge"]["doubts about Washington"] = 2 * terms["hedge"]["doubts about Washington"]
    with pytest.raises(AssertionError):
        _check_shares(terms, ALLY_OPTIONS, s.model.last_decisions.ally[:, 1], "KOR")


def test_log_names_every_agent_with_shares_that_match_the_decisions(shock):
    s = Session(shock, Settings(replicates=400, extra_tariff={"KOR": 30.0}))
    s.advance(3)
    d = s.model.last_decisions
    actors = [e.actor for e in s.log]
    assert actors == ["United States → Japan", "United States → South Korea", "Japan", "South Korea",
                      "China → Japan", "China → South Korea"]
    korea = s.log[3]
    for option, share in korea.shares:
        assert share == pytest.approx(np.mean(d.ally[:, 1] == ALLY_OPTIONS.index(option)))
    assert korea.option == korea.shares[0][0]
    assert all(name != explain.BASE for name, _ in korea.reasons[:-1])  # the moving terms first
    assert "Why" in korea.text()


def _png_size(data: bytes) -> tuple[int, int]:
    import PIL.Image

    return PIL.Image.open(io.BytesIO(data)).size


def test_charts_draw_the_sessions_numbers(shock):
    s = Session(shock, Settings(replicates=200))
    overview, network = figures.Overview(s), figures.Network(s)
    first = overview.png()
    s.advance(3)
    png = overview.png()
    assert png != first and _png_size(png) == (880, 512)
    median = next(a for a in overview.dynamic if a.get_gid() == "median_KOR")
    np.testing.assert_allclose(median.get_ydata(), [h.alignment_q[2, 1] for h in s.history])
    assert _png_size(network.png()) == (368, 352)
    ties = {a.get_gid(): a for a in network.dynamic if str(a.get_gid()).startswith("tie_")}
    actors = list(s.model.compiled.actors)
    i, j = sorted((actors.index("USA"), actors.index("JPN")))
    w = s.history[-1].ties_median[i, j]
    edge = ties[f"tie_{actors[i]}-{actors[j]}"]
    assert edge.get_linewidth() == pytest.approx(0.5 + 7 * abs(w))
    assert (edge.get_color() == figures.POSITIVE_TIE) == (w > 0)
    assert [k for k, _ in s.events()] == [k for k, _ in compile_parameters(s.params).event_marks]


def test_event_labels_with_dollars_are_not_mathtext():
    """present_2026's '$550 bn / $350 bn' printed as italic mathtext in the CLI's plots."""
    from alliance_sim import api
    from alliance_sim.plots import PLOTTERS, escape_mathtext

    res = api.run("present_2026", replicates=20, keep_trajectories=0)
    for name, plot in PLOTTERS.items():
        fig = plot(res.dataset)
        texts = [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))]
        shown = " ".join(" ".join(texts).split())  # the key may wrap inside a label
        assert "550 bn / \\$350 bn" in shown or name == "ties", name
        assert not any(cbook.is_math_text(t) for t in texts), name
    assert escape_mathtext("$5 / $6") == r"\$5 / \$6"


@pytest.mark.parametrize("args, where", [(["no_such_scenario"], "no_such_scenario"),
                                         (["baseline_2025", "--port", "70000"], "--port")])
def test_dashboard_command_bad_input_is_one_line(args, where):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "alliance_sim.cli", "dashboard", *args], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and where in lines[0], r.stderr
