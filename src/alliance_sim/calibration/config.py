"""A calibration file (TOML, validated by pydantic): which parameters to fit, with which priors, to which
observed series from which scenarios, and how to run ABC-SMC.

Every problem is one :class:`CalibrationError` line ``<file>: <key>: <what was expected>, got <what>``,
raised before anything is simulated: unknown keys, a parameter path that does not exist in a target's
scenario or is not a number, a prior outside the parameter's declared bounds, an observed series that
selects nothing or falls outside its scenario's months, a model variable that is not a result.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alliance_sim.model.parameters import Parameters, field_bounds


class CalibrationError(ValueError):
    """A bad calibration file, option or output folder (one-line message)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------------------- priors


class UniformPrior(_Strict):
    kind: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _order(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be less than high ({self.high:g})")
        return self


class NormalPrior(_Strict):
    """A normal prior, truncated to [low, high] (default: the parameter's declared bounds)."""

    kind: Literal["normal"]
    mean: float
    sd: float = Field(gt=0)
    low: float | None = None
    high: float | None = None


class LogNormalPrior(_Strict):
    """A log-normal prior (``median``, ``sigma`` of the log), truncated like the normal one."""

    kind: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(gt=0)
    low: float | None = None
    high: float | None = None


Prior = Annotated[UniformPrior | NormalPrior | LogNormalPrior, Field(discriminator="kind")]


class ParameterSpec(_Strict):
    name: str = Field(min_length=1, description="Dotted override path, as for --set")
    prior: Prior


# ---------------------------------------------------------------------------------------- targets


class SeriesSpec(_Strict):
    """Rows of a shipped observed-data file: ``file``, the value ``column`` and equality filters."""

    file: Literal["trade_shares", "opinion", "defence_spending", "alignment_record"]
    column: str | None = None
    where: dict[str, str | int | float | bool] = Field(default_factory=dict)
    scale: float | None = Field(None, gt=0, description="Multiply observed values (default: 0.01 for percent)")


class TargetSpec(_Strict):
    name: str | None = None
    scenario: str = Field(min_length=1)
    series: SeriesSpec
    ally: str | None = Field(None, min_length=1, description="The ally of a per-ally variable")
    pair: str | None = Field(None, pattern=r"^[A-Za-z0-9_]+-[A-Za-z0-9_]+$",
                             description="The pair of a per-pair variable (tie, p_tie_negative), 'JPN-KOR'")
    variable: str = Field(min_length=1, description="Results variable: `x` compares `x_mean`")
    years: list[int] | None = None
    months: list[str] | None = None
    sd: float | None = Field(None, gt=0, description="Scale of the statistic for the standardised distance")
    set: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_period_kind(self):
        if self.years is not None and self.months is not None:
            raise ValueError("give years or months, not both")
        if (self.ally is None) == (self.pair is None):
            raise ValueError("give ally (a per-ally variable) or pair (a per-pair variable), one of them")
        return self

    @property
    def column(self) -> str:
        """The results column the target reads: an ally id, or a pair label 'A-B'."""
        return self.ally if self.ally is not None else self.pair


class AbcSpec(_Strict):
    population_size: int = Field(100, ge=2, le=1_000_000)
    generations: int = Field(8, ge=1, le=1000)
    minimum_epsilon: float = Field(0.0, ge=0)
    min_acceptance_rate: float = Field(0.0, ge=0, lt=1)
    max_simulations: int | None = Field(None, ge=1)
    replicates: int = Field(10, ge=1, le=100_000)
    seed: int = Field(1, ge=0, le=2**63 - 1)
    distance: Literal["adaptive", "euclidean", "standardised"] = "adaptive"
    predictive_draws: int = Field(100, ge=0, le=100_000)
    # Replicates averaged per predictive draw (default: ``replicates``, the fit's statistic).  1 compares one
    # simulated world with the one observed history, so the band carries the model's chance in full.
    predictive_replicates: int | None = Field(None, ge=1, le=100_000)
    # What a predictive draw shows of a per-history series (polls, trade shares, ties): "mean", the mean over
    # its replicates (the fit's statistic); "one", its first replicate alone — one simulated world against the
    # one observed history — while the shares of runs (p_beijing_side, p_crossed, p_tie_negative) still count
    # every replicate, so a calibration with both kinds of target gets honest bands for each.
    predictive_history: Literal["mean", "one"] = "mean"


class ClusterSpec(_Strict):
    scheduler: str | None = None
    workers: int | None = Field(None, ge=0, le=1024, description="0: serial in this process")


class CalibrationSpec(_Strict):
    name: str = ""
    description: str = ""
    parameters: list[ParameterSpec] = Field(min_length=1)
    targets: list[TargetSpec] = Field(min_length=1)
    # Overrides of every target's scenario (before the target's own ``set``): what the whole fit holds fixed.
    set: dict[str, Any] = Field(default_factory=dict)
    abc: AbcSpec = Field(default_factory=AbcSpec)
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)

    @model_validator(mode="after")
    def _unique(self):
        names = [p.name for p in self.parameters]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise ValueError(f"parameter {dup!r} is listed twice")
        return self


