"""Every parameter of the model: name, unit, default, bounds and source, in one typed tree.

Scenario files (TOML) are validated against these pydantic models; the compiled step, the reference model,
the docs' parameter table (``alliance params --markdown``) and the sweep designs all read the same
tree, so a parameter cannot exist in one place and be missing in another.  Each field's
``json_schema_extra`` carries its ``unit`` and ``source`` (a citation or a stated rationale).
Rates and shares are fractions (0.25 = 25 %); defence figures are percent of GDP.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alliance_sim.model.calendar import parse_month


def P(default, unit: str, source: str, description: str, **bounds):
    """A documented parameter: default, unit, source/rationale and bounds in one call."""
    return Field(
        default,
        description=description,
        json_schema_extra={"unit": unit, "source": source},
        **bounds,
    )


def field_bounds(info) -> tuple[float | None, float | None, bool, bool]:
    """(low, high, low_open, high_open) of a field's numeric bounds (ge/gt/le/lt metadata); None = unbounded.

    One reader for the docs' range column, the scenario errors ("must be between …") and test strategies."""
    lo = hi = None
    lo_open = hi_open = False
    for m in getattr(info, "metadata", None) or []:
        if getattr(m, "ge", None) is not None:
            lo = m.ge
        if getattr(m, "gt", None) is not None:
            lo, lo_open = m.gt, True
        if getattr(m, "le", None) is not None:
            hi = m.le
        if getattr(m, "lt", None) is not None:
            hi, hi_open = m.lt, True
    return lo, hi, lo_open, hi_open


