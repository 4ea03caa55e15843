"""A policy-search file (TOML, validated by pydantic): base scenario, levers, uncertainties, objectives
and the optimiser's settings::

    base = "../tariff_shock_2025.toml"
    until = "2027-12"               # last simulated month (or: months = 30)
    replicates = 40                 # per (policy, draw): the same replicate ids and seed everywhere
    draws = 24                      # uncertainty draws (Latin hypercube), the same for every policy
    seed = 7

    [set]                           # fixed overrides, as in a sweep file
    "population.size_per_ally" = 0

    [[add.tariffs]]                 # entries appended to the base's lists, for levers to address by label
    month = "2026-01"
    target = "KOR"
    sector = "country"
    rate = 0.25
    label = "KOR relief"

    [levers]                        # dotted keys, as sweep factors and --set
    "tariffs.KOR relief.rate" = { low = 0.0, high = 0.25 }
    "tariffs.KOR relief.month" = { first = "2025-09", last = "2027-06" }   # a calendar month

    [uncertainties]                 # dotted keys with ranges or levels, as sweep factors
    "mechanisms.tariff_weight" = { low = 0.5, high = 1.5 }
    # or (and) the calibrated posterior: each draw takes one particle of the last generation, by weight
    # posterior = "../../outputs/trade/posterior.nc"

    [objectives.p_cross]            # an output of the sweeps (see sweeps/outputs.py), or kind = "relief_cost"
    output = "p_crossed.KOR"
    direction = "minimize"
    stat = "mean"                   # over the draws: mean, median, min, max, p10, p90

    [search]
    population = 16
    generations = 6

Errors are one line naming the file and the key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError, model_validator

from alliance_sim.model.calendar import add_months, month_offset, parse_month
from alliance_sim.model.parameters import Parameters
from alliance_sim.overrides import OverrideError, apply_overrides, get_value
from alliance_sim.sweeps.design import (
    Factor,
    LHSDesign,
    PointTable,
    SweepError,
    SweepSpec,
    _fixed_reason,
    _override_error,
    _Strict,
    build_points,
    load_base,
)


class PolicyError(SweepError):
    """A bad policy-search file or option (one-line message)."""


class Lever(Factor):
    """A lever: a range (``low``/``high``, optionally ``integer`` or a ``step``), a list of ``levels``,
    or a calendar-month range (``first``/``last``, e.g. the month tariff relief starts)."""

    step: float | None = Field(None, gt=0)
    first: str | None = None
    last: str | None = None

    @model_validator(mode="after")
    def _shape(self):
        if self.first is not None or self.last is not None:
            if self.low is not None or self.high is not None or self.levels is not None:
                raise ValueError("give either first/last (months) or low/high or levels")
            if self.first is None or self.last is None:
                raise ValueError("a month lever needs both first and last")
            for m in (self.first, self.last):
                parse_month(m)
            if month_offset(self.first, self.last) < 0:
                raise ValueError(f"first ({self.first}) must not be after last ({self.last})")
            return self
        Factor._shape(self)
        if self.step is not None and (self.levels is not None or self.integer):
            raise ValueError("step applies to a continuous range only")
        return self

    @property
    def is_month(self) -> bool:
        return self.first is not None

    def probes(self) -> list[Any]:
        """Values that must be valid for the parameter: both ends, or every level."""
        if self.is_month:
            return [self.first, self.last]
        if self.levels is not None:
            return list(self.levels)
        return [int(self.low), int(self.high)] if self.integer else [self.low, self.high]

    def as_number(self, value: Any) -> float:
        """A lever value in analysis coordinates (a month: months after ``first``)."""
        if self.is_month:
            return float(month_offset(self.first, value))
        return Factor.as_number(self, value)

    def bounds(self) -> tuple[float, float]:
        if self.is_month:
            return 0.0, float(month_offset(self.first, self.last))
        return self.analysis_bounds()

    def distribution(self):
        """The optuna distribution the optimiser searches (a month as an integer offset)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.is_month:
            return IntDistribution(0, month_offset(self.first, self.last))
        if self.levels is not None:
            return CategoricalDistribution(list(self.levels))
        if self.integer:
            return IntDistribution(int(self.low), int(self.high))
        return FloatDistribution(float(self.low), float(self.high), step=self.step)

    def decode(self, raw: Any) -> Any:
        """The parameter value of an optimiser's suggestion."""
        if self.is_month:
            return add_months(self.first, int(raw))
        if self.integer:
            return int(raw)
        return raw if self.levels is not None else float(raw)

    def encode(self, value: Any, where: str) -> Any:
        """An optimiser's suggestion of a given value (named reference policies); error if outside."""
        if self.is_month:
            try:
                k = month_offset(self.first, value)
            except (ValueError, TypeError):
                raise PolicyError(f"{where}: expected a calendar month like '2026-01', got {value!r}") from None
            if not 0 <= k <= month_offset(self.first, self.last):
                raise PolicyError(f"{where}: {value} is outside {self.first}..{self.last}")
            return k
        if self.levels is not None:
            if value not in self.levels:
                raise PolicyError(f"{where}: {value!r} is not one of the levels {self.levels}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PolicyError(f"{where}: expected a number, got {value!r}")
        if not self.low <= value <= self.high:
            raise PolicyError(f"{where}: {value:g} is outside {self.low:g}..{self.high:g}")
        return int(value) if self.integer else float(value)


STATS = ("mean", "median", "min", "max", "p10", "p90")


class Objective(_Strict):
    """One objective.  ``kind = "output"``: a sweep output (``p_crossed.KOR``, ``min_cohesion_q.0.5``,
    ``final_cohesion_q.0.5`` …) in each draw, summarised over the draws by ``stat``.  ``kind =
    "relief_cost"``: the scheduled tariff pain the policy gives up against the base (see
    ``relief_cost``), for the ``allies`` listed (default: every ally); it does not depend on the draw."""

    kind: Literal["output", "relief_cost"] = "output"
    output: str | None = None
    direction: Literal["minimize", "maximize"]
    stat: Literal["mean", "median", "min", "max", "p10", "p90"] = "mean"
    allies: list[str] | None = None
    label: str = ""

    @model_validator(mode="after")
    def _shape(self):
        if self.kind == "output" and not self.output:
            raise ValueError("an output objective needs output = \"...\" (e.g. \"p_crossed.KOR\")")
        if self.kind == "relief_cost" and self.output:
            raise ValueError("a relief_cost objective takes no output")
        if self.kind == "output" and self.allies is not None:
            raise ValueError("allies applies to a relief_cost objective only")
        return self

    @property
    def sign(self) -> float:
        """+1 to minimise, -1 to maximise (objectives are compared as ``sign * value``, lower is better)."""
        return 1.0 if self.direction == "minimize" else -1.0


class Search(_Strict):
    """The optimiser: optuna's NSGA-II, ``population`` policies per generation for ``generations``."""

    algorithm: Literal["nsga2"] = "nsga2"
    population: int = Field(16, ge=2, le=10_000)
    generations: int = Field(6, ge=1, le=10_000)
    crossover_prob: float = Field(0.9, ge=0, le=1)
    mutation_prob: float | None = Field(None, ge=0, le=1)


class PolicySpec(_Strict):
    """A whole policy-search file."""

    name: str = ""
    description: str = ""
    base: str | None = None
    set: dict[str, Any] = Field(default_factory=dict)
    add: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    levers: dict[str, Lever] = Field(min_length=1)
    uncertainties: dict[str, Factor] = Field(default_factory=dict)
    posterior: str | None = None  # posterior.nc of `alliance calibrate`: its parameters become uncertainties
    objectives: dict[str, Objective] = Field(min_length=1)
    policies: dict[str, dict[str, Any]] = Field(default_factory=dict)
    draws: int = Field(32, ge=1, le=1_000_000)
    replicates: int = Field(50, ge=1, le=1_000_000)
    months: int | None = Field(None, ge=1, le=1200)
    until: str | None = None
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    task_size: int = Field(64, ge=1, le=1_000_000)
    search: Search = Field(default_factory=Search)

    @model_validator(mode="after")
    def _check(self):
        if self.months is not None and self.until is not None:
            raise ValueError("give either months or until, not both")
        if self.until is not None:
            parse_month(self.until)
        both = sorted(set(self.levers) & set(self.uncertainties))
        if both:
            raise ValueError(f"'{both[0]}' is both a lever and an uncertainty")
        return self

    def definition_hash(self) -> str:
        """Hash of everything that determines the results (not the task size, name or description)."""
        d = self.model_dump(mode="json", exclude={"task_size", "name", "description"})
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _first_error(exc: ValidationError) -> str:
    """'levers.X.low: Input should be a valid number, got "a"' — pydantic's first error on one line."""
    import difflib

    from alliance_sim.scenario_errors import _show

    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    msg = err["msg"].removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        options = {1: list(PolicySpec.model_fields), 2: []}.get(len(err["loc"]), [])
        if len(err["loc"]) == 2 and err["loc"][0] == "search":
            options = list(Search.model_fields)
        if len(err["loc"]) == 3 and err["loc"][0] in ("levers", "uncertainties", "objectives"):
            model = {"levers": Lever, "uncertainties": Factor, "objectives": Objective}[err["loc"][0]]
            options = list(model.model_fields)
        hint = difflib.get_close_matches(str(err["loc"][-1]), options, n=1)
        msg = "unknown key" + (f"; did you mean '{hint[0]}'?" if hint else "")
    elif "input" in err and not isinstance(err["input"], dict):
        msg = f"{msg}, got {_show(err['input'])}"
    text = f"{loc}: {msg}" if loc else msg
    return text if len(text) <= 300 else text[:297] + "..."


def parse_policy(data: dict, where: str = "policy") -> PolicySpec:
    """Validate a policy-search definition given as a dict."""
    try:
        return PolicySpec.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"{where}: {_first_error(exc)}") from None