# -------------------------------------------------------------------------------- resolved problem


@dataclass(frozen=True)
class Observation:
    """One observed number and the model statistic it is compared with."""

    key: str              # the statistic's name (unique)
    target: int           # index in spec.targets
    scenario: str         # scenario name
    variable: str         # results variable, e.g. export_share_us_mean
    ally: str             # the results column: an ally id, or a pair label 'A-B' for a per-pair variable
    period: str           # 'YYYY' or 'YYYY-MM' (or a fielded range 'YYYY-MM/MM')
    months: tuple[str, ...]  # model months averaged
    value: float
    sd: float | None
    uncertain: bool


@dataclass
class Problem:
    """A validated calibration: its spec, the scenarios' parameters and the observations."""

    spec: CalibrationSpec
    source: str
    scenarios: dict[str, Parameters]   # name -> parameters (with the target's [set] applied)
    scenario_labels: dict[str, list[str]]  # name -> month labels of the whole scenario
    observations: list[Observation]
    bounds: dict[str, tuple[float, float]]  # parameter -> prior support
    scenario_titles: dict[str, str] = field(default_factory=dict)  # name -> how a plot title names it

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.spec.parameters]

    def definition_hash(self) -> str:
        """Everything that determines the result (not the cluster, nor the number of generations)."""
        d = self.spec.model_dump(mode="json", exclude={"cluster": True, "name": True, "description": True,
                                                        "abc": {"generations", "minimum_epsilon",
                                                                "min_acceptance_rate", "max_simulations",
                                                                "predictive_draws", "predictive_replicates",
                                                                "predictive_history"}})
        d["scenarios"] = {k: hashlib.sha256(v.model_dump_json().encode()).hexdigest()[:16]
                          for k, v in sorted(self.scenarios.items())}
        d["observed"] = [(o.key, o.value) for o in self.observations]
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _scenario_title(name: str, settings: dict[str, Any]) -> str:
    """How a plot names a target's scenario: the file's name and what the calibration changes in it (the
    statistic keys carry a short hash of the settings instead, which a reader cannot decode)."""
    if not settings:
        return name
    if len(settings) > 2:
        return f"{name} with {len(settings)} settings changed"
    shown = ", ".join(f"{k.rsplit('.', 1)[-1]} = {v:g}" if isinstance(v, int | float) and not isinstance(v, bool)
                      else f"{k.rsplit('.', 1)[-1]} = {v}" for k, v in sorted(settings.items()))
    return f"{name} with {shown}"


def _first_error(exc: ValidationError) -> str:
    from alliance_sim.scenario_errors import _show

    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err["loc"]]
    # a discriminated union puts the tag in the location: parameters.0.prior.uniform.low -> ...prior.low
    if len(loc) >= 2 and loc[-2] in ("uniform", "normal", "lognormal"):
        loc.pop(-2)
    msg = err["msg"].removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        msg = "unknown key"
    elif err.get("type") == "union_tag_invalid":
        msg = "expected kind = uniform, normal or lognormal"
    elif err.get("type") == "union_tag_not_found":
        msg = "expected a kind (uniform, normal or lognormal)"
    elif "input" in err and not isinstance(err["input"], dict):
        msg = f"{msg}, got {_show(err['input'])}"
    return f"{'.'.join(loc)}: {msg}" if loc else msg


