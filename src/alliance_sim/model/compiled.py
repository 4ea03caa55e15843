"""Parameters turned into arrays indexed by actor, ally, source and month.

The compiled step runs millions of times; it must not walk dictionaries or parse dates.  This module
does that once per run: actor order, ally indices, month-by-month schedules (tariffs, demands, threat
rates, scripted events) and the group sensitivities of citizens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from alliance_sim.model.calendar import month_labels, month_offset
from alliance_sim.model.parameters import Parameters
from alliance_sim.observation import mean_from_share

# Citizen groups and how strongly each reacts to each kind of shock (docs/model.md §7.6).
GROUPS = ("exporters", "security_minded", "nationalists", "general")
#                                 exporters  security  nationalists  general
GROUP_TARIFF_SENSITIVITY = np.array([1.5, 0.5, 1.5, 1.0])
GROUP_THREAT_SENSITIVITY = np.array([0.5, 1.5, 1.0, 1.0])
GROUP_BACKLASH_SENSITIVITY = np.array([0.5, 1.0, 2.0, 1.0])
GROUP_APPEAL_SENSITIVITY = np.array([2.0, 0.5, 0.2, 1.0])

US_OPTIONS = ("hold", "escalate_tariff", "relieve_tariff", "raise_demand")
ALLY_OPTIONS = ("hold", "concede", "hedge", "retaliate", "play_chip", "accommodate")
CHINA_OPTIONS = ("none", "induce", "coerce")
ADVERSARY_OPTIONS = ("restrain", "provoke")


def stationary_stock(rates: np.ndarray, magnitudes: np.ndarray, weights: np.ndarray,
                     proc_source: np.ndarray, n_sources: int, retention: float) -> np.ndarray:
    """Expected threat stock per (actor, source) when rates stay at ``rates``: Σ_k w_ki λ_k m_k / (1 − ρ).

    The start month's stock: a scenario starts in the threat environment its start-month rates imply."""
    flow = weights * (rates * magnitudes)[:, None]  # (K, n)
    out = np.zeros((weights.shape[1], n_sources))
    for k, s in enumerate(proc_source):
        out[:, s] += flow[k]
    return out / (1.0 - retention)


def citizen_groups(size: int, pop) -> np.ndarray:
    """Group index of each citizen, assigned by position so that shares are exact and draw-free."""
    shares = np.array([pop.share_exporters, pop.share_security_minded, pop.share_nationalists])
    bounds = np.cumsum(shares)
    position = (np.arange(size) + 0.5) / max(size, 1)
    return np.searchsorted(bounds, position, side="right").astype(np.int64)


def group_mix(pop) -> np.ndarray:
    """Population shares of the four groups (for the aggregate-opinion mode)."""
    s = [pop.share_exporters, pop.share_security_minded, pop.share_nationalists]
    return np.array(s + [1.0 - sum(s)])


