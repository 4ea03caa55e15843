"""A scenario's assumptions and dated events in plain words, for the report's reader.

The words are derived from the validated ``Parameters`` (not from the TOML text), so they state what the
model was actually given: defaults the file did not mention included, ``--set`` overrides applied.
Month arithmetic is the model's own (:mod:`alliance_sim.model.calendar`): schedule steps before the
start are in force from the first month, dated events outside the horizon are not applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alliance_sim.model.calendar import add_months, month_offset
from alliance_sim.model.parameters import Parameters
from alliance_sim.plots import actor_name, month_tick_label


@dataclass(frozen=True)
class Topic:
    """One heading of the assumptions with its sentences."""

    title: str
    items: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DatedEvent:
    """One dated entry of the scenario's timeline."""

    month: str  # "2025-08"
    what: str  # plain sentence
    note: str = ""  # the scenario's own label, if any
    offset: int = 0  # months after the start (negative: before it)
    months: int = 1  # the horizon
    schedule: bool = False  # a schedule step (tariff, demand, rate): if before the start, in force from it

    @property
    def when(self) -> str:
        return month_tick_label(self.month)

    @property
    def in_horizon(self) -> bool:
        return 0 <= self.offset < self.months

    @property
    def status(self) -> str:
        """'' inside the horizon, else why the entry does or does not act."""
        if self.in_horizon:
            return ""
        if self.offset < 0:
            return "before the start: in force from the first month" if self.schedule else \
                "before the start: not simulated"
        return "after the horizon: not simulated"


# ------------------------------------------------------------------------------------------ words


def percent(fraction: float) -> str:
    """0.25 -> '25%', 0.035 -> '3.5%'."""
    return f"{100 * fraction:.3g}%" if abs(fraction) >= 0.001 else f"{100 * fraction:.2g}%"


def points(fraction: float) -> str:
    """A change of a rate: 0.05 -> '5 percentage points'."""
    return f"{100 * fraction:.3g} percentage points"


def number(value: float) -> str:
    return f"{value:.3g}"


def signed(value: float) -> str:
    return f"{value:+.2g}".replace("-", "−")


def orientation_words(value: float) -> str:
    """A leader's stance (−1 conciliatory … +1 hawkish) in words."""
    if value <= -0.6:
        words = "strongly conciliatory toward Beijing"
    elif value <= -0.15:
        words = "leaning conciliatory toward Beijing"
    elif value < 0.15:
        words = "neither hawkish nor conciliatory toward Beijing"
    elif value < 0.6:
        words = "leaning hawkish toward Beijing"
    else:
        words = "hawkish toward Beijing"
    return f"{words} ({signed(value)} on a scale from −1 conciliatory to +1 hawkish)"


def names(codes) -> str:
    """['JPN', 'KOR'] -> 'Japan and South Korea'."""
    shown = [actor_name(c) for c in codes]
    if not shown:
        return "nobody"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


THREAT_NAMES = {"nk_provocations": "North Korean provocations", "china_grey_zone": "Chinese grey-zone activity",
                "russia_nk_cooperation": "Russia–North Korea cooperation"}


def threat_name(key: str, source: str = "") -> str:
    """'nk_provocations' -> 'North Korean provocations'; an unknown key is shown with spaces."""
    name = THREAT_NAMES.get(key) or key.replace("_", " ").strip().capitalize()
    return name + (f" (from {actor_name(source)})" if source and actor_name(source) not in name else "")


def sentence(text: str) -> str:
    """``text`` with its first letter in upper case (``str.capitalize`` would lower the rest)."""
    return text[:1].upper() + text[1:]


def _when(month: str, start: str) -> str:
    if month_offset(start, month) <= 0:
        return f"from {month_tick_label(month)} (in force at the start)"
    return f"from {month_tick_label(month)}"


def schedule_words(steps, start: str, value) -> str:
    """'10% at the start (since Apr 2025), 25% from Aug 2025 (label)': of the steps at or before the start
    only the last is in force; ``value(step)`` formats a step's level."""
    steps = sorted(steps, key=lambda s: month_offset(start, s.month))
    before = [s for s in steps if month_offset(start, s.month) <= 0]
    parts = []
    if before:
        s = before[-1]
        note = f"since {month_tick_label(s.month)}" + (f"; {s.label}" if s.label else "")
        parts.append(f"{value(s)} at the start ({note})")
    for s in steps[len(before):]:
        parts.append(f"{value(s)} from {month_tick_label(s.month)}" + (f" ({s.label})" if s.label else ""))
    return ", ".join(parts)


