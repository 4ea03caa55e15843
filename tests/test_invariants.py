"""Invariants of the state under extreme but valid parameters (hypothesis).

Every weight of ``Mechanisms``, ``Population`` and the four policies is drawn within its pydantic
bounds (hypothesis favours the bounds themselves), together with tariffs up to 2.0, threat rates up
to 50 with magnitudes up to 5, demands, actors' exposures, an optional adversary, elections, a
bargaining chip and scripted events.  A short run must keep every array finite and every bounded
quantity inside its range.
"""

from __future__ import annotations

import typing

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance_sim.model.calendar import add_months
from alliance_sim.model.compiled import ADVERSARY_OPTIONS, ALLY_OPTIONS, CHINA_OPTIONS, US_OPTIONS
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import (
    Actor,
    AdversaryPolicy,
    AllyPolicy,
    BargainingChip,
    ChallengerPolicy,
    DemandStep,
    Mechanisms,
    Parameters,
    PatronPolicy,
    Population,
    RateStep,
    ScriptedEvent,
    TariffStep,
    field_bounds,
)

START = "2025-07"
MONTHS = 12
R = 16
FLOAT_SAFE = 35.0  # 1 - exp(-x) and logistic(x) are distinguishable from 1 in float64 below ~36


_bounds = field_bounds


def _field_strategy(field):
    ann = field.annotation
    if typing.get_origin(ann) is typing.Literal:
        return st.sampled_from(typing.get_args(ann))
    lo, hi, lo_open, hi_open = _bounds(field)
    if ann is int:
        return st.integers(min_value=lo, max_value=hi)
    assert ann is float, field
    return st.floats(min_value=lo, max_value=hi, exclude_min=lo_open, exclude_max=hi_open,
                     allow_nan=False, allow_infinity=False)


def block(cls, **overrides):
    """A strategy for every field of the pydantic block ``cls`` within its declared bounds."""
    fields = {name: overrides.get(name, _field_strategy(f)) for name, f in cls.model_fields.items()
              if name not in overrides or overrides[name] is not None}
    return st.fixed_dictionaries(fields).map(lambda d: cls(**d))


def _population(d):
    total = d["share_exporters"] + d["share_security_minded"] + d["share_nationalists"]
    if total > 1.0:
        for k in ("share_exporters", "share_security_minded", "share_nationalists"):
            d[k] = d[k] / total * (1.0 - 1e-9)
    return Population(**d)


populations = st.fixed_dictionaries(
    {name: (st.integers(0, 12) if name == "size_per_ally" else _field_strategy(f))
     for name, f in Population.model_fields.items()}).map(_population)

months = st.integers(0, MONTHS - 1).map(lambda k: add_months(START, k))
unit = st.floats(0, 1)


@st.composite
def ally_actor(draw, label):
    share_us = draw(unit)
    share_cn = draw(st.floats(0, 1 - share_us))
    autos = draw(unit)
    chip = draw(st.none() | st.builds(BargainingChip, available_from=st.none() | months,
                                      base_utility=st.floats(-20, 20), tariff_pain_weight=st.floats(0, 10),
                                      tie_impulse_us=st.floats(-1, 1), defense_effort_increase=st.floats(0, 3)))
    return Actor(label=label, role="ally", exports_to_gdp=draw(st.floats(0, 2)), export_share_us=share_us,
                 export_share_china=share_cn, sector_shares={"autos": autos},
                 defense_spending_gdp=draw(st.floats(0, 15)), initial_reliability=draw(st.floats(0.01, 0.99)),
                 entrapment_sensitivity=draw(unit), leader_orientation=draw(st.floats(-1, 1)),
                 hawk_orientation=draw(st.floats(-1, 1)), conciliatory_orientation=draw(st.floats(-1, 1)),
                 leader_latitude=draw(st.floats(0, 2)), elections=draw(st.lists(months, max_size=2)),
                 bargaining_chip=chip)


