"""Differential test: the compiled step against the plain-Mesa reference model, replicate by replicate.

The reference (alliance_sim.reference) restates every rule in scalar Python without calling the
compiled step, and takes the same counter-based draws as replicate r of the ensemble.  Any
divergence of a recorded variable beyond rounding, or of a single decision, means one of the two
implements a rule differently.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from builders import with_north_korea

from alliance_sim.model.compiled import (
    ADVERSARY_OPTIONS,
    ALLY_OPTIONS,
    CHINA_OPTIONS,
    US_OPTIONS,
    compile_parameters,
)
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import (
    BargainingChip,
    DemandStep,
    Parameters,
    RateStep,
    ScriptedEvent,
    TariffStep,
)
from alliance_sim.reference import ReferenceModel

MONTHS = 36
REPLICATES = 3
SEED = 20250711
TOL = 1e-9
ALLY_VARS = ("alignment", "tariff", "demand", "pain", "gap", "reliability", "public", "stance",
             "orientation", "effort", "exports_us", "exports_cn")


def _small(p: Parameters, citizens: int = 12) -> Parameters:
    p.population.size_per_ally = citizens
    return p


def default_params() -> Parameters:
    return _small(Parameters())


def aggregate_params() -> Parameters:
    return _small(Parameters(), 0)


def events_params() -> Parameters:
    p = _small(Parameters())
    p.events = [
        ScriptedEvent(month="2025-09", kind="threat", targets=["KOR", "JPN"], magnitude=0.6, source="PRK"),
        ScriptedEvent(month="2025-10", kind="threat", targets=["JPN"], magnitude=0.3),  # source "other"
        ScriptedEvent(month="2025-11", kind="reassurance", targets=["KOR"], magnitude=0.8),
        ScriptedEvent(month="2026-01", kind="leader", targets=["JPN"], orientation=0.9),
        ScriptedEvent(month="2026-02", kind="coercion", targets=["KOR"]),
        ScriptedEvent(month="2026-03", kind="inducement", targets=["JPN"]),
        ScriptedEvent(month="2026-05", kind="threat", targets=["KOR"], magnitude=0.4, source="CHN"),
        ScriptedEvent(month="2025-10", kind="tie", targets=["JPN", "KOR"], magnitude=-0.3),  # a dispute
        ScriptedEvent(month="2026-04", kind="tie", targets=["CHN", "KOR"], magnitude=0.2),  # a summit
    ]
    p.mechanisms.tie_event_persistent_share = 0.8  # the pairs remember them (0 by default)
    return p


def schedules_params() -> Parameters:
    p = _small(Parameters())
    p.tariffs = [
        TariffStep(month="2025-05", target="KOR", rate=0.10),  # before the start: in force from month 0
        TariffStep(month="2025-08", target="KOR", rate=0.25),
        TariffStep(month="2025-09", target="KOR", sector="autos", rate=0.25),
        TariffStep(month="2025-08", target="JPN", rate=0.15),
        TariffStep(month="2026-02", target="JPN", sector="steel", rate=0.5),
        TariffStep(month="2026-06", target="JPN", rate=0.05),
    ]
    p.demands = [DemandStep(month="2025-10", target="KOR", defense_gdp=3.5),
                 DemandStep(month="2026-01", target="JPN", defense_gdp=5.0)]
    p.threats["china_grey_zone"].rate_schedule = [RateStep(month="2026-01", rate_per_month=8.0)]
    p.mechanisms.trade_shock_sd = 0.007  # exogenous trade moves (0 by default) on top of the tariffs' own
    return p


def chip_elections_params() -> Parameters:
    p = _small(Parameters())
    p.actors["KOR"].bargaining_chip = BargainingChip(available_from="2025-10", base_utility=-1.0)
    p.actors["KOR"].elections = ["2026-06"]
    p.actors["JPN"].elections = ["2025-12", "2027-01"]
    p.tariffs = [TariffStep(month="2025-08", target="KOR", rate=0.25)]
    return p


def adversary_params() -> Parameters:
    return with_north_korea(_small(Parameters(), 15))


def scripted_policies_params() -> Parameters:
    p = _small(Parameters(), 10)
    p.us_policy.mode = "scripted"
    p.china_policy.mode = "scripted"
    p.mechanisms.tie_noise_sd = 0.0
    p.tariffs = [TariffStep(month="2025-08", target="JPN", rate=0.25)]
    p.events = [ScriptedEvent(month="2025-12", kind="coercion", targets=["JPN", "KOR"])]
    return p


def retaliation_params() -> Parameters:
    """Tariffs the allies answer in kind: retaliation (rare under the defaults) happens every few months."""
    p = _small(Parameters(), 8)
    p.tariffs = [TariffStep(month="2025-08", target="KOR", rate=0.25), TariffStep(month="2025-08", target="JPN",
                                                                                  rate=0.25)]
    p.ally_policy.retaliate_base_utility = 0.5
    p.us_policy.mode = "transactional"
    p.mechanisms.quasi_alliance_weight = 1.5  # Cha's quasi-alliance (0 by default) is compared here
    return p


def accommodation_params() -> Parameters:
    """China coerces often and the allies accommodate it (rare under the defaults) every few months."""
    p = _small(Parameters(), 8)
    p.china_policy.mode = "behavioural"
    p.china_policy.coerce_base_utility = -1.0
    p.ally_policy.accommodate_base_utility = -1.5
    return p


SCENARIOS = {f.__name__.removesuffix("_params"): f for f in (
    default_params, aggregate_params, events_params, schedules_params, chip_elections_params,
    adversary_params, scripted_policies_params, retaliation_params, accommodation_params)}


def engine_records(params: Parameters, replicates: int, seed: int, months: int,
                   switched_off: tuple[str, ...] = ()) -> list[dict]:
    """The compiled step's per-month state and choices (month 0 = initial state, no choices)."""
    model = AllianceModel(params, replicate_ids=np.arange(replicates), seed=seed, months=months, collect=False,
                          switched_off=switched_off)
    out = []
    for t in range(months + 1):
        if t:
            model.step()
        s, d = model.state, model.last_decisions
        out.append({"state": s.select(slice(None)), "decisions": d})
    return out