def read_policy_file(path: str | Path) -> PolicySpec:
    """Read and validate a policy-search TOML file (structure only; ``make_problem`` checks the keys)."""
    from alliance_sim.scenario_files import read_spec_toml

    return parse_policy(read_spec_toml(path, "policy search", PolicyError, kind="policy-search"), str(path))


@dataclass
class Problem:
    """A validated policy search with its base resolved and its uncertainty draws built."""

    spec: PolicySpec
    source: str
    base: Parameters            # the base scenario with [set] and [add] applied: the reference policy
    base_name: str
    base_hash: str
    seed: int
    months: int
    draws: PointTable           # one row per uncertainty draw (the same for every policy)

    @property
    def lever_names(self) -> list[str]:
        return list(self.spec.levers)

    @property
    def objective_names(self) -> list[str]:
        return list(self.spec.objectives)

    @property
    def outputs(self) -> list[str]:
        """The model outputs the objectives read, in a fixed order."""
        return list(dict.fromkeys(o.output for o in self.spec.objectives.values() if o.kind == "output"))


def _apply_add(spec: PolicySpec, params: Parameters, where: str) -> Parameters:
    """Append the ``[[add.<list>]]`` entries to the base's lists (checked as a scenario's entries are)."""
    if not spec.add:
        return params
    raw = params.model_dump(mode="json")
    for name, entries in spec.add.items():
        if not isinstance(raw.get(name), list):
            lists = sorted(k for k, v in raw.items() if isinstance(v, list))
            raise PolicyError(f"{where}: add.{name}: not a list of the parameters; expected one of {lists}")
        raw[name] = raw[name] + [dict(e) for e in entries]
    try:
        return Parameters.model_validate(raw)
    except ValidationError as exc:
        from alliance_sim.scenario_errors import validation_error

        err = validation_error(exc, None, via="")
        raise PolicyError(f"{where}: add: {err.key}: {err.problem}" if err.key else f"{where}: add: {err.problem}") \
            from None