class Strict(BaseModel):
    """Base for every block: unknown keys are errors, assignment is validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _check_month(value: str) -> str:
    parse_month(value)
    return value


# --------------------------------------------------------------------------------------- actors


class BargainingChip(Strict):
    """A one-time bargaining chip an ally can play to trade autonomy for relief (e.g. OPCON)."""

    name: str = P(
        "OPCON",
        "-",
        "seed article: Seoul may link OPCON transfer to tariff relief",
        "Label of the chip, shown in decision records.",
    )
    available_from: str | None = P(
        None, "calendar month", "scenario choice", "First month the chip can be played; None = from the start."
    )
    base_utility: float = P(
        -3.0,
        "logit utility",
        "assumption: rare, deliberate move",
        "Utility of playing the chip before tariff pain is counted.",
        ge=-20,
        le=20,
    )
    tariff_pain_weight: float = P(
        0.5,
        "utility per pp of GDP",
        "assumption",
        "How much tariff pain (percent of GDP taxed) raises the chip's appeal.",
        ge=0,
        le=10,
    )
    defense_effort_increase: float = P(
        0.2,
        "% of GDP",
        "assumption: taking over wartime command raises own defence spending",
        "Rise in own defence effort.",
        ge=0,
        le=3,
    )
    tie_impulse_us: float = P(
        -0.02,
        "tie units",
        "assumption: autonomy signals some distance",
        "Immediate change of the tie with the patron.",
        ge=-1,
        le=1,
    )
    us_relief_bonus: float = P(
        2.0,
        "logit utility",
        "assumption: the chip is offered for relief",
        "Added to the patron's relief utility for this ally for `bonus_months`.",
        ge=0,
        le=10,
    )
    bonus_months: int = P(6, "months", "assumption", "How long the relief bonus lasts.", ge=1, le=60)

    _month = field_validator("available_from")(lambda v: v if v is None else _check_month(v))


class PublicOpinion(Strict):
    """Initial public opinion of one ally (Pew-style favourability shares)."""

    favorable_us_share: float = P(
        0.55,
        "fraction of public",
        "Pew Research spring 2025: majorities in Japan and Korea view the US favourably (approximate)",
        "Share of the public with a favourable view of the patron.",
        ge=0,
        le=1,
    )
    favorable_china_share: float = P(
        0.15,
        "fraction of public",
        "Pew Research 2024/2025 (approximate; to verify)",
        "Share with a favourable view of the challenger.",
        ge=0,
        le=1,
    )


class Actor(Strict):
    """One country agent.  Ally-only fields are ignored for other roles."""

    label: str = P("", "-", "display only", "Display name.")
    role: Literal["patron", "challenger", "ally", "adversary"] = P(
        "ally",
        "-",
        "model design",
        "patron (US), challenger (China), ally, or adversary (an agent that chooses to provoke, e.g. North Korea).",
    )
    exports_to_gdp: float = P(0.2, "fraction of GDP", "national accounts 2024", "Goods exports / GDP.", ge=0, le=2)
    export_share_us: float = P(
        0.19,
        "fraction of exports",
        "BRIEF §6 (MoF Japan, KITA 2024)",
        "Share of goods exports going to the patron.",
        ge=0,
        le=1,
    )
    export_share_china: float = P(
        0.18,
        "fraction of exports",
        "BRIEF §6 (MoF Japan, KITA 2024)",
        "Share of goods exports going to the challenger.",
        ge=0,
        le=1,
    )
    sector_shares: dict[str, float] = P(
        {},
        "fraction of exports to US",
        "usafricaonline 2025-07-23 (Japan autos 52.3/148.2 bn)",
        "Share of exports to the patron in each Section-232 sector (e.g. autos, steel); these "
        "goods pay the sector rate instead of the country rate.",
    )
    defense_spending_gdp: float = P(1.5, "% of GDP", "SIPRI April 2025", "Own defence effort at start.", ge=0, le=15)
    initial_reliability: float = P(
        0.7,
        "probability-like index 0..1",
        "assumption: most allies trust the US commitment at the start",
        "Perceived reliability of the patron (1 - fear of abandonment).",
        ge=0.01,
        le=0.99,
    )
    entrapment_sensitivity: float = P(
        0.5,
        "0..1",
        "Snyder 1984; assumption",
        "How strongly this ally fears entrapment in a patron–challenger conflict.",
        ge=0,
        le=1,
    )
    leader_orientation: float = P(
        0.0,
        "-1 conciliatory .. +1 hawkish",
        "seed article / timeline",
        "Leader's own stance toward the challenger.",
        ge=-1,
        le=1,
    )
    hawk_orientation: float = P(0.7, "-1..1", "assumption", "Orientation of a hawkish election winner.", ge=-1, le=1)
    conciliatory_orientation: float = P(
        -0.3, "-1..1", "assumption", "Orientation of a conciliatory election winner.", ge=-1, le=1
    )
    leader_latitude: float = P(
        0.5,
        "alignment units",
        "Putnam 1988 (two-level game); assumption",
        "How far the leader's stance may stray from the public's.",
        ge=0,
        le=2,
    )
    elections: list[str] = P(
        [], "calendar months", "timeline-2025-2026.md", "Months of national elections that can change the leader."
    )
    public: PublicOpinion = Field(default_factory=PublicOpinion)
    bargaining_chip: BargainingChip | None = P(None, "-", "scenario choice", "Optional one-time chip.")
    provocation_rate_multiplier: float = P(
        2.5,
        "x rate",
        "assumption",
        "Adversary only: factor on its threat processes' rates in a month it provokes.",
        ge=1,
        le=20,
    )

    _elections = field_validator("elections")(lambda v: [_check_month(m) for m in v])

    @model_validator(mode="after")
    def _shares_sum(self):
        if self.export_share_us + self.export_share_china > 1.0 + 1e-9:
            raise ValueError("export_share_us + export_share_china must not exceed 1")
        if sum(self.sector_shares.values()) > 1.0 + 1e-9:
            raise ValueError("sector_shares must sum to at most 1")
        for k, v in self.sector_shares.items():
            if not 0 <= v <= 1:
                raise ValueError(f"sector_shares.{k} must be between 0 and 1, got {v}")
        return self


def default_actors() -> dict[str, Actor]:
    """The four default actors with 2024/2025 figures (sources in docs/parameters.md)."""
    return {
        "USA": Actor(
            label="United States", role="patron", defense_spending_gdp=3.4, export_share_us=0.0, export_share_china=0.07
        ),
        "CHN": Actor(
            label="China", role="challenger", defense_spending_gdp=1.7, export_share_us=0.15, export_share_china=0.0
        ),
        "JPN": Actor(
            label="Japan",
            role="ally",
            exports_to_gdp=0.18,
            export_share_us=0.199,
            export_share_china=0.176,
            sector_shares={"autos": 0.35, "steel": 0.02},
            defense_spending_gdp=1.4,
            initial_reliability=0.7,
            entrapment_sensitivity=0.5,
            leader_orientation=0.0,
            hawk_orientation=0.7,
            conciliatory_orientation=-0.2,
            public=PublicOpinion(favorable_us_share=0.55, favorable_china_share=0.12),
        ),
        "KOR": Actor(
            label="South Korea",
            role="ally",
            exports_to_gdp=0.37,
            export_share_us=0.187,
            export_share_china=0.195,
            sector_shares={"autos": 0.27, "steel": 0.03},
            defense_spending_gdp=2.6,
            initial_reliability=0.65,
            entrapment_sensitivity=0.6,
            leader_orientation=-0.3,
            hawk_orientation=0.7,
            conciliatory_orientation=-0.3,
            public=PublicOpinion(favorable_us_share=0.61, favorable_china_share=0.2),
        ),
    }


def default_ties() -> dict[str, float]:
    """Initial signed ties, 'A-B' = value in [-1, 1]; unlisted pairs start at 0."""
    return {"USA-JPN": 0.8, "USA-KOR": 0.7, "JPN-KOR": 0.3, "USA-CHN": -0.5, "CHN-JPN": -0.3, "CHN-KOR": 0.0}


# -------------------------------------------------------------------------------- threat and trade


class RateStep(Strict):
    """From `month` on, a threat process arrives at `rate_per_month`."""

    month: str = P("2025-01", "calendar month", "scenario choice", "When the new rate starts.")
    rate_per_month: float = P(1.0, "events / month", "scenario choice", "New mean arrival rate.", ge=0, le=50)
    label: str = P("", "-", "display only", "Shown on plots when non-empty.")

    _month = field_validator("month")(_check_month)


class ThreatProcess(Strict):
    """A stream of stochastic threat events (Poisson arrivals, exponential magnitudes).

    The perceived-threat stock starts at its stationary level under the start-month rate, so a
    process changes alignment only when its rate changes (`rate_schedule`) or by chance."""

    source: str = P(
        "PRK",
        "actor id",
        "scenario choice",
        "Who causes the events; if it is an actor, events also sour the tie with it.",
    )
    rate_per_month: float = P(
        1.0,
        "events / month",
        "per-process defaults: docs/model.md §5 (NK launch counts, JCG Senkaku intrusion counts; assumption)",
        "Mean arrivals.",
        ge=0,
        le=50,
    )
    mean_magnitude: float = P(
        0.05,
        "threat-stock units",
        "assumption (calibrated scale)",
        "Mean size of one event's addition to the perceived-threat stock.",
        ge=0,
        le=5,
    )
    targets: dict[str, float] = P(
        {}, "weight 0..1", "geography/exposure; assumption", "How much each actor perceives the events."
    )
    rate_schedule: list[RateStep] = P([], "-", "scenario choice", "Dated changes of the rate.")

    @field_validator("targets")
    @classmethod
    def _weights(cls, v):
        for k, w in v.items():
            if not 0 <= w <= 1:
                raise ValueError(f"targets.{k} must be between 0 and 1, got {w}")
        return v


def default_threats() -> dict[str, ThreatProcess]:
    """North Korea, Chinese grey-zone activity, Russia–North Korea cooperation."""
    return {
        "nk_provocations": ThreatProcess(
            source="PRK", rate_per_month=1.5, mean_magnitude=0.05, targets={"KOR": 1.0, "JPN": 0.8, "USA": 0.2}
        ),
        "china_grey_zone": ThreatProcess(
            source="CHN", rate_per_month=3.0, mean_magnitude=0.03, targets={"JPN": 1.0, "KOR": 0.4}
        ),
        "russia_nk_cooperation": ThreatProcess(
            source="RUS", rate_per_month=0.3, mean_magnitude=0.08, targets={"KOR": 0.8, "JPN": 0.6, "USA": 0.2}
        ),
    }


class TariffStep(Strict):
    """From `month` on, the patron's tariff on `target` (an ally) is `rate` for `sector`."""

    month: str = P("2025-01", "calendar month", "timeline-2025-2026.md", "When the rate takes effect.")
    target: str = P("KOR", "actor id", "scenario choice", "The ally taxed.")
    sector: str = P(
        "country",
        "-",
        "timeline-2025-2026.md (Section 232 sectors)",
        "'country' for the baseline/reciprocal rate, or a sector named in the ally's sector_shares (autos, steel, …).",
    )
    rate: float = P(0.1, "fraction ad valorem", "timeline-2025-2026.md", "Tariff rate.", ge=0, le=2)
    label: str = P("", "-", "display only", "Shown on plots' time axis when non-empty.")

    _month = field_validator("month")(_check_month)