def reference_records(params: Parameters, replicate: int, seed: int, months: int) -> list[dict]:
    """The reference's DataCollector rows, one per month."""
    model = ReferenceModel(params=params, replicate=replicate, seed=seed, months=months)
    while model.running:
        model.step()
    mv = model.datacollector.model_vars
    return [{k: v[t] for k, v in mv.items()} for t in range(months + 1)]


def compare(params: Parameters, replicates: int = REPLICATES, seed: int = SEED, months: int = MONTHS,
            reference_params: Parameters | None = None, switched_off: tuple[str, ...] = (),
            references: list | None = None) -> tuple[float, int, dict]:
    """(largest numeric difference, number of differing decisions, counts of each decision taken).

    ``switched_off`` leaves terms out of the compiled step (the mutation test); ``references`` are the
    reference's records of each replicate, if already computed."""
    eng = engine_records(params, replicates, seed, months, switched_off)
    c = compile_parameters(params, months)
    worst, mismatched, taken = 0.0, 0, {}
    for r in range(replicates):
        ref = references[r] if references is not None else \
            reference_records(reference_params or params, r, seed, months)
        assert len(ref) == months + 1
        for t in range(months + 1):
            s, rec = eng[t]["state"], ref[t]
            assert rec["month"] == t
            diffs = [abs(s.ties[r, i, j] - rec["ties"][lab])
                     for (i, j), lab in zip(c.pairs, c.pair_labels, strict=True)]
            diffs += [abs(s.cohesion[r] - rec["cohesion"])]
            diffs += [abs(s.threat[r, i] - rec["threat"][name]) for i, name in enumerate(c.actors)]
            for var in ALLY_VARS:
                diffs += [abs(getattr(s, var)[r, a] - rec[var][name]) for a, name in enumerate(c.allies)]
            worst = max(worst, *diffs)
            if t == 0:
                assert rec["decisions"] is None
                continue
            d, got = eng[t]["decisions"], rec["decisions"]
            pairs = []
            for a, name in enumerate(c.allies):
                pairs += [("patron", US_OPTIONS[d.us[r, a]], got["patron"][name]),
                          ("ally", ALLY_OPTIONS[d.ally[r, a]], got["ally"][name]),
                          ("challenger", CHINA_OPTIONS[d.china[r, a]], got["challenger"][name])]
            for k, name in enumerate(c.actors[i] for i in c.adversary_idx):
                pairs.append(("adversary", ADVERSARY_OPTIONS[d.adversary[r, k]], got["adversary"][name]))
            for who, expected, actual in pairs:
                mismatched += expected != actual
                taken[(who, expected)] = taken.get((who, expected), 0) + 1
    return worst, mismatched, taken


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_engine_matches_reference(name):
    worst, mismatched, taken = compare(SCENARIOS[name]())
    assert mismatched == 0, f"{mismatched} decisions differ"
    assert worst < TOL, f"largest difference {worst:g}"
    # The comparison is only informative if agents actually did something besides holding.
    assert len(taken) >= 5, taken


def test_scenarios_exercise_their_features():
    """Each special scenario really triggers what it is there to test (else the match proves little)."""
    _, _, chip = compare(chip_elections_params(), replicates=4, months=MONTHS)
    assert chip.get(("ally", "play_chip"), 0) > 0
    _, _, adv = compare(adversary_params(), replicates=2, months=24)
    assert adv.get(("adversary", "provoke"), 0) > 0 and adv.get(("adversary", "restrain"), 0) > 0
    _, _, acc = compare(accommodation_params(), replicates=2, months=24)
    assert acc.get(("ally", "accommodate"), 0) > 0 and acc.get(("challenger", "coerce"), 0) > 0
    _, _, events = compare(events_params(), replicates=1, months=12)
    assert events.get(("challenger", "coerce"), 0) >= 1 and events.get(("challenger", "induce"), 0) >= 1


def test_comparison_detects_a_changed_rule():
    """A reference run with a different rule weight must fail the comparison (the test has teeth)."""
    p = default_params()
    altered = p.model_copy(deep=True)
    altered.mechanisms.balance_weight = p.mechanisms.balance_weight * 1.01
    worst, _, _ = compare(p, replicates=1, months=12, reference_params=altered)
    assert worst > 1e-6


def test_reference_is_independent_of_the_engine():
    """The oracle must not use the engine, the mechanisms or the ensemble Mesa model it checks."""
    import ast
    from pathlib import Path

    import alliance_sim.reference

    forbidden = ("alliance_sim.model.step", "alliance_sim.model.drivers", "alliance_sim.model.layout",
                 "alliance_sim.model.state", "alliance_sim.model.model", "alliance_sim.model.agents")
    for path in Path(alliance_sim.reference.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.startswith(forbidden)], f"{path.name} imports {names}"
    code = "import sys, alliance_sim.reference; sys.exit('alliance_sim.model.step' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
