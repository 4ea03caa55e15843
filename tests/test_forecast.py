"""forecast_2028 and its branches: the record continued to the November 2028 election, each branch changing
only what it says, and the branches' effects in the direction the model implies (common random numbers and
common posterior particles, margins beyond Monte Carlo error)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import alliance_sim as al
from alliance_sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
BRANCHES = sorted(p.stem for p in (ROOT / "scenarios" / "forecast_2028").glob("*.toml"))
POSTERIOR = ROOT / "calibrations" / "particles" / "present_record.csv"


def _entries(params, field):
    return [e.model_dump() for e in getattr(params, field)]


def test_the_forecast_runs_from_the_record_to_the_2028_election():
    base = load_scenario("forecast_2028")
    present = load_scenario("present_2026")
    assert base.params.simulation.start == "2025-01" and base.params.simulation.months == 47   # .. 2028-11
    # the record is the first part of the path: every tariff and event of present_2026, nothing else
    for field in ("tariffs", "events", "demands"):
        assert _entries(base.params, field) == _entries(present.params, field), field
    assert {"opcon_agreed", "opcon_deferred", "refunds_withheld", "section301_deal_rates",
            "section301_punitive"} <= set(BRANCHES)


@pytest.mark.parametrize("branch", BRANCHES)
def test_each_branch_adds_only_its_own_entries_after_the_record(branch):
    base = load_scenario("forecast_2028").params
    sc = load_scenario(f"forecast_2028/{branch}")
    added = 0
    for field in ("tariffs", "events", "demands"):
        b, c = _entries(base, field), _entries(sc.params, field)
        assert c[:len(b)] == b, f"{branch} changes an inherited {field} entry"
        assert all(e["month"] >= "2026-08" for e in c[len(b):]), f"{branch} adds to the observed record"
        added += len(c) - len(b)
    assert added >= 1, f"{branch} is the central path"
    rest = sc.params.model_copy(update={f: getattr(base, f) for f in ("tariffs", "events", "demands")})
    assert rest.model_dump() == base.model_dump(), f"{branch} changes something besides its entries"
    assert "ASSUMPTION" in sc.header and sc.description.startswith("Branch:")


def _final_kor(name, R=120):
    ds = al.run(al.load(name), replicates=R, seed=2028, keep_trajectories=R, posterior=POSTERIOR).dataset
    return ds.alignment.sel(ally="KOR").isel(month=-1).values


def test_section_301_tariffs_pull_korea_toward_beijing_in_proportion_to_the_rate():
    """Same replicates, draws and particles: the 25 % reciprocal rate leaves Korea further from Washington
    than the central path and than the 15 % deal rates, each paired gap beyond four standard errors (at 200
    replicates the gaps are ≈ 0.020 and 0.013 with s.e. ≈ 0.004 and 0.002; the deal rates' own gap from
    the central path, ≈ 0.006, is too small to assert at this size)."""
    central, deal, punitive = (_final_kor(n, 200) for n in ("forecast_2028", "forecast_2028/section301_deal_rates",
                                                            "forecast_2028/section301_punitive"))
    for hi in (central, deal):
        d = hi - punitive
        assert d.mean() > 4 * d.std(ddof=1) / np.sqrt(len(d)), (d.mean(), d.std(ddof=1))
    assert (central - deal).mean() > 0


def test_opcon_agreed_keeps_korea_closer_to_washington_than_deferred():
    d = _final_kor("forecast_2028/opcon_agreed") - _final_kor("forecast_2028/opcon_deferred")
    assert d.mean() > 4 * d.std(ddof=1) / np.sqrt(len(d)), (d.mean(), d.std(ddof=1))


def test_added_entries_are_validated_like_any_entry(tmp_path):
    (tmp_path / "b.toml").write_text('extends = "forecast_2028"\n[[add.events]]\nmonth = "2027-01"\n'
                                     'kind = "reassurance"\ntargets = ["KOR"]\nmagnitude = 99\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "b.toml")
    msg = str(info.value)
    assert "\n" not in msg and "events" in msg and "magnitude" in msg, msg
    (tmp_path / "c.toml").write_text('extends = "forecast_2028"\n[[add.tarifs]]\nmonth = "2027-01"\n')
    with pytest.raises(ScenarioError, match=r"add\.tarifs: expected a list of the scenario"):
        load_scenario(tmp_path / "c.toml")
    (tmp_path / "d.toml").write_text('extends = "forecast_2028"\n[add]\nevents = 3\n')
    with pytest.raises(ScenarioError, match=r"add\.events: expected \[\[add\.events\]\] entries"):
        load_scenario(tmp_path / "d.toml")