class DemandStep(Strict):
    """From `month` on, the patron demands `defense_gdp` % of GDP of `target`."""

    month: str = P("2025-01", "calendar month", "timeline-2025-2026.md", "When the demand is made.")
    target: str = P("KOR", "actor id", "scenario choice", "The ally asked.")
    defense_gdp: float = P(
        3.5,
        "% of GDP",
        "NATO's June 2025 target of 3.5 % core defence (of 5 % in all), "
        "which US officials pressed on Asian allies (Korea Herald 2025)",
        "Demanded defence effort.",
        ge=0,
        le=15,
    )
    label: str = P("", "-", "display only", "Shown on plots when non-empty.")

    _month = field_validator("month")(_check_month)


class ScriptedEvent(Strict):
    """A dated event: a threat shock, a reassurance summit, a leader change, a Chinese action."""

    month: str = P("2025-01", "calendar month", "scenario choice", "When it happens.")
    kind: Literal["threat", "reassurance", "leader", "inducement", "coercion", "tie"] = P(
        "threat",
        "-",
        "model design",
        "threat: adds `magnitude` to targets' threat stock; reassurance: adds "
        "`magnitude` (logit units) to perceived reliability; leader: sets `orientation`; "
        "inducement/coercion: China acts on the targets as if it had chosen to; tie: a direct event between "
        "the two targets (a dispute, export controls, a summit) moves their tie by `magnitude` (tie units, "
        "-1..1) that month, after which the tie relaxes as after any impulse, less what the pair remembers "
        "(mechanisms.tie_event_persistent_share).",
    )
    targets: list[str] = P([], "actor ids", "scenario choice", "Who is affected.")
    magnitude: float = P(
        0.0,
        "threat-stock units (threat), logit units (reassurance) or tie units (tie)",
        "scenario choice",
        "Size; negative for a détente or a snub.",
        ge=-5,
        le=5,
    )
    orientation: float = P(
        0.0, "-1..1", "scenario choice", "For kind = leader: the new leader's orientation.", ge=-1, le=1
    )
    source: str = P("", "actor id", "scenario choice", "For kind = threat: who caused it (sours that tie).")
    label: str = P("", "-", "display only", "Shown on plots.")

    _month = field_validator("month")(_check_month)


# ------------------------------------------------------------------------------------ mechanisms