def _check_keys(kind: str, items: dict, base: Parameters, where: str) -> None:
    for name, f in items.items():
        reason = _fixed_reason(name)
        if reason is not None:
            raise PolicyError(f"{where}: {kind} '{name}': cannot vary: {reason}")
        try:
            value = get_value(base, name)
        except OverrideError as exc:
            raise PolicyError(str(_override_error(where, kind, name, exc))) from None
        if isinstance(value, (BaseModel, dict, list)):
            raise PolicyError(f"{where}: {kind} '{name}': names a table or list, not one value")
        probes = f.probes() if isinstance(f, Lever) else (
            f.levels if f.levels is not None else ([int(f.low), int(f.high)] if f.integer else [f.low, f.high]))
        for v in probes:
            try:
                apply_overrides(base, {name: v}, via="")
            except OverrideError as exc:
                raise PolicyError(str(_override_error(where, kind, name, exc))) from None


def _draws(spec: PolicySpec, seed: int, posterior: PointTable | None = None) -> PointTable:
    """The uncertainty draws: a Latin hypercube (seeded) over the ranges, beside the posterior's particles
    when a posterior is named; one empty draw when nothing is uncertain."""
    if not spec.uncertainties:
        return posterior if posterior is not None else PointTable([], np.zeros((1, 0)), [[]], [{}])
    sweep = SweepSpec(design=LHSDesign(kind="lhs", samples=spec.draws), factors=dict(spec.uncertainties))
    lhs = build_points(sweep, seed)
    if posterior is None:
        return lhs
    return PointTable(posterior.factors + lhs.factors, np.hstack([posterior.unit, lhs.unit]),
                      [p + q for p, q in zip(posterior.values, lhs.values, strict=True)],
                      [{**p, **q} for p, q in zip(posterior.overrides, lhs.overrides, strict=True)])