# ------------------------------------------------------------------------------------ assumptions


def assumptions(params: Parameters, overrides: dict | None = None) -> list[Topic]:
    """The scenario's assumptions, topic by topic, in plain sentences."""
    sim = params.simulation
    end = add_months(sim.start, sim.months - 1)
    allies = params.allies
    topics = [Topic("Period", [f"Monthly steps from {month_tick_label(sim.start)} to {month_tick_label(end)} "
                               f"({sim.months} months)."])]
    topics.append(Topic("US tariffs", _tariffs(params)))
    topics.append(Topic("Burden-sharing demands", _demands(params)))
    topics.append(Topic("Leaders and elections", [_leader(params, a) for a in allies]))
    topics.append(Topic("Threats", _threats(params)))
    topics.append(Topic("US policy", [_us_policy(params)]))
    topics.append(Topic("China's strategy", [_china_policy(params)]))
    others = _adversaries(params) + _chips(params)
    if others:
        topics.append(Topic("Other moves", others))
    topics.append(Topic("Trade exposure", [
        f"{actor_name(a)} exports goods worth {percent(params.actors[a].exports_to_gdp)} of its GDP; "
        f"{percent(params.actors[a].export_share_us)} of them go to the US and "
        f"{percent(params.actors[a].export_share_china)} to China." for a in allies]))
    if overrides:
        topics.append(Topic("Changed on the command line (--set)",
                            [f"{key} = {value!r}" for key, value in overrides.items()]))
    return topics


def _tariffs(params: Parameters) -> list[str]:
    start = params.simulation.start
    out = []
    for ally in params.allies:
        actor = params.actors[ally]
        sectors = ["country"] + sorted({s.sector for s in params.tariffs if s.target == ally} - {"country"})
        for sector in sectors:
            steps = sorted((s for s in params.tariffs if s.target == ally and s.sector == sector),
                           key=lambda s: month_offset(start, s.month))
            if not steps:
                continue
            if sector == "country":
                what = "all goods" if not actor.sector_shares else "all other goods"
            else:
                what = f"{sector} ({percent(actor.sector_shares.get(sector, 0.0))} of its exports to the US)"
            out.append(f"{actor_name(ally)}, {what}: {schedule_words(steps, start, lambda s: percent(s.rate))}.")
    return out or ["No US tariffs on the allies."]


def _demands(params: Parameters) -> list[str]:
    start = params.simulation.start
    out = []
    for d in sorted(params.demands, key=lambda d: (month_offset(start, d.month), d.target)):
        now = params.actors[d.target].defense_spending_gdp
        out.append(f"{sentence(_when(d.month, start))} the US asks {actor_name(d.target)} to spend "
                   f"{number(d.defense_gdp)}% of GDP on defence (it spends {number(now)}% at the start)"
                   + (f" — {d.label}." if d.label else "."))
    return out or ["No US demands beyond the allies' current defence effort."]


def _leader(params: Parameters, ally: str) -> str:
    actor = params.actors[ally]
    text = f"{actor_name(ally)}: the leader at the start is {orientation_words(actor.leader_orientation)}."
    if actor.elections:
        dates = ", ".join(month_tick_label(m) for m in actor.elections)
        text += (f" Elections: {dates}; the winner is hawkish ({signed(actor.hawk_orientation)}) or conciliatory "
                 f"({signed(actor.conciliatory_orientation)}), more likely the side public opinion favours.")
    changes = [e for e in params.events if e.kind == "leader" and ally in e.targets]
    if changes:
        text += " Scripted leader changes: " + "; ".join(
            f"{month_tick_label(e.month)}, {orientation_words(e.orientation).split(' (')[0]}"
            + (f" ({e.label})" if e.label else "") for e in changes) + "."
    return text


def _threats(params: Parameters) -> list[str]:
    start = params.simulation.start
    out = []
    for key, proc in params.threats.items():
        felt = ", ".join(f"{actor_name(t)} ({percent(w)})" for t, w in
                         sorted(proc.targets.items(), key=lambda kv: -kv[1]) if w > 0) or "nobody"
        text = (f"{threat_name(key, proc.source)}: on average {number(proc.rate_per_month)} events a month, "
                f"felt by {felt}.")
        if proc.rate_schedule:
            text += " Rate: " + schedule_words(proc.rate_schedule, start,
                                               lambda s: f"{number(s.rate_per_month)} a month") + "."
        out.append(text)
    return out or ["No stochastic threat processes."]