def parse_calibration(data: dict, where: str = "calibration") -> CalibrationSpec:
    try:
        return CalibrationSpec.model_validate(data)
    except ValidationError as exc:
        raise CalibrationError(f"{where}: {_first_error(exc)}") from None


def read_calibration_file(path: str | Path) -> CalibrationSpec:
    from alliance_sim.scenario_files import read_spec_toml

    return parse_calibration(read_spec_toml(path, "calibration", CalibrationError), str(path))


# ------------------------------------------------------------------------------------ resolution


def parameter_bounds(params: Parameters, key: str) -> tuple[float, float, type]:
    """(low, high, python type) declared for the parameter at dotted ``key`` (±inf when unbounded)."""
    from alliance_sim.overrides import get_value, set_in_tree
    from alliance_sim.scenario_errors import _walk

    value = get_value(params, key)
    positional = set_in_tree(params.model_dump(), key, value)
    found = _walk(tuple(positional.split(".")))
    lo = hi = None
    if found is not None:
        lo, hi, _, _ = field_bounds(found[1])
    return (-math.inf if lo is None else float(lo)), (math.inf if hi is None else float(hi)), type(value)


def _prior_support(p: ParameterSpec, lo: float, hi: float, where: str) -> tuple[float, float]:
    pr = p.prior

    def inside(x: float, what: str) -> None:
        if not lo <= x <= hi:
            raise CalibrationError(f"{where}.prior.{what}: must be within the parameter's declared bounds "
                                   f"[{lo:g}, {hi:g}], got {x:g}")

    if pr.kind == "uniform":
        inside(pr.low, "low")
        inside(pr.high, "high")
        return pr.low, pr.high
    centre = pr.mean if pr.kind == "normal" else pr.median
    inside(centre, "mean" if pr.kind == "normal" else "median")
    a = lo if pr.low is None else pr.low
    b = hi if pr.high is None else pr.high
    if pr.low is not None:
        inside(pr.low, "low")
    if pr.high is not None:
        inside(pr.high, "high")
    if pr.kind == "lognormal":
        a = max(a, 0.0)
    if not a < b:
        raise CalibrationError(f"{where}.prior: truncation low ({a:g}) must be less than high ({b:g})")
    return a, b


def _observed_rows(series: SeriesSpec, ally: str, where: str):
    """(rows, value column, scale) of the observed file selected by ``series``."""
    from alliance_sim import observed

    loader = {"trade_shares": observed.load_trade_shares, "opinion": observed.load_opinion,
              "defence_spending": observed.load_defence_spending,
              "alignment_record": observed.load_alignment_record}[series.file]
    try:
        df = loader()
    except observed.ObservedDataError as exc:
        raise CalibrationError(f"{where}.series: {exc}") from None
    column = series.column or ("share" if series.file == "trade_shares" else "value")
    if column not in df.columns:
        raise CalibrationError(f"{where}.series.column: expected a column of {series.file}.csv "
                               f"({', '.join(c for c in df.columns if c != 'start')}), got {column!r}")
    where_ = dict(series.where)
    actor_col = {"trade_shares": "reporter", "opinion": "respondents", "defence_spending": "country",
                 "alignment_record": "country"}[series.file]
    if "-" in ally:   # a pair 'A-B': the record's relation of country A with partner B
        first, second = ally.split("-")
        where_.setdefault(actor_col, first)
        if "partner" in df.columns:
            where_.setdefault("partner", second)
    else:
        where_.setdefault(actor_col, ally)
    for col, val in where_.items():
        if col not in df.columns:
            hint = difflib.get_close_matches(col, list(df.columns), n=1)
            raise CalibrationError(f"{where}.series.where.{col}: unknown column of {series.file}.csv"
                                   + (f"; did you mean '{hint[0]}'?" if hint else ""))
        df = df[df[col].astype(str) == str(val)] if not isinstance(val, bool) else df[df[col] == val]
    scale = series.scale
    if scale is None:
        units = set(df["unit"]) if "unit" in df.columns else set()
        if len(units) > 1:
            raise CalibrationError(f"{where}.series: the selected rows mix units ({', '.join(sorted(units))}); "
                                   "add a where.unit filter")
        scale = 0.01 if units == {"percent"} or (series.file == "opinion" and units == {"degrees_0_100"}) else 1.0
    return df, column, scale