class Mechanisms(Strict):
    """Weights of the terms in the tie targets and the state updates (see docs/model.md §7)."""

    tie_adjustment_rate: float = P(
        0.15,
        "1 / month",
        "assumption: relations adjust over quarters (half-life ≈ 4 months)",
        "Fraction of the gap to the tie target closed each month.",
        ge=0,
        le=1,
    )
    balance_weight: float = P(
        0.5,
        "logit units",
        "Heider 1946; Marvel et al. 2011; assumption",
        "Weight of triadic balance pressure in every tie target.",
        ge=0,
        le=10,
    )
    threat_weight: float = P(
        1.5,
        "logit units per unit threat×reliability",
        "Walt 1987; assumption",
        "Pull toward the patron from perceived threat when the patron is reliable.",
        ge=0,
        le=20,
    )
    source_threat_weight: float = P(
        1.0,
        "logit units per unit threat",
        "Walt 1987; assumption",
        "Souring of the tie with whoever causes the threat.",
        ge=0,
        le=20,
    )
    common_threat_weight: float = P(
        0.8,
        "logit units",
        "assumption: shared threat drew Japan and Korea together in 2023",
        "Pull between two allies from their common (minimum) threat.",
        ge=0,
        le=20,
    )
    quasi_alliance_weight: float = P(
        0.0,
        "logit units",
        "Cha 1999 (Alignment Despite Antagonism): Japan-Korea cooperation rises when both fear US abandonment "
        "and falls when the commitment is firm; off until calibrated (the CoW signed networks show the "
        "US-Japan-Korea triad imbalanced, +,+,-, in all 29 windows with three ties, 1946-99)",
        "Pull between two allies from their shared fear of abandonment: the smaller of their two "
        "(1 - reliability of the patron).",
        ge=0,
        le=20,
    )
    tie_event_persistent_share: float = P(
        0.0,
        "logit units per unit of event size",
        "the Japan-Korea measures of 2019 (export controls, white-list removals) stayed in force until March "
        "2023 (decisions.csv), and disputes over history outlast their incidents (Cha 1999; Glosserman & "
        "Snyder 2015, The Japan-South Korea Identity Clash); off until calibrated",
        "Share of a direct event between two actors (a dispute, export controls, a summit) that the pair "
        "remembers: it moves the tie's target as well as the tie, so the tie does not relax back once the "
        "event has passed. 0: every direct event is an impulse only.",
        ge=0,
        le=3,
    )
    tie_event_heal_rate: float = P(
        0.015,
        "1 / month",
        "assumption: a half-life of about four years, the time the 2019 Japan-Korea measures stayed in force "
        "(July 2019 to March 2023)",
        "Fraction of a pair's remembered events that fades each month.",
        ge=0,
        le=1,
    )
    tariff_weight: float = P(
        0.4,
        "logit units per pp of GDP",
        "assumption (calibrated scale)",
        "Strain on the tie with the patron per percentage point of GDP taxed.",
        ge=0,
        le=20,
    )
    burden_weight: float = P(
        0.1,
        "logit units per pp of GDP gap",
        "Olson & Zeckhauser 1966; assumption: a gap also lowers reliability, so each channel gets half "
        "the weight of a point of GDP taxed",
        "Friction per point of GDP between demand and effort.",
        ge=0,
        le=20,
    )
    entrapment_weight: float = P(
        0.5,
        "logit units",
        "Snyder 1984; assumption",
        "Dampening of closeness to a patron in conflict with the challenger.",
        ge=0,
        le=20,
    )
    leader_weight: float = P(
        0.35,
        "logit units per stance unit",
        "Putnam 1988; assumption: a swing from a hawkish to a conciliatory leader (≈1 stance unit) moves "
        "alignment by ≈0.15, less than a 25 % tariff shock",
        "Pull of the leader's stance on the ties with patron and challenger.",
        ge=0,
        le=20,
    )
    china_trade_weight: float = P(
        3.0,
        "logit units per export share",
        "economic interdependence; assumption",
        "Pull toward the challenger from exports to it.",
        ge=0,
        le=50,
    )
    tie_noise_sd: float = P(
        0.02,
        "tie units / month",
        "assumption: unmodelled diplomacy",
        "Standard deviation of monthly random shocks to each tie.",
        ge=0,
        le=1,
    )
    threat_half_life_months: float = P(
        6.0,
        "months",
        "assumption: salience of an incident fades over two quarters",
        "Half-life of the perceived-threat stock.",
        gt=0,
        le=240,
    )
    reliability_adjustment_rate: float = P(
        0.2, "1 / month", "assumption", "Fraction of the gap to target reliability closed each month.", ge=0, le=1
    )
    trust_persistent_share: float = P(
        0.3,
        "fraction",
        "reputation and hysteresis (Weisiger & Yarhi-Milo 2015, Revisiting Reputation, International "
        "Organization 69(2); Jervis 1970): the value is an assumption, to be calibrated",
        "Share of the worst recent loss of perceived reliability (logit units) that outlasts the shock: after "
        "tariffs or demands are lifted, trust returns only to the start minus this scar. 0: no memory.",
        ge=0,
        le=1,
    )
    trust_heal_rate: float = P(
        0.028,
        "1 / month",
        "assumption: a half-life of about two years (a US presidential term's second half), to be calibrated",
        "Fraction of the remembered loss of trust that heals each month.",
        ge=0,
        le=1,
    )
    reliability_tariff_sensitivity: float = P(
        0.3, "logit per pp of GDP", "assumption", "Fall in perceived reliability per point of GDP taxed.", ge=0, le=20
    )
    reliability_demand_sensitivity: float = P(
        0.15,
        "logit per pp of GDP gap",
        "assumption: half the tariff sensitivity, since the gap also acts through burden friction",
        "Fall in perceived reliability per point of burden gap.",
        ge=0,
        le=20,
    )
    trade_elasticity: float = P(
        1.5,
        "-",
        "Fajgelbaum et al. (2020) estimate ≈2.5 for US import demand in "
        "the long run; 1.5 for the monthly short-run target (assumption)",
        "Exports to the patron scale with (1+tariff)^-elasticity.",
        ge=0,
        le=10,
    )
    trade_adjustment_rate: float = P(
        0.1,
        "1 / month",
        "assumption: supply chains re-route over a year",
        "Fraction of the gap to target exports closed monthly.",
        ge=0,
        le=1,
    )
    diversion_to_china: float = P(
        0.5,
        "fraction",
        "Korea Customs Service 1–10 May 2025 (US share 18.7→"
        "15.5 %, China 19.5→21.8 %) implies ≈0.7 in a 10-day window; 0.5 as a "
        "conservative central value (assumption; range 0.3–0.7)",
        "Share of exports lost to the patron that re-route to the challenger.",
        ge=0,
        le=1,
    )
    trade_shock_sd: float = P(
        0.0,
        "export share / month",
        "off by default, so the shipped scenarios' figures (measured without it) stand; 0.0070 reproduces the "
        "root-mean-square k-year changes (k = 1…7) of Japan's and Korea's annual export shares to the US and "
        "to China 2016–2025 at persistence 0.99 (1.4 points over one year, 5 over seven; "
        "docs/model.md §7.3); oos_fit_2022 sets 0.0047, the value of the years up to 2022",
        "Standard deviation of the monthly innovation of each export-share target's exogenous deviation.",
        ge=0,
        le=0.05,
    )
    trade_shock_persistence: float = P(
        0.99,
        "1 / month",
        "the same fit: the k-year changes grow almost as a random walk's (0.97 fits worse, 1 has no "
        "stationary level); half-life ≈ 69 months",
        "Share of last month's exogenous export-share deviation that persists.",
        ge=0,
        le=1,
    )
    coercion_backfire_threat_level: float = P(
        0.75,
        "perceived threat 0..1",
        "THAAD 2017 precedent; "
        "assumption: set between the default start-month threat of "
        "Korea (≈0.70) and Japan (≈0.78)",
        "Above this perceived threat, coercion pushes the target toward the patron.",
        ge=0,
        le=1,
    )
    coercion_intimidation: float = P(
        0.3,
        "tie units per unit threat gap",
        "assumption",
        "Size of coercion's push on the tie with the patron.",
        ge=0,
        le=5,
    )