@st.composite
def scenarios(draw):
    p = Parameters()
    p.simulation.months = MONTHS
    p.actors["JPN"] = draw(ally_actor("Japan"))
    p.actors["KOR"] = draw(ally_actor("South Korea"))
    if draw(st.booleans()):
        p.actors["PRK"] = Actor(label="North Korea", role="adversary",
                                provocation_rate_multiplier=draw(st.floats(1, 20)))
    for proc in p.threats.values():
        proc.rate_per_month = draw(st.floats(0, 50))
        proc.mean_magnitude = draw(st.floats(0, 5))
        proc.rate_schedule = draw(st.lists(st.builds(RateStep, month=months, rate_per_month=st.floats(0, 50)),
                                           max_size=2))
    p.tariffs = draw(st.lists(st.builds(TariffStep, month=months, target=st.sampled_from(["JPN", "KOR"]),
                                        sector=st.sampled_from(["country", "autos"]), rate=st.floats(0, 2)),
                              max_size=4))
    p.demands = draw(st.lists(st.builds(DemandStep, month=months, target=st.sampled_from(["JPN", "KOR"]),
                                        defense_gdp=st.floats(0, 15)), max_size=2))
    p.events = draw(st.lists(st.builds(
        ScriptedEvent, month=months,
        kind=st.sampled_from(["threat", "reassurance", "leader", "inducement", "coercion"]),
        targets=st.lists(st.sampled_from(["JPN", "KOR"]), min_size=1, max_size=2, unique=True),
        magnitude=st.floats(-5, 5), orientation=st.floats(-1, 1),
        source=st.sampled_from(["", "CHN", "PRK_cyber"])), max_size=4))
    p.mechanisms = draw(block(Mechanisms))
    p.population = draw(populations)
    p.us_policy = draw(block(PatronPolicy))
    p.ally_policy = draw(block(AllyPolicy))
    p.china_policy = draw(block(ChallengerPolicy))
    p.adversary_policy = draw(block(AdversaryPolicy))
    ties = dict(p.ties)
    for key in ties:
        ties[key] = draw(st.floats(-1, 1))
    p.ties = ties
    return Parameters.model_validate(p.model_dump())  # re-validate the whole tree


def check_state(model):
    s, c = model.state.copy(), model.compiled
    assert len(vars(s)) > 40  # every state variable of layout.STATE is checked, not an empty view
    for name, value in vars(s).items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.isfinite(value).all(), f"{name} has NaN/inf at month {s.month}"
    assert (np.abs(s.ties) <= 1).all() and (np.abs(s.alignment) <= 1).all()
    assert (np.abs(s.cohesion) <= 1).all()
    np.testing.assert_array_equal(s.ties, np.swapaxes(s.ties, 1, 2))
    assert (s.threat >= 0).all() and (s.threat <= 1).all()
    total_stock = s.stock.sum(axis=-1)
    assert (s.stock >= 0).all()
    assert (s.threat[total_stock < FLOAT_SAFE] < 1).all()
    assert (s.reliability >= 0).all() and (s.reliability <= 1).all()
    inner = np.abs(s.latent) < FLOAT_SAFE
    assert ((s.reliability[inner] > 0) & (s.reliability[inner] < 1)).all()
    for op in (s.op_us, s.op_cn, s.anchor_us, s.anchor_cn):
        assert (np.abs(op) <= 1).all()
    assert (np.abs(s.public) <= 1).all()
    assert (np.abs(s.stance - s.public) <= c.latitude + 1e-12).all()
    assert (s.tariff >= 0).all() and (s.tariff <= 2 + 1e-12).all()
    assert (s.gap >= 0).all() and (s.pain >= 0).all()
    assert (s.exports_us >= 0).all() and (s.exports_cn >= 0).all()
    assert (s.tariff_offset <= c.params.us_policy.max_tariff_offset + 1e-12).all()


def check_decisions(d):
    for arr, options in ((d.us, US_OPTIONS), (d.ally, ALLY_OPTIONS), (d.china, CHINA_OPTIONS),
                         (d.adversary, ADVERSARY_OPTIONS)):
        assert ((arr >= 0) & (arr < len(options))).all()


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(params=scenarios(), seed=st.integers(0, 2**63 - 1))
def test_state_stays_finite_and_bounded_under_extreme_parameters(params, seed):
    with np.errstate(over="ignore", under="ignore"):  # exp() saturating at extremes is fine; NaN is not
        model = AllianceModel(params, replicate_ids=np.arange(R), seed=seed, collect=False)
        check_state(model)
        for _ in range(MONTHS):
            model.step()
            check_decisions(model.last_decisions)
            check_state(model)
    assert model.state.month == MONTHS