def _us_policy(params: Parameters) -> str:
    pol = params.us_policy
    if pol.mode == "scripted":
        return "The US follows the dated schedules above and does not react to the allies' choices."
    return (f"The US is transactional: each month it may raise an ally's tariff by {points(pol.tariff_step)} "
            f"(at most {points(pol.max_tariff_offset)} above the schedule), more likely when the ally falls short "
            "of its demand or has retaliated; it may grant relief after a concession, and ask for more "
            f"({number(pol.demand_step)} points of GDP) after one.")


def _china_policy(params: Parameters) -> str:
    pol = params.china_policy
    scripted = [e for e in params.events if e.kind in ("inducement", "coercion")]
    dated = f" Dated Chinese moves: {len(scripted)} (see the timeline)." if scripted else ""
    if pol.mode == "scripted":
        return "China acts only through the dated events of the scenario." + dated
    return ("China reacts to each ally: it courts an ally drifting its way (market access worth "
            f"{percent(pol.inducement_market_access)} of the ally's exports) and coerces one aligning harder with "
            f"the US (cutting {percent(pol.coercion_export_loss)} of its exports to China and adding to its sense "
            "of threat, which can backfire)." + dated)


def _adversaries(params: Parameters) -> list[str]:
    return [f"{actor_name(a)} decides each month whether to provoke (its threat events become "
            f"{number(params.actors[a].provocation_rate_multiplier)} times as frequent) or to restrain, "
            "provoking more when the alliance looks divided." for a in params.adversaries]


def _chips(params: Parameters) -> list[str]:
    out = []
    for a in params.allies:
        chip = params.actors[a].bargaining_chip
        if chip is not None:
            when = f" from {month_tick_label(chip.available_from)}" if chip.available_from else ""
            out.append(f"{actor_name(a)} can play its {chip.name} card{when} once, trading autonomy for US tariff "
                       f"relief (its defence effort rises by {number(chip.defense_effort_increase)} points of GDP).")
    return out


# ------------------------------------------------------------------------------------------ timeline


def timeline(params: Parameters) -> list[DatedEvent]:
    """Every dated entry of the scenario in calendar order: tariff and demand steps, threat-rate changes,
    elections, scripted events and bargaining chips becoming available."""
    start, months = params.simulation.start, params.simulation.months
    entries: list[tuple[int, int, DatedEvent]] = []

    def add(month: str, what: str, note: str = "", *, schedule: bool = False) -> None:
        k = month_offset(start, month)
        entries.append((k, len(entries), DatedEvent(month, what, note, k, months, schedule)))

    for s in params.tariffs:
        sector = "all goods" if s.sector == "country" else s.sector
        add(s.month, f"US tariff on {actor_name(s.target)} ({sector}) set to {percent(s.rate)}", s.label,
            schedule=True)
    for d in params.demands:
        add(d.month, f"US asks {actor_name(d.target)} for {number(d.defense_gdp)}% of GDP on defence", d.label,
            schedule=True)
    for key, proc in params.threats.items():
        for step in proc.rate_schedule:
            add(step.month, f"{threat_name(key, proc.source)}: rate becomes {number(step.rate_per_month)} a month",
                step.label, schedule=True)
    for a in params.allies:
        for m in params.actors[a].elections:
            add(m, f"Election in {actor_name(a)}")
        chip = params.actors[a].bargaining_chip
        if chip is not None and chip.available_from:
            add(chip.available_from, f"{actor_name(a)} can play its {chip.name} card")
    for e in params.events:
        add(e.month, event_words(e), e.label)
    entries.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, e in entries]


def event_words(e) -> str:
    """A scripted event (``ScriptedEvent``) as a sentence."""
    who = names(e.targets)
    if e.kind == "threat":
        source = f", caused by {actor_name(e.source)}" if e.source else ""
        return f"Threat shock to {who} (size {number(e.magnitude)}{source})"
    if e.kind == "reassurance":
        if e.magnitude >= 0:
            return f"US reassurance of {who} (trust in the US {signed(e.magnitude)})"
        return f"Setback to {who}'s trust in the US ({signed(e.magnitude)})"
    if e.kind == "leader":
        return f"New leader in {who}: {orientation_words(e.orientation)}"
    if e.kind == "inducement":
        return f"China courts {who} (market access, diplomacy)"
    return f"China coerces {who} (economic or maritime pressure)"
