"""``alliance explain``: knock-out counterfactuals with common random numbers beside the driver accounting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance_sim.cli import app
from alliance_sim.ensemble import run_ensemble
from alliance_sim.explain import KNOCKOUT_TERMS, explain
from alliance_sim.model.layout import DRIVER_GROUPS
from alliance_sim.model.step import TERM
from alliance_sim.scenario import load_scenario

R, MONTHS = 160, 18


def test_every_group_has_a_knockout_and_no_term_is_in_two():
    assert list(KNOCKOUT_TERMS) == list(DRIVER_GROUPS)
    terms = [t for ts in KNOCKOUT_TERMS.values() for t in ts]
    assert len(terms) == len(set(terms))
    assert set(terms) <= set(TERM.__members__)
    # every term that acts on a tie directly belongs to a group (the rest act through the state)
    on_ties = {"threat_protection", "tariff_strain", "burden_friction", "entrapment", "leader_pull",
               "china_trade_pull", "source_threat", "common_threat", "balance", "tie_noise", "coercion_push",
               "quasi_alliance"}
    on_ties |= {t for t in TERM.__members__ if t.endswith("_impulse")}
    assert on_ties <= set(terms)


@pytest.fixture(scope="module")
def explained():
    p = load_scenario("tariff_shock_2025").params
    return p, explain(p, name="t", replicates=R, seed=11, months=MONTHS)


def test_baseline_is_the_plain_run_and_knockouts_differ(explained):
    p, exp = explained
    plain = run_ensemble(p, replicates=R, seed=11, months=MONTHS, keep_trajectories=0)
    from alliance_sim.results import to_dataset

    assert np.array_equal(to_dataset(plain).alignment_mean.values, exp.baseline.alignment_mean.values)
    for g, ko in exp.knockouts.items():
        same = np.array_equal(ko.alignment_mean.values, exp.baseline.alignment_mean.values)
        # the scenario has no direct events between two actors: that knock-out changes nothing, the others do
        assert same == (g == "direct_events"), g


def test_tariffs_knockout_removes_koreas_drift_and_its_crossings(explained):
    _, exp = explained
    t = exp.table.set_index(["ally", "driver"])
    row = t.loc[("KOR", "tariffs_trade")]
    assert row.knockout_effect < -3 * row.knockout_effect_se  # beyond Monte Carlo error (paired, CRN)
    assert np.sign(row.knockout_effect) == np.sign(row.accounting_share)
    assert row.p_crossed_without <= row.p_crossed
    assert len(exp.table) == 2 * len(DRIVER_GROUPS)
    np.testing.assert_allclose(t.interaction, t.knockout_effect - t.accounting_share)
    # the accounting's shares of an ally add up to its change of alignment
    for _, rows in exp.table.groupby("ally"):
        assert rows.accounting_share.sum() == pytest.approx(rows.change_of_alignment.iloc[0], abs=1e-6)


def test_unknown_group_is_an_error():
    with pytest.raises(ValueError, match="unknown driver group 'tarifs'"):
        explain(load_scenario("tariff_shock_2025").params, groups=("tarifs",), replicates=4, months=2)


def test_cli_explain_writes_the_folder(tmp_path):
    out = tmp_path / "ex"
    r = CliRunner().invoke(app, ["explain", "tariff_shock_2025", "-n", "64", "--months", "12", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "South Korea" in r.output and "knock-out" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["baseline", "explain.csv", "explain.png", "manifest.json"]
    table = pd.read_csv(out / "explain.csv")
    assert set(table.driver) == set(DRIVER_GROUPS) and set(table.ally) == {"JPN", "KOR"}
    assert (out / "baseline" / "plots" / "drivers.png").stat().st_size > 20_000
    assert (out / "explain.png").read_bytes().startswith(b"\x89PNG")
    again = CliRunner().invoke(app, ["explain", "tariff_shock_2025", "-n", "8", "--months", "2", "--out", str(out)])
    assert again.exit_code != 0 and "exists" in again.output


def test_cli_explain_bad_override_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "ex"
    r = CliRunner().invoke(app, ["explain", "tariff_shock_2025", "--set", "actors.KOR.nope=1", "--out", str(out)])
    assert r.exit_code != 0
    assert len([ln for ln in r.output.strip().splitlines() if ln.strip()]) == 1 and "nope" in r.output
    assert not out.exists() and not list(tmp_path.iterdir())


def test_explain_under_a_posterior_pairs_each_replicate_with_its_own_particle(tmp_path):
    """The baseline is the posterior run and the knock-out is the posterior run with the group's terms off:
    the pairs share parameters as well as draws (and the particles matter)."""
    from alliance_sim.posterior import load_posterior
    from alliance_sim.results import to_dataset

    (tmp_path / "p.csv").write_text("weight,mechanisms.tariff_weight\n1,0.0\n1,1.2\n")
    post = load_posterior(tmp_path / "p.csv")
    p = load_scenario("tariff_shock_2025").params
    exp = explain(p, name="t", replicates=40, seed=5, months=12, groups=("tariffs_trade",), posterior=post)

    def plain(**kw):
        return to_dataset(run_ensemble(p, replicates=40, seed=5, months=12, keep_trajectories=0, **kw))

    assert np.array_equal(plain(posterior=post).alignment_mean.values, exp.baseline.alignment_mean.values)
    ko = plain(posterior=post, switched_off=KNOCKOUT_TERMS["tariffs_trade"])
    assert np.array_equal(ko.alignment_mean.values, exp.knockouts["tariffs_trade"].alignment_mean.values)
    assert not np.array_equal(plain().alignment_mean.values, exp.baseline.alignment_mean.values)
