"""A pair's memory of its direct events (step.tie_event_memory): the analytic update, its mark on the tie once
the event has passed, its accounting as the direct events' share, and the 2019 Japan–Korea dispute.

The memory keeps ``tie_event_persistent_share`` of each direct event between two actors and fades at
``tie_event_heal_rate`` a month; it is added to the tie's target, so a dispute's tie stays down instead of
relaxing back to where the other forces hold it.
"""

from __future__ import annotations

import numpy as np
import pytest

from alliance_sim.model.calendar import add_months
from alliance_sim.model.layout import DRIVER_GROUPS, DRV
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import Parameters, ScriptedEvent
from alliance_sim.model.step import TERM, tie_event_memory
from alliance_sim.scenario import load_scenario

R = 24


def test_the_memory_keeps_a_share_of_each_event_and_fades_geometrically():
    mem = tie_event_memory(0.0, 0.1, 0.5, -0.4)
    assert mem == pytest.approx(-0.2)
    mem = tie_event_memory(mem, 0.1, 0.5, 0.2)  # a later summit offsets part of it
    assert mem == pytest.approx(-0.2 * 0.9 + 0.1)
    for _ in range(5):
        mem = tie_event_memory(mem, 0.1, 0.5, 0.0)
    assert mem == pytest.approx((-0.2 * 0.9 + 0.1) * 0.9**5)
    assert tie_event_memory(0.0, 0.1, 0.0, -0.4) == 0.0  # share 0: events are impulses only


def _dispute(share: float, heal: float = 0.0, *, switched_off=(), attribution=False, months=36):
    """The Japan–Korea tie and its driver shares (replicates, months + 1) around a −0.4 dispute at month 2."""
    p = Parameters()
    p.population.size_per_ally = 0
    p.us_policy.mode = "scripted"
    p.mechanisms.tie_event_persistent_share = share
    p.mechanisms.tie_event_heal_rate = heal
    start = p.simulation.start
    p.events = [ScriptedEvent(month=add_months(start, 2), kind="tie", targets=["JPN", "KOR"], magnitude=-0.4)]
    m = AllianceModel(p, replicate_ids=np.arange(R), months=months, collect=False, switched_off=switched_off,
                      attribution=attribution)
    c = m.compiled
    i, j = c.actors.index("JPN"), c.actors.index("KOR")
    q = [k for k, (a, b) in enumerate(zip(c.pair_i, c.pair_j, strict=True)) if {a, b} == {i, j}][0]
    ties, shares = [m.state.ties[:, i, j].copy()], [m.state.driver_share[:, q].copy()]
    while not m.finished:
        m.step()
        ties.append(m.state.ties[:, i, j].copy())
        shares.append(m.state.driver_share[:, q].copy())
    return np.stack(ties, axis=1), np.stack(shares, axis=1)


def test_a_remembered_dispute_keeps_the_tie_down_after_it_has_passed():
    """Common random numbers: identical up to the event's month; without memory the tie relaxes back toward
    the tie of the undisturbed run within a couple of years, with memory (no healing) it stays well below."""
    undisturbed, _ = _dispute(0.0, switched_off=("tie_events",))
    impulse, _ = _dispute(0.0)
    remembered, _ = _dispute(1.0)
    assert np.array_equal(impulse[:, :2], remembered[:, :2])
    gap_impulse = (undisturbed - impulse)[:, -1]
    gap_memory = (undisturbed - remembered)[:, -1]
    assert np.abs(gap_impulse).max() < 0.05  # the impulse has relaxed away (0.4 × 0.85^34 ≈ 0.002, plus balance)
    assert gap_memory.min() > 0.2  # the target itself moved by 0.4 logit units


def test_healing_returns_the_tie_toward_where_it_started():
    undisturbed, _ = _dispute(0.0, switched_off=("tie_events",), months=60)
    kept, _ = _dispute(1.0, 0.0, months=60)
    healing, _ = _dispute(1.0, 0.1, months=60)
    gap_kept = (undisturbed - kept)[:, -1]
    gap_healing = (undisturbed - healing)[:, -1]
    assert (gap_kept - gap_healing).min() > 0.15
    assert np.abs(gap_healing).max() < 0.05  # 0.4 × 0.9^58 ≈ 0.001 of memory left


def test_the_memory_is_the_direct_events_share():
    """With only the direct events and their memory switched on, their share is the whole change of the tie."""
    off = tuple(t.name for t in TERM if t.name not in ("tie_events", "tie_event_memory"))
    ties, shares = _dispute(1.0, switched_off=off, attribution=True)
    np.testing.assert_allclose(shares[..., DRV.direct_events], ties - ties[:, :1], rtol=0, atol=1e-12)
    others = [k for k in range(len(DRIVER_GROUPS)) if k != DRV.direct_events]
    assert np.abs(shares[..., others]).max() < 1e-12
    assert (ties[:, :1] - ties[:, -1]).min() > 0.2  # and that change is the lasting one


def test_the_2019_dispute_stays_hostile_into_2020_only_with_memory():
    """history/gsomia_2019 (export controls, white lists, the GSOMIA notice): the record shows the relation
    hostile from August 2019 to May 2020; with memory more runs stay hostile in spring 2020 (CRN)."""
    base = load_scenario("history/gsomia_2019").params

    def hostile_share(share: float) -> float:
        p = base.model_copy(deep=True)
        p.population.size_per_ally = 0
        p.mechanisms.tie_event_persistent_share = share
        m = AllianceModel(p, replicate_ids=np.arange(200), months=p.simulation.months, collect=False,
                          attribution=False)
        c = m.compiled
        i, j = c.actors.index("JPN"), c.actors.index("KOR")
        while not m.finished:
            m.step()
        return float((m.state.ties[:, i, j] < 0).mean())

    without, with_memory = hostile_share(0.0), hostile_share(1.0)
    assert with_memory - without > 0.3, (without, with_memory)
