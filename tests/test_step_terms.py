"""Every term of the compiled step matters, the step matches the reference across the parameter space, and the
compiled schedules match the scenario file read independently.

* Mutation check: switching off any single term of ``step.TERM`` must make the differential test against the
  plain-Mesa reference fail on at least one of its scenarios; a term the comparison could not see would be a
  term the tests do not check.
* Differential test over the bounds: hypothesis draws parameter sets across the bounds of every mechanism
  weight (each non-zero somewhere), with citizens on and off and with an extra actor, and the step must match
  the reference replicate by replicate.
* The reference shares ``compile_parameters`` with the step, so one test recomputes a shipped scenario's
  tariff and demand schedules from its TOML file by hand.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from builders import with_north_korea
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reference_differential import SCENARIOS, SEED, TOL, compare, reference_records

from alliance_sim.model.calendar import month_offset
from alliance_sim.model.compiled import compile_parameters
from alliance_sim.model.parameters import Mechanisms, Parameters, field_bounds
from alliance_sim.model.step import TERM
from alliance_sim.scenario import load_scenario

MONTHS = 24
REPLICATES = 2
ROOT = Path(__file__).resolve().parents[1]


@cache
def _references(name: str) -> list:
    p = SCENARIOS[name]()
    return [reference_records(p, r, SEED, MONTHS) for r in range(REPLICATES)]


def _detected(name: str, term: str) -> bool:
    worst, mismatched, _ = compare(SCENARIOS[name](), replicates=REPLICATES, months=MONTHS, switched_off=(term,),
                                   references=_references(name))
    return worst > 1e-6 or mismatched > 0


def test_the_unmutated_step_passes_the_short_comparison():
    for name in SCENARIOS:
        worst, mismatched, _ = compare(SCENARIOS[name](), replicates=REPLICATES, months=MONTHS,
                                       references=_references(name))
        assert mismatched == 0 and worst < TOL, name


@pytest.mark.parametrize("term", [t.name for t in TERM])
def test_switching_off_any_term_fails_the_differential_test(term):
    assert any(_detected(name, term) for name in SCENARIOS), \
        f"switching off {term} changes nothing the differential test sees"


# ------------------------------------------------------------------------------ across the bounds
def _within(info, default: float, draw_unit: float) -> float:
    """A value inside the field's bounds, spread over [low, high] (unbounded sides: ±4 × the default's scale)."""
    lo, hi, lo_open, hi_open = field_bounds(info)
    scale = max(abs(default), 1.0) * 4
    lo = default - scale if lo is None else lo
    hi = default + scale if hi is None else hi
    x = lo + (hi - lo) * draw_unit
    eps = 1e-6 * max(hi - lo, 1.0)
    return float(min(max(x, lo + (eps if lo_open else 0.0)), hi - (eps if hi_open else 0.0)))


@st.composite
def mechanisms(draw):
    """Every numeric mechanism field drawn across its bounds (non-zero: a term that is 0 cannot be checked)."""
    values = {}
    for name, info in Mechanisms.model_fields.items():
        default = info.default
        if not isinstance(default, (int, float)) or isinstance(default, bool):
            continue
        u = draw(st.floats(0.02, 1.0))
        values[name] = _within(info, float(default), u)
    # Keep the comparison in the range where a 1e-9 match is meaningful: moderate noise and adjustment.
    values["tie_noise_sd"] = min(values.get("tie_noise_sd", 0.05), 0.1)
    return Mechanisms(**values)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mech=mechanisms(), citizens=st.sampled_from([0, 6]), north_korea=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_step_matches_reference_across_mechanism_bounds(mech, citizens, north_korea, seed):
    p = Parameters()
    p.mechanisms = mech
    p.population.size_per_ally = citizens
    if north_korea:
        p = with_north_korea(p)
    p = Parameters.model_validate(p.model_dump())
    worst, mismatched, taken = compare(p, replicates=1, seed=seed, months=12)
    assert mismatched == 0, f"{mismatched} decisions differ"
    assert worst < 1e-8, f"largest difference {worst:g}"


# ------------------------------------------------------------------------------ schedules, independently
def _in_force(steps: list[dict], start: str, months: int) -> np.ndarray:
    """Month by month, the value of the latest step at or before that month (0 before any), by hand."""
    out = np.zeros(months)
    for t in range(months):
        latest = None
        for s in steps:
            k = month_offset(start, s["month"])
            if k <= t and (latest is None or k >= latest[0]):
                latest = (k, s["value"])
        out[t] = latest[1] if latest else 0.0
    return out


def test_compiled_tariffs_and_demands_match_the_scenario_file():
    path = ROOT / "scenarios" / "tariff_shock_2025.toml"
    raw = tomllib.loads(path.read_text())
    params = load_scenario(path).params
    c = compile_parameters(params)
    start, T = params.simulation.start, c.months
    for a, ally in enumerate(c.allies):
        steps = [s for s in raw["tariffs"] if s["target"] == ally]
        shares = params.actors[ally].sector_shares
        expected = (1.0 - sum(shares.values())) * _in_force(
            [{"month": s["month"], "value": s["rate"]} for s in steps if s["sector"] == "country"], start, T)
        for sector, share in shares.items():
            expected += share * _in_force(
                [{"month": s["month"], "value": s["rate"]} for s in steps if s["sector"] == sector], start, T)
        got = c.country_weight[a] * np.clip(c.country_rate[:, a], 0, 2) + c.sector_rate[:, a]
        np.testing.assert_allclose(got, expected, atol=1e-12, err_msg=ally)
        assert expected.max() > expected.min()  # the scenario really schedules a change
        demands = [{"month": d["month"], "value": d["defense_gdp"]} for d in raw.get("demands", [])
                   if d["target"] == ally]
        if demands:
            base = params.actors[ally].defense_spending_gdp
            want = _in_force(demands, start, T)
            first = min(month_offset(start, d["month"]) for d in demands)
            want[:max(first, 0)] = base
            np.testing.assert_allclose(c.demand[:, a], want, atol=1e-12, err_msg=f"demand {ally}")
