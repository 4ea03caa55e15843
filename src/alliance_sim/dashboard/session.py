"""One visitor's model: the scenario, the dashboard's settings on top of it, and the history so far.

Each browser session owns a :class:`Session` (built in the page's state, never at import), so two
visitors never see or move each other's world.  Settings are applied to a copy of the scenario's
parameters, validated like a scenario file; with every setting at its default the run is the
shipped scenario exactly (same seed, same numbers as ``alliance run``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from alliance_sim.dashboard.explain import Entry, explain
from alliance_sim.model.calendar import month_labels
from alliance_sim.model.compiled import compile_parameters
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import Parameters, TariffStep

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass
class Settings:
    """What the sliders set, as changes to the scenario (defaults: the scenario unchanged).

    ``extra_tariff``: percentage points added to the scenario's US country tariff on each ally, in every
    month (so its dated tariff steps stay); ``threat_scale``: multiplier of each threat process's rate
    (and of its dated rate changes); ``leader``: each ally's leader orientation at the start (later
    leader events of the scenario still happen); ``induce`` / ``coerce``: China's base utilities.
    ``None`` means "as in the scenario"."""

    replicates: int = 1000
    seed: int | None = None
    extra_tariff: dict[str, float] = field(default_factory=dict)  # ally -> percentage points
    threat_scale: dict[str, float] = field(default_factory=dict)  # threat process -> factor
    leader: dict[str, float] = field(default_factory=dict)  # ally -> orientation (-1 .. 1)
    induce: float | None = None
    coerce: float | None = None

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)


def apply_settings(params: Parameters, settings: Settings) -> Parameters:
    """A validated copy of ``params`` with the dashboard's settings applied."""
    start = params.simulation.start
    base = compile_parameters(params)
    raw = params.model_dump(mode="python")
    tariffs = list(raw["tariffs"])
    for ally, pp in settings.extra_tariff.items():
        if not pp:
            continue
        a = base.allies.index(ally)
        extra = float(pp) / 100.0
        for step in tariffs:
            if step["target"] == ally and step["sector"] == "country":
                step["rate"] = float(np.clip(step["rate"] + extra, 0.0, 2.0))
        # the rate in force at the start (set before it, or none) gets the extra too
        in_force = float(base.country_rate[0, a])
        tariffs.insert(0, TariffStep(month=start, target=ally, rate=float(np.clip(in_force + extra, 0.0, 2.0)))
                       .model_dump(mode="python"))
    raw["tariffs"] = tariffs  # the compiler orders steps by month (stably: the one added at the start first)
    for name, factor in settings.threat_scale.items():
        proc = raw["threats"][name]
        proc["rate_per_month"] = min(50.0, proc["rate_per_month"] * float(factor))
        for step in proc["rate_schedule"]:
            step["rate_per_month"] = min(50.0, step["rate_per_month"] * float(factor))
    for ally, value in settings.leader.items():
        raw["actors"][ally]["leader_orientation"] = float(value)
    if settings.induce is not None:
        raw["china_policy"]["induce_base_utility"] = float(settings.induce)
    if settings.coerce is not None:
        raw["china_policy"]["coerce_base_utility"] = float(settings.coerce)
    raw["simulation"]["replicates"] = int(settings.replicates)
    if settings.seed is not None:
        raw["simulation"]["seed"] = int(settings.seed)
    return Parameters.model_validate(raw)


@dataclass
class Snapshot:
    """What the charts need of one month: quantiles over replicates, not the replicates themselves."""

    alignment_q: np.ndarray  # (quantile, ally)
    crossed: np.ndarray  # (ally,) share of replicates that have been on Beijing's side at least once
    cohesion_q: np.ndarray  # (quantile,)
    ties_median: np.ndarray  # (n, n)


class Session:
    """A scenario, its settings, the model stepped month by month and what the page shows."""

    def __init__(self, scenario, settings: Settings | None = None):
        self.scenario = scenario  # an alliance_sim.scenario.Scenario
        self.settings = settings or Settings()
        self.reset()

    # -- building --------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the first month with the current settings (same seed: the same worlds)."""
        self.generation = getattr(self, "generation", 0) + 1  # a new model: charts are built anew
        self.params = apply_settings(self.scenario.params, self.settings)
        self.model = AllianceModel(self.params, seed=self.params.simulation.seed, collect=False)
        c = self.model.compiled
        self.labels = month_labels(self.params.simulation.start, c.months + 1)  # state k = start + k
        self.crossed_ever = np.zeros(c.n_allies, dtype=bool)[None, :].repeat(self.model.state.replicates, axis=0)
        self.history: list[Snapshot] = []
        self.log: list[Entry] = []
        self.step_seconds = 0.0
        self._record()

    def change(self, **settings_changes) -> None:
        """New settings; the run restarts and replays to the month it had reached."""
        month = self.month
        self.settings = self.settings.replace(**settings_changes)
        self.reset()
        self.advance(month)

    def load(self, scenario) -> None:
        """Another scenario, with the settings that are not scenario-specific kept."""
        self.scenario = scenario
        self.settings = Settings(replicates=self.settings.replicates, seed=self.settings.seed)
        self.reset()

    # -- stepping --------------------------------------------------------------------------
    @property
    def month(self) -> int:
        return self.model.state.month

    @property
    def finished(self) -> bool:
        return self.model.finished

    def step(self) -> bool:
        """One month for every replicate; False at the horizon."""
        if self.model.finished:
            return False
        t0 = time.perf_counter()
        before = self.model.state.copy()
        self.model.step()
        self.log = explain(self.model.compiled, before, self.model.last_decisions, _display_name)
        self._record()
        self.step_seconds = time.perf_counter() - t0
        return True

    def advance(self, months: int) -> None:
        for _ in range(months):
            if not self.step():
                break

    def _record(self) -> None:
        s = self.model.state
        self.crossed_ever |= s.alignment < 0
        self.history.append(Snapshot(alignment_q=np.quantile(s.alignment, QUANTILES, axis=0),
                                     crossed=self.crossed_ever.mean(axis=0),
                                     cohesion_q=np.quantile(s.cohesion, QUANTILES),
                                     ties_median=np.median(s.ties, axis=0)))

    # -- what is shown ---------------------------------------------------------------------
    def events(self) -> list[tuple[int, str]]:
        """(month index, label) of the scenario's dated events within the horizon."""
        return list(self.model.compiled.event_marks)

    def month_label(self, k: int | None = None) -> str:
        return self.labels[self.month if k is None else k]


def _display_name(code: str) -> str:
    from alliance_sim.plots import actor_name

    return actor_name(code)