def posterior_draws(path: Path, draws: int, seed: int, where: str) -> PointTable:
    """``draws`` particles of the last generation of an ``alliance calibrate`` posterior, resampled by weight
    with a seeded generator (the same draws for every policy); unit coordinates within the prior's bounds."""
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            theta = ds.theta.isel(generation=-1).values
            weight = ds.weight.isel(generation=-1).values
            names = [str(n) for n in ds.parameter.values]
            low, high = ds.prior_low.values, ds.prior_high.values
    except FileNotFoundError:
        raise PolicyError(f"{where}: posterior: {path}: no such file; expected the posterior.nc of "
                          "`alliance calibrate`") from None
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise PolicyError(f"{where}: posterior: {path}: not a posterior of `alliance calibrate` "
                          f"({type(exc).__name__}: {exc})") from None
    keep = ~np.isnan(theta).any(axis=1) & (weight > 0)
    if not keep.any():
        raise PolicyError(f"{where}: posterior: {path}: its last generation has no weighted particle")
    theta, weight = theta[keep], weight[keep] / weight[keep].sum()
    pick = np.random.default_rng([int(seed), 0x706F7374]).choice(len(weight), size=draws, p=weight)
    values = theta[pick]
    unit = (values - low) / np.where(high > low, high - low, 1.0)
    rows = [[float(v) for v in row] for row in values]
    return PointTable(names, np.clip(unit, 0.0, 1.0), rows, [dict(zip(names, row, strict=True)) for row in rows])


def make_problem(spec: PolicySpec, *, source: str = "policy", spec_dir: str | Path = ".",
                 base: Parameters | None = None) -> Problem:
    """Resolve the base, check every lever, uncertainty, objective and reference policy, build the draws."""
    shim = SweepSpec(base=spec.base, set=dict(spec.set), design=LHSDesign(kind="lhs", samples=1),
                     factors={"mechanisms.tariff_weight": Factor(low=0, high=1)})
    if base is None:
        try:
            params, name, h = load_base(shim, Path(spec_dir), source)
        except SweepError as exc:
            raise PolicyError(str(exc)) from None
    else:
        from alliance_sim.sweeps.design import _apply_set, _params_hash

        try:
            params = _apply_set(shim, base, source)
        except SweepError as exc:
            raise PolicyError(str(exc)) from None
        name, h = "custom", _params_hash(params)
    params = _apply_add(spec, params, source)
    if spec.add:
        h = hashlib.sha256((h + json.dumps(spec.add, sort_keys=True, default=str)).encode()).hexdigest()[:16]
    _check_keys("lever", spec.levers, params, source)
    _check_keys("uncertainty", spec.uncertainties, params, source)
    post = None
    if spec.posterior is not None:
        post = posterior_draws(Path(spec_dir) / spec.posterior, spec.draws,
                               params.simulation.seed if spec.seed is None else spec.seed, source)
        for name in post.factors:
            if name in spec.levers or name in spec.uncertainties:
                kind = "a lever" if name in spec.levers else "an uncertainty"
                raise PolicyError(f"{source}: posterior: parameter '{name}' is also {kind}")
            try:
                get_value(params, name)
            except OverrideError as exc:
                raise PolicyError(str(_override_error(source, "posterior parameter", name, exc))) from None
    for pname, pol in spec.policies.items():
        for key, value in pol.items():
            if key not in spec.levers:
                raise PolicyError(f"{source}: policies.{pname}.{key}: not a lever; levers are {list(spec.levers)}")
            spec.levers[key].encode(value, f"{source}: policies.{pname}.{key}")
    allies = compile_allies(params)
    for oname, obj in spec.objectives.items():
        for a in obj.allies or []:
            if a not in allies:
                raise PolicyError(f"{source}: objectives.{oname}.allies: unknown ally {a!r}; expected one of {allies}")
    seed = params.simulation.seed if spec.seed is None else spec.seed
    if spec.until is not None:
        months = month_offset(params.simulation.start, spec.until) + 1
        if months < 1:
            raise PolicyError(f"{source}: until: {spec.until} is before the start {params.simulation.start}")
        if months > 1200:
            raise PolicyError(f"{source}: until: {spec.until} is more than 1200 months after the start")
    else:
        months = params.simulation.months if spec.months is None else spec.months
    if post is not None:
        h = hashlib.sha256((h + json.dumps(post.values)).encode()).hexdigest()[:16]
    return Problem(spec, source, params, name, h, int(seed), int(months), _draws(spec, int(seed), post))


def compile_allies(params: Parameters) -> list[str]:
    return [k for k, a in params.actors.items() if a.role == "ally"]


def load_problem(path: str | Path) -> Problem:
    """Read, validate and resolve a policy-search file."""
    spec = read_policy_file(path)
    return make_problem(spec, source=str(path), spec_dir=Path(path).parent)