class Population(Strict):
    """Citizens of each ally (vectorized); size 0 = one aggregate opinion per ally."""

    size_per_ally: int = P(
        100,
        "citizens",
        "design: enough for heterogeneity, small for speed",
        "Citizens simulated per ally and replicate; 0 = aggregate opinion.",
        ge=0,
        le=100_000,
    )
    conformity: float = P(
        0.1,
        "1 / month",
        "DeGroot/Friedkin–Johnsen social influence; assumption",
        "Pull of each citizen toward the population mean.",
        ge=0,
        le=1,
    )
    stubbornness: float = P(
        0.05,
        "1 / month",
        "Friedkin & Johnsen 1990; assumption",
        "Pull of each citizen toward their initial opinion.",
        ge=0,
        le=1,
    )
    opinion_noise_sd: float = P(
        0.03, "opinion units / month", "assumption", "Idiosyncratic monthly noise (uniform with this sd).", ge=0, le=1
    )
    opinion_spread: float = P(0.4, "opinion units", "assumption", "SD of initial opinions.", ge=0, le=2)
    share_exporters: float = P(0.25, "fraction", "assumption", "Citizens tied to export industries.", ge=0, le=1)
    share_security_minded: float = P(0.25, "fraction", "assumption", "Citizens most moved by threat.", ge=0, le=1)
    share_nationalists: float = P(0.2, "fraction", "assumption", "Citizens most moved by slights.", ge=0, le=1)
    tariff_nationalism: float = P(
        1.5,
        "opinion units per unit tariff rise",
        "assumption: a tariff announcement stirs nationalism",
        "Fall in favourability of the patron per unit rise of the effective tariff.",
        ge=0,
        le=20,
    )
    threat_rally: float = P(
        0.8,
        "opinion units per unit threat rise",
        "rally-round-the-flag; assumption",
        "Rise in favourability of the patron per unit rise of perceived threat.",
        ge=0,
        le=20,
    )
    coercion_backlash: float = P(
        0.1,
        "opinion units per coercion",
        "THAAD 2017 backlash; assumption",
        "Fall in favourability of the challenger when it coerces.",
        ge=0,
        le=2,
    )
    inducement_appeal: float = P(
        0.04,
        "opinion units per inducement",
        "assumption",
        "Rise in favourability of the challenger when it induces.",
        ge=0,
        le=2,
    )
    election_public_weight: float = P(
        3.0,
        "logit per alignment unit",
        "assumption",
        "How strongly public alignment favours a hawkish winner.",
        ge=0,
        le=50,
    )

    @model_validator(mode="after")
    def _groups(self):
        total = self.share_exporters + self.share_security_minded + self.share_nationalists
        if total > 1.0 + 1e-9:
            raise ValueError(
                f"share_exporters + share_security_minded + share_nationalists must be at most 1, got {total:g}"
            )
        return self