def _period_months(row, file: str) -> tuple[str, tuple[str, ...]]:
    if file in ("trade_shares", "alignment_record"):
        period = str(row["period"])
    elif file == "opinion" and row.get("fielded"):
        period = str(row["fielded"])
    else:
        period = str(row["year"])
    if "/" in period:  # YYYY-MM/MM
        ym, m2 = period.split("/")
        y, m1 = ym.split("-")
        return period, tuple(f"{y}-{m:02d}" for m in range(int(m1), int(m2) + 1))
    if len(period) == 4:
        return period, tuple(f"{period}-{m:02d}" for m in range(1, 13))
    return period, (period,)


def _year_of(period: str) -> int:
    return int(period[:4])


#: Per-ally probabilities of results.nc a target can name besides the series means: the share of replicates on
#: Beijing's side (alignment < 0) in a month, and the share that has been there at least once by that month.
SIDE_VARIABLES = ("p_beijing_side", "p_crossed")
#: Per-pair variables (``pair = "A-B"``): the mean tie, and the share of replicates whose tie is negative.
PAIR_VARIABLES = {"tie": "tie_mean", "p_tie_negative": "p_tie_negative"}


def results_variables() -> dict[str, str]:
    """Results variables a target can name (with their per-ally dimension): ``x`` -> ``x_mean``, and the
    side probabilities ``p_beijing_side``/``p_crossed`` as themselves."""
    from alliance_sim.summaries import SERIES

    return {s.name: f"{s.name}_mean" for s in SERIES if s.dim == "ally"} | {v: v for v in SIDE_VARIABLES}


def _variable(name: str, where: str, pair: bool = False) -> str:
    if pair:
        base = name.removesuffix("_mean")
        if base in PAIR_VARIABLES:
            return PAIR_VARIABLES[base]
        raise CalibrationError(f"{where}.variable: not a per-pair result (a target with pair = ... reads "
                               f"{', '.join(PAIR_VARIABLES)}), got {name!r}")
    known = results_variables()
    base = name.removesuffix("_mean")
    if base in known:
        return known[base]
    hint = difflib.get_close_matches(base, list(known), n=1)
    raise CalibrationError(f"{where}.variable: not a per-ally result"
                           + (f"; did you mean '{hint[0]}'?" if hint else f"; expected one of {', '.join(known)}")
                           + f", got {name!r}")