@dataclass
class Compiled:
    """Everything the step needs, as arrays.  Built by :func:`compile_parameters`."""

    params: Parameters
    actors: list[str]
    allies: list[str]
    ally_idx: np.ndarray  # (A,) actor index of each ally
    patron: int
    challenger: int
    adversary_idx: np.ndarray  # (D,)
    pairs: list[tuple[int, int]]  # i < j
    pair_labels: list[str]
    alliance_pairs: np.ndarray  # (Q, 2) pairs among patron and allies: cohesion
    months: int
    month_labels: list[str]
    sources: list[str]
    source_actor: np.ndarray  # (S,) actor index of each threat source, -1 if not an actor
    proc_source: np.ndarray  # (K,) source index of each process
    proc_weights: np.ndarray  # (K, n) perception weight
    proc_rate: np.ndarray  # (T, K) rate per month
    proc_magnitude: np.ndarray  # (K,)
    proc_adversary: np.ndarray  # (K,) index into adversary_idx causing it, -1 if none
    initial_ties: np.ndarray  # (n, n)
    country_rate: np.ndarray  # (T, A) scheduled country tariff
    sector_rate: np.ndarray  # (T, A) share-weighted sector tariff contribution
    country_weight: np.ndarray  # (A,) share of exports to patron paying the country rate
    demand: np.ndarray  # (T, A) scheduled demand, % GDP
    exports_to_gdp: np.ndarray
    share_us0: np.ndarray
    share_cn0: np.ndarray
    defense0: np.ndarray
    reliability0: np.ndarray
    entrapment: np.ndarray
    orientation0: np.ndarray
    hawk: np.ndarray
    conciliatory: np.ndarray
    latitude: np.ndarray
    fav_us0: np.ndarray  # (1 + start mean opinion of the patron) / 2: the step starts citizens at 2·fav_us0 − 1
    fav_cn0: np.ndarray  # the same for the challenger (see _opinion_code)
    election: np.ndarray  # (T, A) bool
    chip: np.ndarray  # (A,) bool: has a chip
    chip_from: np.ndarray  # (A,) first month index it can be played
    chip_base: np.ndarray
    chip_pain: np.ndarray
    chip_effort: np.ndarray
    chip_tie: np.ndarray
    chip_bonus: np.ndarray
    chip_months: np.ndarray
    provocation_multiplier: np.ndarray  # (D,)
    ev_threat: np.ndarray  # (T, n, S) scripted threat additions
    ev_reassure: np.ndarray  # (T, A)
    ev_leader: np.ndarray  # (T, A) new orientation, NaN = no change
    ev_induce: np.ndarray  # (T, A) bool
    ev_coerce: np.ndarray  # (T, A) bool
    ev_tie: np.ndarray  # (T, n, n) direct events' impulses on the ties (symmetric)
    event_marks: list[tuple[int, str]] = field(default_factory=list)  # (month index, label)
    retention: float = 1.0  # monthly retention of the threat stock, 2^(-1/half-life)
    stock0: np.ndarray | None = None  # (n, S) stationary threat stock under the start-month rates
    # Parameter blocks read by the step (packed by drivers.Packed): the pydantic blocks themselves, or, for a batch of
    # parameter points (model/batching.py), namespaces whose varying fields are (R, 1) arrays.
    mech: Any = None
    pop: Any = None
    upol: Any = None
    apol: Any = None
    cpol: Any = None
    advpol: Any = None

    def __post_init__(self):
        p = self.params
        self.mech = self.mech if self.mech is not None else p.mechanisms
        self.pop = self.pop if self.pop is not None else p.population
        self.upol = self.upol if self.upol is not None else p.us_policy
        self.apol = self.apol if self.apol is not None else p.ally_policy
        self.cpol = self.cpol if self.cpol is not None else p.china_policy
        self.advpol = self.advpol if self.advpol is not None else p.adversary_policy
        if self.stock0 is None:
            self.stock0 = stationary_stock(self.proc_rate[0], self.proc_magnitude, self.proc_weights,
                                           self.proc_source, len(self.sources), self.retention)

    # Index arrays the recorders read every month: derived once, not per step.
    @cached_property
    def pair_i(self) -> np.ndarray:
        return np.array([i for i, _ in self.pairs], dtype=np.int64)

    @cached_property
    def pair_j(self) -> np.ndarray:
        return np.array([j for _, j in self.pairs], dtype=np.int64)

    @cached_property
    def citizen_group(self) -> np.ndarray:
        """Group index of each citizen (population size and shares are structural, so one array)."""
        return citizen_groups(self.pop.size_per_ally, self.pop)

    @property
    def n(self) -> int:
        return len(self.actors)

    @property
    def n_allies(self) -> int:
        return len(self.allies)


def _schedule(steps, start: str, months: int, initial: float = 0.0) -> np.ndarray:
    """Piecewise-constant series: the latest step at or before each month (steps before start count)."""
    out = np.full(months, initial, dtype=np.float64)
    for when, value in sorted(steps, key=lambda s: month_offset(start, s[0])):
        k = month_offset(start, when)
        out[max(k, 0):] = value
    return out


def _opinion_code(share: np.ndarray, spread: float) -> np.ndarray:
    """What the step reads as ``fav_*0`` so that its start opinion ``2·fav − 1`` is σ·Φ⁻¹(share).

    The observation model (``alliance_sim.observation``) reports the favourable share of a population
    spread with SD σ around mean x as Φ(x/σ); starting at x = σ·Φ⁻¹(share) makes the model's month-0
    share equal to the surveyed share the scenario gives (docs/model.md §5.1)."""
    return 0.5 * (1.0 + mean_from_share(share, spread))