class PatronPolicy(Strict):
    """The patron's rule: 'scripted' (schedules only) or 'transactional' (logit choices per ally)."""

    mode: Literal["scripted", "transactional"] = P("transactional", "-", "model design", "Rule.")
    escalate_base_utility: float = P(-3.5, "logit utility", "assumption", "Escalation appeal.", ge=-20, le=20)
    escalate_gap_weight: float = P(
        0.5, "utility per pp gap", "assumption", "Escalation appeal per point of burden gap.", ge=0, le=20
    )
    escalate_retaliation_weight: float = P(2.0, "utility", "assumption", "After the ally retaliated.", ge=0, le=20)
    relief_base_utility: float = P(-3.5, "logit utility", "assumption", "Relief appeal.", ge=-20, le=20)
    relief_concession_weight: float = P(3.0, "utility", "assumption", "After the ally conceded.", ge=0, le=20)
    raise_demand_base_utility: float = P(-4.0, "logit utility", "assumption", "Demand-raise appeal.", ge=-20, le=20)
    raise_demand_concession_weight: float = P(
        1.5,
        "utility",
        "assumption: transactional asks for more after a concession",
        "Demand-raise appeal after the ally conceded.",
        ge=0,
        le=20,
    )
    tariff_step: float = P(
        0.05, "fraction ad valorem", "assumption", "Tariff change per escalation or relief.", ge=0, le=1
    )
    max_tariff_offset: float = P(
        0.5,
        "fraction ad valorem",
        "assumption",
        "Cap on cumulated behavioural escalation above the schedule.",
        ge=0,
        le=2,
    )
    demand_step: float = P(0.5, "% of GDP", "assumption", "Demand rise per decision.", ge=0, le=5)


class AllyPolicy(Strict):
    """How allies choose: hold, concede, hedge, retaliate, play a bargaining chip, or accommodate Beijing (logit)."""

    concede_base_utility: float = P(
        -3.0,
        "logit utility",
        "assumption",
        "Appeal of conceding (more defence effort, fewer frictions) before other terms.",
        ge=-20,
        le=20,
    )
    concede_protection_weight: float = P(
        2.0,
        "utility per threat×reliability",
        "Snyder 1984",
        "Need for protection makes concessions likelier.",
        ge=0,
        le=20,
    )
    concede_pain_weight: float = P(
        0.3, "utility per pp GDP", "assumption", "Tariff pain above the start makes concessions likelier.", ge=0, le=20
    )
    concede_stance_weight: float = P(
        0.8, "utility per stance", "assumption", "Hawkish (pro-patron) leaders concede more readily.", ge=0, le=20
    )
    concede_expected_relief_weight: float = P(
        4.0,
        "utility per pp GDP of expected relief",
        "forward-looking bargaining (Drezner 1999, The Sanctions Paradox; Schelling 1966, compellence); 4 gives "
        "South Korea a concession in 21 % of the months of present_2026 (observed: 4 concessions in the 23 "
        "months Jan 2025-Nov 2026, data/observed/decisions.csv; 0 gives 10 %)",
        "A concession is weighed by the relief it is expected to buy: the rise in the patron's chance of relief "
        "that conceding brings (the ally forecasts it with the patron's own rule) times the tariff pain above "
        "the start. 0 gives the myopic ally.",
        ge=0,
        le=20,
    )
    hedge_base_utility: float = P(
        -3.0,
        "logit utility",
        "assumption",
        "Appeal of hedging toward the challenger before other terms.",
        ge=-20,
        le=20,
    )
    hedge_unreliability_weight: float = P(
        2.0,
        "utility per (1-reliability)",
        "assumption",
        "Doubts about the patron's reliability make hedging likelier.",
        ge=0,
        le=20,
    )
    hedge_stance_weight: float = P(
        1.0, "utility per stance", "assumption", "Conciliatory leaders hedge more.", ge=0, le=20
    )
    hedge_pain_weight: float = P(
        0.3, "utility per pp GDP", "assumption", "Tariff pain above the start makes hedging likelier.", ge=0, le=20
    )
    retaliate_base_utility: float = P(
        -4.5,
        "logit utility",
        "assumption: allies rarely retaliate",
        "Appeal of retaliating against the patron's tariffs before other terms.",
        ge=-20,
        le=20,
    )
    retaliate_pain_weight: float = P(
        0.4, "utility per pp GDP", "assumption", "Tariff pain above the start makes retaliation likelier.", ge=0, le=20
    )
    retaliate_threat_weight: float = P(
        2.0,
        "utility per unit threat",
        "assumption: threatened allies avoid retaliation",
        "Perceived threat makes retaliation against the protector less likely.",
        ge=0,
        le=20,
    )
    accommodate_base_utility: float = P(
        -5.0,
        "logit utility",
        "observed rarity: Korea's 'Three Nos' (Oct 2017) and the 2025 CHOD statement omitting China are the two "
        "accommodations in data/observed/decisions.csv, 2016-2026; the value is an assumption",
        "Appeal of accommodating Beijing (yielding to its security demands) before other terms.",
        ge=-20,
        le=20,
    )
    accommodate_coercion_weight: float = P(
        3.0,
        "utility",
        "the Three Nos came after a year of China's THAAD sanctions (2016-17); the value is an assumption",
        "Accommodation appeal in a month after China coerced the ally.",
        ge=0,
        le=20,
    )
    accommodate_dependence_weight: float = P(
        3.0,
        "utility per export share to China",
        "Kastner 2016 (economic interdependence and accommodation); assumption",
        "Accommodation appeal per unit of the ally's export share going to China.",
        ge=0,
        le=20,
    )
    accommodate_stance_weight: float = P(
        1.0, "utility per stance", "assumption", "Hawkish (pro-patron) leaders accommodate Beijing less.", ge=0,
        le=20,
    )
    accommodate_tie_impulse_china: float = P(
        0.03, "tie units", "assumption", "Immediate rise of the tie with the challenger after accommodating it.",
        ge=0, le=1,
    )
    accommodate_tie_impulse_us: float = P(
        -0.03, "tie units", "assumption: Washington reads it as a concession to its rival",
        "Immediate change of the tie with the patron after the ally accommodated the challenger.", ge=-1, le=0,
    )
    concede_effort_step: float = P(0.1, "% of GDP", "assumption", "Defence effort added by a concession.", ge=0, le=2)
    concede_tie_impulse: float = P(
        0.04, "tie units", "assumption", "Immediate rise of the tie with the patron after a concession.", ge=0, le=1
    )
    hedge_tie_impulse_china: float = P(
        0.04, "tie units", "assumption", "Immediate rise of the tie with the challenger after hedging.", ge=0, le=1
    )
    hedge_tie_impulse_us: float = P(
        -0.02, "tie units", "assumption", "Immediate change of the tie with the patron after hedging.", ge=-1, le=0
    )
    retaliate_tie_impulse: float = P(
        -0.08, "tie units", "assumption", "Immediate change of the tie with the patron after retaliation.", ge=-1, le=0
    )