def resolve(spec: CalibrationSpec, source: str = "calibration", base_dir: str | Path = ".") -> Problem:
    """Load each target's scenario, check the parameters against it and select the observations."""
    from alliance_sim.model.calendar import month_labels
    from alliance_sim.overrides import OverrideError, apply_overrides, get_value
    from alliance_sim.scenario import ScenarioError, load_scenario

    scenarios: dict[str, Parameters] = {}
    labels: dict[str, list[str]] = {}
    target_keys: list[str] = []
    titles: dict[str, str] = {}
    for i, t in enumerate(spec.targets):
        where = f"{source}: targets.{i}"
        local = Path(base_dir) / t.scenario
        try:
            sc = load_scenario(local if local.is_file() else t.scenario)
        except ScenarioError as exc:
            raise CalibrationError(f"{where}.scenario: {exc}") from None
        params = sc.params
        for scope, overrides in ((f"{source}: set", spec.set), (f"{where}.set", t.set)):
            if overrides:
                try:
                    params = apply_overrides(params, dict(overrides), via="[set]")
                except OverrideError as exc:
                    raise CalibrationError(f"{scope}.{exc.key}: {exc.problem}") from None
        key = sc.name
        titles_key = _scenario_title(sc.name, {**dict(spec.set), **dict(t.set)})
        if t.set or spec.set:  # the target's own set alone keeps the key earlier fits recorded
            both = sorted(t.set.items()) + ([None] + sorted(spec.set.items()) if spec.set else [])
            key += f"[{hashlib.sha256(repr(both).encode()).hexdigest()[:6]}]"
        if key in scenarios and scenarios[key] != params:
            raise CalibrationError(f"{where}.scenario: two different scenarios are named {sc.name!r}")
        scenarios[key] = params
        titles[key] = titles_key
        target_keys.append(key)
        labels[key] = list(month_labels(params.simulation.start, params.simulation.months))
        if t.pair is not None:
            ids = list(params.actors)
            a, b = t.pair.split("-")
            if a not in ids or b not in ids or a == b:
                raise CalibrationError(f"{where}.pair: expected two different actors of {sc.name} "
                                       f"({', '.join(ids)}) as 'A-B', got {t.pair!r}")
            if ids.index(a) > ids.index(b):
                raise CalibrationError(f"{where}.pair: expected the actors in the scenario's order, "
                                       f"'{b}-{a}', got {t.pair!r}")
        elif t.ally not in params.actors or params.actors[t.ally].role != "ally":
            allies = [k for k, a in params.actors.items() if a.role == "ally"]
            raise CalibrationError(f"{where}.ally: expected an ally of {sc.name} ({', '.join(allies)}), "
                                   f"got {t.ally!r}")
    bounds: dict[str, tuple[float, float]] = {}
    for j, p in enumerate(spec.parameters):
        where = f"{source}: parameters.{j}"
        decl = (-math.inf, math.inf)
        for name, params in scenarios.items():
            try:
                get_value(params, p.name)
                lo, hi, tp = parameter_bounds(params, p.name)
            except OverrideError as exc:
                raise CalibrationError(f"{where}.name: {exc.key}: {exc.problem} (in scenario {name})") from None
            if tp is not float:
                raise CalibrationError(f"{where}.name: {p.name}: expected a real-valued parameter, got a "
                                       f"{tp.__name__} (in scenario {name})")
            decl = (max(decl[0], lo), min(decl[1], hi))
        bounds[p.name] = _prior_support(p, decl[0], decl[1], where)
        if p.prior.kind == "uniform":
            mid = 0.5 * (p.prior.low + p.prior.high)
        else:
            mid = min(max(p.prior.mean if p.prior.kind == "normal" else p.prior.median, bounds[p.name][0]),
                      bounds[p.name][1])
        for name, params in scenarios.items():  # the prior's centre must make a valid scenario
            try:
                apply_overrides(params, {p.name: mid}, via="calibration")
            except OverrideError as exc:
                raise CalibrationError(f"{where}.prior: {exc.key}: {exc.problem} (in scenario {name})") from None
    observations: list[Observation] = []
    for i, t in enumerate(spec.targets):
        where = f"{source}: targets.{i}"
        variable = _variable(t.variable, where, pair=t.pair is not None)
        key = target_keys[i]
        span = set(labels[key])
        df, column, scale = _observed_rows(t.series, t.column, where)
        picked = 0
        for _, row in df.iterrows():
            period, months = _period_months(row, t.series.file)
            if t.years is not None and _year_of(period) not in t.years:
                continue
            if t.months is not None and period not in t.months:
                continue
            if not set(months) <= span:
                if t.years is not None or t.months is not None:
                    raise CalibrationError(f"{where}: observed period {period} is not inside the scenario's months "
                                           f"{labels[key][0]}..{labels[key][-1]}")
                continue
            label = t.name or f"{t.column}:{variable.removesuffix('_mean')}"
            stat = f"{label}@{period}"
            if any(o.key == stat for o in observations):
                stat = f"{stat}#{len(observations)}"
            observations.append(Observation(stat, i, key, variable, t.column, period, months,
                                            float(row[column]) * scale, t.sd, bool(row.get("uncertain", False))))
            picked += 1
        if picked == 0:
            raise CalibrationError(f"{where}.series: selects no observation inside the scenario's months "
                                   f"{labels[key][0]}..{labels[key][-1]}")
        if spec.abc.distance == "standardised" and t.sd is None:
            raise CalibrationError(f"{where}.sd: required by abc.distance = 'standardised'")
    return Problem(spec, source, scenarios, labels, observations, bounds, titles)


def load_calibration(path: str | Path) -> Problem:
    """Read, validate and resolve a calibration file."""
    spec = read_calibration_file(path)
    return resolve(spec, str(path), Path(path).parent)