def compile_parameters(params: Parameters, months: int | None = None) -> Compiled:
    """Build the arrays for a run of ``months`` months (default: the scenario's horizon)."""
    sim = params.simulation
    T = months if months is not None else sim.months
    start = sim.start
    actors = list(params.actors)
    index = {a: i for i, a in enumerate(actors)}
    allies = params.allies
    A = len(allies)
    n = len(actors)
    ally_idx = np.array([index[a] for a in allies], dtype=np.int64)
    adversaries = params.adversaries
    adv_idx = np.array([index[a] for a in adversaries], dtype=np.int64)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    pair_labels = [f"{actors[i]}-{actors[j]}" for i, j in pairs]
    members = [index[params.patron]] + list(ally_idx)
    alliance_pairs = np.array([(i, j) for k, i in enumerate(members) for j in members[k + 1:]],
                              dtype=np.int64)

    ties = np.zeros((n, n))
    for key, v in params.ties.items():
        a, b = key.split("-")
        ties[index[a], index[b]] = ties[index[b], index[a]] = v

    # Threat sources: every process source, every scripted-threat source, and the challenger.
    sources: list[str] = []
    for proc in params.threats.values():
        if proc.source not in sources:
            sources.append(proc.source)
    for ev in params.events:
        if ev.kind == "threat":
            src = ev.source or "other"
            if src not in sources:
                sources.append(src)
    if params.challenger not in sources:
        sources.append(params.challenger)
    S = len(sources)
    src_index = {s: k for k, s in enumerate(sources)}
    source_actor = np.array([index.get(s, -1) for s in sources], dtype=np.int64)
    procs = list(params.threats.values())
    K = len(procs)
    proc_source = np.array([src_index[p.source] for p in procs], dtype=np.int64)
    proc_weights = np.zeros((K, n))
    proc_rate = np.zeros((T, K))
    proc_mag = np.array([p.mean_magnitude for p in procs], dtype=np.float64)
    adv_pos = {a: k for k, a in enumerate(adversaries)}
    proc_adv = np.array([adv_pos.get(p.source, -1) for p in procs], dtype=np.int64)
    for k, p in enumerate(procs):
        for tgt, w in p.targets.items():
            proc_weights[k, index[tgt]] = w
        proc_rate[:, k] = _schedule([(s.month, s.rate_per_month) for s in p.rate_schedule], start, T,
                                    p.rate_per_month)

    marks: list[tuple[int, str]] = []
    country = np.zeros((T, A))
    sector = np.zeros((T, A))
    country_weight = np.zeros(A)
    for a_i, name in enumerate(allies):
        actor = params.actors[name]
        steps = [s for s in params.tariffs if s.target == name]
        country[:, a_i] = _schedule([(s.month, s.rate) for s in steps if s.sector == "country"],
                                    start, T)
        for sec, share in actor.sector_shares.items():
            rate = _schedule([(s.month, s.rate) for s in steps if s.sector == sec], start, T)
            sector[:, a_i] += share * rate
        country_weight[a_i] = 1.0 - sum(actor.sector_shares.values())
    for s in params.tariffs:
        k = month_offset(start, s.month)
        if s.label and 0 <= k < T:
            marks.append((k, s.label))

    demand = np.zeros((T, A))
    for a_i, name in enumerate(allies):
        actor = params.actors[name]
        demand[:, a_i] = _schedule([(d.month, d.defense_gdp) for d in params.demands
                                    if d.target == name], start, T, actor.defense_spending_gdp)
    for d in params.demands:
        k = month_offset(start, d.month)
        if d.label and 0 <= k < T:
            marks.append((k, d.label))
    for p in procs:
        for s in p.rate_schedule:
            k = month_offset(start, s.month)
            if s.label and 0 <= k < T:
                marks.append((k, s.label))

    def ally_vec(f):
        return np.array([f(params.actors[a]) for a in allies], dtype=np.float64)

    election = np.zeros((T, A), dtype=bool)
    chip_from = np.zeros(A, dtype=np.int64)
    for a_i, name in enumerate(allies):
        for m in params.actors[name].elections:
            k = month_offset(start, m)
            if 0 <= k < T:
                election[k, a_i] = True
                marks.append((k, f"{name} election"))
        chip = params.actors[name].bargaining_chip
        if chip is not None and chip.available_from:
            chip_from[a_i] = month_offset(start, chip.available_from)

    def chip_vec(f, default=0.0):
        return np.array([f(params.actors[a].bargaining_chip) if params.actors[a].bargaining_chip
                         else default for a in allies], dtype=np.float64)

    ev_threat = np.zeros((T, n, S))
    ev_reassure = np.zeros((T, A))
    ev_leader = np.full((T, A), np.nan)
    ev_induce = np.zeros((T, A), dtype=bool)
    ev_coerce = np.zeros((T, A), dtype=bool)
    ev_tie = np.zeros((T, n, n))
    ally_pos = {a: k for k, a in enumerate(allies)}
    for ev in params.events:
        k = month_offset(start, ev.month)
        if not 0 <= k < T:
            continue
        if ev.label:
            marks.append((k, ev.label))
        if ev.kind == "tie":
            i, j = index[ev.targets[0]], index[ev.targets[1]]
            ev_tie[k, i, j] += ev.magnitude
            ev_tie[k, j, i] += ev.magnitude
            continue
        for tgt in ev.targets:
            if ev.kind == "threat":
                ev_threat[k, index[tgt], src_index[ev.source or "other"]] += ev.magnitude
            elif ev.kind == "reassurance":
                ev_reassure[k, ally_pos[tgt]] += ev.magnitude
            elif ev.kind == "leader":
                ev_leader[k, ally_pos[tgt]] = ev.orientation
            elif ev.kind == "inducement":
                ev_induce[k, ally_pos[tgt]] = True
            elif ev.kind == "coercion":
                ev_coerce[k, ally_pos[tgt]] = True

    half_life = params.mechanisms.threat_half_life_months
    spread = params.population.opinion_spread
    return Compiled(
        params=params, actors=actors, allies=allies, ally_idx=ally_idx, patron=index[params.patron],
        challenger=index[params.challenger], adversary_idx=adv_idx, pairs=pairs,
        pair_labels=pair_labels, alliance_pairs=alliance_pairs, months=T,
        month_labels=month_labels(start, T), sources=sources, source_actor=source_actor,
        proc_source=proc_source, proc_weights=proc_weights, proc_rate=proc_rate,
        proc_magnitude=proc_mag, proc_adversary=proc_adv, initial_ties=ties,
        country_rate=country, sector_rate=sector, country_weight=country_weight, demand=demand,
        exports_to_gdp=ally_vec(lambda a: a.exports_to_gdp),
        share_us0=ally_vec(lambda a: a.export_share_us),
        share_cn0=ally_vec(lambda a: a.export_share_china),
        defense0=ally_vec(lambda a: a.defense_spending_gdp),
        reliability0=ally_vec(lambda a: a.initial_reliability),
        entrapment=ally_vec(lambda a: a.entrapment_sensitivity),
        orientation0=ally_vec(lambda a: a.leader_orientation),
        hawk=ally_vec(lambda a: a.hawk_orientation),
        conciliatory=ally_vec(lambda a: a.conciliatory_orientation),
        latitude=ally_vec(lambda a: a.leader_latitude),
        fav_us0=_opinion_code(ally_vec(lambda a: a.public.favorable_us_share), spread),
        fav_cn0=_opinion_code(ally_vec(lambda a: a.public.favorable_china_share), spread),
        election=election,
        chip=np.array([params.actors[a].bargaining_chip is not None for a in allies]),
        chip_from=chip_from,
        chip_base=chip_vec(lambda c: c.base_utility),
        chip_pain=chip_vec(lambda c: c.tariff_pain_weight),
        chip_effort=chip_vec(lambda c: c.defense_effort_increase),
        chip_tie=chip_vec(lambda c: c.tie_impulse_us),
        chip_bonus=chip_vec(lambda c: c.us_relief_bonus),
        chip_months=chip_vec(lambda c: c.bonus_months),
        provocation_multiplier=np.array([params.actors[a].provocation_rate_multiplier
                                         for a in adversaries], dtype=np.float64),
        ev_threat=ev_threat, ev_reassure=ev_reassure, ev_leader=ev_leader, ev_induce=ev_induce,
        ev_coerce=ev_coerce, ev_tie=ev_tie, event_marks=sorted(marks), retention=0.5 ** (1.0 / half_life),
    )