class ChallengerPolicy(Strict):
    """China's rule: 'scripted' or 'behavioural' (induce when an ally drifts its way, coerce when it
    aligns harder with the patron)."""

    mode: Literal["scripted", "behavioural"] = P("behavioural", "-", "model design", "Rule.")
    induce_base_utility: float = P(
        -3.0,
        "logit utility",
        "assumption",
        "Appeal of an inducement (market access, diplomacy) before other terms.",
        ge=-20,
        le=20,
    )
    induce_drift_weight: float = P(
        20.0,
        "utility per alignment unit",
        "assumption",
        "Reward drift toward the challenger (monthly fall of alignment).",
        ge=0,
        le=200,
    )
    induce_hedge_weight: float = P(1.0, "utility", "assumption", "After the ally hedged.", ge=0, le=20)
    coerce_accommodation_weight: float = P(
        3.0,
        "utility",
        "China eased the THAAD measures after the Three Nos (Oct-Nov 2017); the value is an assumption",
        "Coercion appeal lost in the month after the ally accommodated Beijing (its demand was met).",
        ge=0,
        le=20,
    )
    coerce_base_utility: float = P(
        -3.5,
        "logit utility",
        "assumption",
        "Appeal of coercion (sanctions, maritime pressure) before other terms.",
        ge=-20,
        le=20,
    )
    coerce_drift_weight: float = P(
        20.0,
        "utility per alignment unit",
        "assumption",
        "Punish drift toward the patron (monthly rise of alignment).",
        ge=0,
        le=200,
    )
    coerce_alignment_weight: float = P(
        2.0,
        "utility per alignment above 0.5",
        "assumption",
        "Coercion appeal per unit of alignment with the patron above 0.5.",
        ge=0,
        le=20,
    )
    inducement_tie_impulse: float = P(
        0.05,
        "tie units",
        "assumption",
        "Immediate rise of the tie with the challenger after an inducement.",
        ge=0,
        le=1,
    )
    inducement_market_access: float = P(
        0.02, "fraction of exports", "assumption", "Extra exports to the challenger offered.", ge=0, le=1
    )
    coercion_tie_impulse: float = P(
        -0.05,
        "tie units",
        "assumption",
        "Immediate change of the tie with the challenger after a coercion.",
        ge=-1,
        le=0,
    )
    coercion_export_loss: float = P(
        0.03,
        "fraction of exports",
        "THAAD 2017 sanctions; assumption",
        "Exports to the challenger cut by a coercion.",
        ge=0,
        le=1,
    )
    coercion_threat: float = P(0.1, "threat-stock units", "assumption", "Threat added by coercion.", ge=0, le=5)


class AdversaryPolicy(Strict):
    """Adversary actors (role = adversary) choose to restrain or provoke each month."""

    provoke_base_utility: float = P(
        -1.0,
        "logit utility",
        "assumption",
        "Appeal of provoking (more threat events this month) before other terms.",
        ge=-20,
        le=20,
    )
    provoke_cohesion_weight: float = P(
        2.0,
        "utility per unit of (1 - cohesion)",
        "assumption: provoke when the alliance looks divided",
        "Provocation appeal per unit of (1 − trilateral cohesion).",
        ge=0,
        le=20,
    )


class Simulation(Strict):
    """Calendar and ensemble size."""

    start: str = P("2025-07", "calendar month", "seed article (July 2025)", "First simulated month.")
    months: int = P(24, "months", "analysts' two-year question", "Horizon.", ge=1, le=1200)
    replicates: int = P(
        1000,
        "replicates",
        "enough for 1–2 % precision on probabilities",
        "Monte Carlo replicates.",
        ge=1,
        le=100_000_000,
    )
    seed: int = P(20250711, "-", "the date of the seed article", "Random seed.", ge=0, le=2**63 - 1)

    _start = field_validator("start")(_check_month)


class Parameters(Strict):
    """The whole parameter tree of one scenario."""

    simulation: Simulation = Field(default_factory=Simulation)
    actors: dict[str, Actor] = Field(default_factory=default_actors)
    ties: dict[str, float] = Field(
        default_factory=default_ties,
        description="Initial signed tie of each pair 'A-B'; unlisted pairs start at 0.",
        json_schema_extra={
            "unit": "-1 hostile .. +1 allied",
            "source": "assumption calibrated to 2025 relations: "
            "treaty allies high, Japan–Korea post-2023 thaw moderate, US–China rivalry negative",
        },
    )
    threats: dict[str, ThreatProcess] = Field(default_factory=default_threats)
    tariffs: list[TariffStep] = Field(default_factory=list)
    demands: list[DemandStep] = Field(default_factory=list)
    events: list[ScriptedEvent] = Field(default_factory=list)
    mechanisms: Mechanisms = Field(default_factory=Mechanisms)
    population: Population = Field(default_factory=Population)
    us_policy: PatronPolicy = Field(default_factory=PatronPolicy)
    ally_policy: AllyPolicy = Field(default_factory=AllyPolicy)
    china_policy: ChallengerPolicy = Field(default_factory=ChallengerPolicy)
    adversary_policy: AdversaryPolicy = Field(default_factory=AdversaryPolicy)

    @model_validator(mode="after")
    def _consistent(self):
        names = set(self.actors)
        roles = [a.role for a in self.actors.values()]
        if roles.count("patron") != 1:
            raise ValueError(f"actors: exactly one actor must have role 'patron', found {roles.count('patron')}")
        if roles.count("challenger") != 1:
            raise ValueError(
                f"actors: exactly one actor must have role 'challenger', found {roles.count('challenger')}"
            )
        if roles.count("ally") < 1:
            raise ValueError("actors: at least one actor must have role 'ally'")
        for key, value in self.ties.items():
            parts = key.split("-")
            if len(parts) != 2 or parts[0] == parts[1] or not set(parts) <= names:
                raise ValueError(f"ties.{key}: expected 'A-B' with two different actor ids from {sorted(names)}")
            if not -1 <= value <= 1:
                raise ValueError(f"ties.{key}: must be between -1 and 1, got {value}")
        allies = {n for n, a in self.actors.items() if a.role == "ally"}
        for name, proc in self.threats.items():
            for t in proc.targets:
                if t not in names:
                    raise ValueError(f"threats.{name}.targets.{t}: unknown actor; expected one of {sorted(names)}")
        for i, step in enumerate(self.tariffs):
            if step.target not in allies:
                raise ValueError(f"tariffs[{i}].target: expected an ally from {sorted(allies)}, got {step.target!r}")
            if step.sector != "country" and step.sector not in self.actors[step.target].sector_shares:
                raise ValueError(
                    f"tariffs[{i}].sector: {step.target} has no sector {step.sector!r}; "
                    f"expected 'country' or one of "
                    f"{sorted(self.actors[step.target].sector_shares)}"
                )
        for i, step in enumerate(self.demands):
            if step.target not in allies:
                raise ValueError(f"demands[{i}].target: expected an ally from {sorted(allies)}, got {step.target!r}")
        for i, ev in enumerate(self.events):
            for t in ev.targets:
                if t not in names:
                    raise ValueError(f"events[{i}].targets: unknown actor {t!r}; expected one of {sorted(names)}")
            if ev.kind in ("leader", "inducement", "coercion", "reassurance"):
                bad = [t for t in ev.targets if t not in allies]
                if bad:
                    raise ValueError(f"events[{i}].targets: kind {ev.kind!r} applies to allies, got {bad}")
            if ev.kind == "tie":
                if len(ev.targets) != 2 or ev.targets[0] == ev.targets[1]:
                    raise ValueError(f"events[{i}].targets: kind 'tie' needs two different actors, got {ev.targets}")
                if not -1.0 <= ev.magnitude <= 1.0:
                    raise ValueError(f"events[{i}].magnitude: kind 'tie' moves a tie by -1..1, got {ev.magnitude}")
        return self

    # Convenience views used by the compiled step and the reference.
    def names_by_role(self, role: str) -> list[str]:
        return [n for n, a in self.actors.items() if a.role == role]

    @property
    def patron(self) -> str:
        return self.names_by_role("patron")[0]

    @property
    def challenger(self) -> str:
        return self.names_by_role("challenger")[0]

    @property
    def allies(self) -> list[str]:
        return self.names_by_role("ally")

    @property
    def adversaries(self) -> list[str]:
        return self.names_by_role("adversary")
