"""Sweep definitions (a TOML file validated by pydantic) and the designs they produce.

A sweep file names a base scenario, the factors to vary (dotted keys of the parameter tree, each a
continuous range ``{low, high}``, an integer range ``{low, high, integer = true}`` or a list of
``levels``), a design (``grid``, ``lhs``, ``sobol`` (Saltelli) or ``morris``), the replicates per point,
the horizon, the seed, the outputs of interest and the task size::

    base = "../tariff_shock_2025.toml"      # relative to this file; omit for the default parameters
    replicates = 200
    months = 24
    seed = 1
    outputs = ["p_crossed.KOR", "final_alignment_mean.KOR", "min_cohesion_q.0.5"]
    task_size = 16

    [set]                                    # fixed overrides of the base for every point
    "population.size_per_ally" = 0

    [design]
    kind = "sobol"
    n = 256
    calc_second_order = false

    [factors]
    "mechanisms.tariff_weight" = { low = 0.0, high = 1.5 }
    "threats.nk_provocations.rate_per_month" = { levels = [0.5, 1.5, 3.0] }

Every design is first drawn in the unit cube (one column per factor) and then mapped to values, so
the same table feeds the runner (override dicts) and the analysis (SALib problem, PRIM inputs).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alliance_sim.model.parameters import Parameters
from alliance_sim.overrides import OverrideError, apply_overrides, get_value


class SweepError(ValueError):
    """A bad sweep file, store or option (one-line message)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Factor(_Strict):
    """One varied parameter: a range (``low``/``high``, optionally ``integer``) or explicit ``levels``."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    levels: list[float | int | str | bool] | None = None

    @model_validator(mode="after")
    def _shape(self):
        if self.levels is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either low/high or levels, not both")
            if not self.levels:
                raise ValueError("levels must not be empty")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high (a range) or levels (a list)")
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) must not exceed high ({self.high:g})")
        if self.integer and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("an integer factor needs integer low and high")
        return self

    @property
    def is_discrete(self) -> bool:
        return self.levels is not None

    def grid_values(self, resolution: int) -> list[Any]:
        """The values a full-factorial grid takes for this factor."""
        if self.levels is not None:
            return list(self.levels)
        if self.integer:
            lo, hi = int(self.low), int(self.high)
            if hi - lo + 1 <= resolution:
                return list(range(lo, hi + 1))
            return sorted({int(round(v)) for v in np.linspace(lo, hi, resolution)})
        return [float(v) for v in np.linspace(self.low, self.high, resolution)]

    def from_unit(self, u: np.ndarray) -> list[Any]:
        """Map unit-cube coordinates to values (levels and integers by equal-width bins)."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        if self.levels is not None:
            idx = np.minimum((u * len(self.levels)).astype(int), len(self.levels) - 1)
            return [self.levels[i] for i in idx]
        if self.integer:
            lo, hi = int(self.low), int(self.high)
            return [int(v) for v in np.minimum(lo + np.floor(u * (hi - lo + 1)), hi)]
        return [float(v) for v in self.low + u * (self.high - self.low)]

    @property
    def numeric_levels(self) -> bool:
        """Listed levels that are all numbers (analysed as values, not as positions)."""
        return self.levels is not None and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               for v in self.levels)

    def as_number(self, value: Any) -> float:
        """A value in analysis coordinates: itself, or its position among non-numeric levels."""
        if self.levels is not None and not self.numeric_levels:
            return float([repr(v) for v in self.levels].index(repr(value)))
        return float(value)

    def analysis_bounds(self) -> tuple[float, float]:
        """Bounds used by SALib/PRIM: the range; the smallest and largest numeric level; or positions
        0..k-1 for non-numeric levels."""
        if self.levels is not None:
            lo, hi = ((min(self.levels), max(self.levels)) if self.numeric_levels
                      else (0, len(self.levels) - 1))
        else:
            lo, hi = self.low, self.high
        return float(lo), float(hi) if hi > lo else float(lo) + 1e-12


class GridDesign(_Strict):
    """Full factorial over every factor's levels (ranges are cut into ``resolution`` values)."""

    kind: Literal["grid"]
    resolution: int = Field(5, ge=2, le=1000)


class LHSDesign(_Strict):
    """Latin hypercube of ``samples`` points (scipy.stats.qmc.LatinHypercube)."""

    kind: Literal["lhs"]
    samples: int = Field(ge=1, le=100_000_000)


class SobolDesign(_Strict):
    """Saltelli's extension of a Sobol' sequence (SALib.sample.sobol): N(2D+2) or N(D+2) points."""

    kind: Literal["sobol"]
    n: int = Field(ge=2, le=10_000_000, description="Base samples N (a power of 2 is best).")
    calc_second_order: bool = False


class MorrisDesign(_Strict):
    """Morris elementary-effects trajectories (SALib.sample.morris): r(D+1) points."""

    kind: Literal["morris"]
    trajectories: int = Field(ge=2, le=100_000)
    levels: int = Field(4, ge=2, le=100)


Design = Annotated[GridDesign | LHSDesign | SobolDesign | MorrisDesign, Field(discriminator="kind")]


class PrimSpec(_Strict):
    """Scenario discovery target: the points where ``output`` ``op`` ``value`` are of interest."""

    output: str
    op: Literal[">", ">=", "<", "<="] = ">"
    value: float = 0.5
    peel_alpha: float = Field(0.05, gt=0, lt=1)
    mass_min: float = Field(0.05, gt=0, lt=1)


class SweepSpec(_Strict):
    """A whole sweep file."""

    name: str = ""
    description: str = ""
    base: str | None = None
    set: dict[str, Any] = Field(default_factory=dict)
    design: Design
    factors: dict[str, Factor] = Field(min_length=1)
    replicates: int = Field(100, ge=1, le=100_000_000)
    months: int | None = Field(None, ge=1, le=1200)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    outputs: list[str] = Field(default_factory=lambda: ["p_crossed.KOR"])
    task_size: int = Field(16, ge=1, le=1_000_000)
    prim: PrimSpec | None = None
    posterior: str | None = Field(None, min_length=1, description="particles.csv or posterior.nc of `alliance "
                                  "calibrate`, relative to the sweep file: replicate r of every point draws the "
                                  "same particle; a factor that is also a posterior parameter wins at its point")

    @model_validator(mode="after")
    def _check(self):
        if self.design.kind in ("sobol", "morris"):
            if len(self.factors) < 1:
                raise ValueError("sobol/morris designs need at least one factor")
        return self

    def definition_hash(self) -> str:
        """Hash of everything that determines the results (not the task size or the name)."""
        d = self.model_dump(mode="json", exclude={"task_size", "name", "description"})
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def factor_names(self) -> list[str]:
        return list(self.factors)

    def salib_problem(self) -> dict:
        """The SALib ``problem`` dict in analysis coordinates (see ``Factor.analysis_bounds``)."""
        return {"num_vars": len(self.factors), "names": self.factor_names,
                "bounds": [list(f.analysis_bounds()) for f in self.factors.values()]}


@dataclass
class PointTable:
    """The design's points: unit-cube coordinates, values and the override dict of each point."""

    factors: list[str]
    unit: np.ndarray                     # (n_points, n_factors) in [0, 1]; NaN-free
    values: list[list[Any]]              # (n_points, n_factors) python values
    overrides: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return self.unit.shape[0]

    def numeric(self, spec: SweepSpec) -> np.ndarray:
        """Values as floats in analysis coordinates (non-numeric levels become their position)."""
        out = np.empty(self.unit.shape)
        for j, f in enumerate(spec.factors.values()):
            out[:, j] = [f.as_number(row[j]) for row in self.values]
        return out


def expected_size(spec: SweepSpec) -> int:
    """Number of points the design produces."""
    d, D = spec.design, len(spec.factors)
    if d.kind == "grid":
        return int(np.prod([len(f.grid_values(d.resolution)) for f in spec.factors.values()]))
    if d.kind == "lhs":
        return d.samples
    if d.kind == "sobol":
        return d.n * (2 * D + 2 if d.calc_second_order else D + 2)
    return d.trajectories * (D + 1)


def _unit_sample(spec: SweepSpec, seed: int) -> np.ndarray:
    d, D = spec.design, len(spec.factors)
    if d.kind == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=D, rng=np.random.default_rng(seed)).random(d.samples)
    problem = {"num_vars": D, "names": spec.factor_names, "bounds": [[0.0, 1.0]] * D}
    if d.kind == "sobol":
        import warnings

        from SALib.sample import sobol

        with warnings.catch_warnings():  # SALib warns when N is not a power of 2; that is allowed
            warnings.simplefilter("ignore")
            return sobol.sample(problem, d.n, calc_second_order=d.calc_second_order, scramble=True,
                                seed=seed)
    from SALib.sample import morris

    return morris.sample(problem, d.trajectories, num_levels=d.levels, seed=seed)


def build_points(spec: SweepSpec, seed: int) -> PointTable:
    """The design's point table (deterministic for a given spec and seed)."""
    names = spec.factor_names
    facs = list(spec.factors.values())
    if spec.design.kind == "grid":
        axes = [f.grid_values(spec.design.resolution) for f in facs]
        values = [list(row) for row in itertools.product(*axes)]
        unit = np.empty((len(values), len(names)))
        for j, ax in enumerate(axes):
            pos = {repr(v): (i + 0.5) / len(ax) for i, v in enumerate(ax)}
            unit[:, j] = [pos[repr(row[j])] for row in values]
    else:
        unit = np.asarray(_unit_sample(spec, seed), dtype=float)
        cols = [f.from_unit(unit[:, j]) for j, f in enumerate(facs)]
        values = [list(row) for row in zip(*cols, strict=True)] if cols else []
    overrides = [dict(zip(names, row, strict=True)) for row in values]
    return PointTable(names, unit, values, overrides)


#: Keys a factor cannot vary, with the reason (the sweep fixes them for every point, or they change
#: which actors are allies and so the shape of every outcome).
FIXED_KEYS = {
    "simulation.months": "the horizon is the sweep's `months`, one for every point",
    "simulation.seed": "every point uses the sweep's `seed` (common random numbers)",
    "simulation.replicates": "every point uses the sweep's `replicates`",
}


def _fixed_reason(key: str) -> str | None:
    if key in FIXED_KEYS:
        return FIXED_KEYS[key]
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "actors" and parts[2] == "role":
        return "an actor's role decides who the allies are, and so the shape of every outcome"
    return None


def _override_error(where: str, what: str, name: str, exc: OverrideError) -> SweepError:
    """The scenario validator's message, prefixed by where in the sweep file it came from."""
    rest = exc.problem if exc.key in (name, "") else f"{exc.key}: {exc.problem}"
    return SweepError(f"{where}: {what} '{name}': {rest}")


def validate_factors(spec: SweepSpec, base: Parameters, where: str) -> None:
    """Check each factor as a scenario file's value is checked: the key must name one value that may
    vary between points, and every level (or both ends of a range) must be valid for it."""
    for name, f in spec.factors.items():
        reason = _fixed_reason(name)
        if reason is not None:
            raise SweepError(f"{where}: factor '{name}': cannot vary between points: {reason}")
        try:
            value = get_value(base, name)
        except OverrideError as exc:
            raise _override_error(where, "factor", name, exc) from None
        if isinstance(value, (BaseModel, dict, list)):
            raise SweepError(f"{where}: factor '{name}': names a table or list, not one value; vary one of its "
                             f"entries (e.g. {name}.<key>)")
        probes = f.levels if f.levels is not None else (
            [int(f.low), int(f.high)] if f.integer else [f.low, f.high])
        for v in probes:
            try:
                apply_overrides(base, {name: v}, via="")
            except OverrideError as exc:
                err = _override_error(where, "factor", name, exc)
                if "whole number" in exc.problem and f.levels is None and not f.integer:
                    err = SweepError(f"{err}; add integer = true to the range")
                raise err from None


def _first_error(exc: ValidationError) -> str:
    from alliance_sim.scenario_errors import _show

    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err.get("type") in ("extra_forbidden",):
        import difflib

        options = list(SweepSpec.model_fields) if len(err["loc"]) == 1 else []
        hint = difflib.get_close_matches(str(err["loc"][-1]), options, n=1)
        msg = "unknown key" + (f"; did you mean '{hint[0]}'?" if hint else "")
    elif "input" in err and not isinstance(err["input"], dict):
        msg = f"{msg}, got {_show(err['input'])}"
    text = f"{loc}: {msg}" if loc else msg
    return text if len(text) <= 300 else text[:297] + "..."


def parse_sweep(data: dict, where: str = "sweep") -> SweepSpec:
    """Validate a sweep definition given as a dict."""
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise SweepError(f"{where}: {_first_error(exc)}") from None


def read_sweep_file(path: str | Path) -> SweepSpec:
    """Read and validate a sweep TOML file (structure only; see ``load_sweep`` for the base).  Bytes are
    decoded defensively: a binary or Latin-1 file is a one-line error, not a UnicodeDecodeError."""
    from alliance_sim.scenario_files import read_spec_toml

    return parse_sweep(read_spec_toml(path, "sweep", SweepError), str(path))


@dataclass
class Sweep:
    """A validated sweep with its base parameters resolved and its points built."""

    spec: SweepSpec
    source: str
    base: Parameters
    base_name: str
    base_hash: str
    seed: int
    months: int
    points: PointTable
    posterior: Any = None   # a posterior.Posterior, or None

    @property
    def n_points(self) -> int:
        return len(self.points)


def _params_hash(params: Parameters) -> str:
    return hashlib.sha256(params.model_dump_json().encode()).hexdigest()[:16]


def load_base(spec: SweepSpec, sweep_dir: Path, where: str) -> tuple[Parameters, str, str]:
    """The base parameters (a scenario file relative to the sweep file, a shipped scenario's name, or the
    defaults), its name and hash, with the sweep's fixed ``set`` overrides applied."""
    if spec.base is None:
        params, name, h = Parameters(), "defaults", ""
    else:
        from alliance_sim.scenario import ScenarioError, load_scenario

        local = sweep_dir / spec.base
        try:  # a path relative to the sweep file, or the name of a shipped scenario
            sc = load_scenario(local if local.exists() else spec.base)
        except ScenarioError as exc:
            raise SweepError(f"{where}: base scenario: {exc}") from None
        params, name, h = sc.params, sc.name, sc.hash
    params = _apply_set(spec, params, where)
    return params, name, h or _params_hash(params)


def _apply_set(spec: SweepSpec, params: Parameters, where: str) -> Parameters:
    """The sweep's fixed ``[set]`` overrides, checked as a scenario's values are."""
    for key in spec.set:
        try:
            get_value(params, key)
        except OverrideError as exc:
            raise _override_error(where, "set", key, exc) from None
    try:
        return apply_overrides(params, dict(spec.set), via="[set]")
    except OverrideError as exc:
        raise SweepError(f"{where}: set '{exc.key}': {exc.problem}") from None


def make_sweep(spec: SweepSpec, *, source: str = "sweep", sweep_dir: str | Path = ".",
               base: Parameters | None = None) -> Sweep:
    """Resolve the base, validate the factors against it and build the points."""
    if base is None:
        params, name, h = load_base(spec, Path(sweep_dir), source)
    else:
        params, name, h = base, "custom", _params_hash(base)
        params = _apply_set(spec, params, source)
    validate_factors(spec, params, source)
    seed = params.simulation.seed if spec.seed is None else spec.seed
    months = params.simulation.months if spec.months is None else spec.months
    post = _load_posterior(spec, params, Path(sweep_dir), source)
    return Sweep(spec, source, params, name, h, int(seed), int(months), build_points(spec, int(seed)), post)


def _load_posterior(spec: SweepSpec, params: Parameters, sweep_dir: Path, where: str):
    """The sweep's posterior, checked against the base: every particle a valid point, none of its parameters
    also fixed by ``set`` (the particle would silently replace the fixed value)."""
    if spec.posterior is None:
        return None
    from alliance_sim.posterior import PosteriorError, check_posterior, load_posterior

    path = Path(spec.posterior)
    path = path if path.is_absolute() else sweep_dir / path
    try:
        post = load_posterior(path)
        check_posterior(params, post)
    except PosteriorError as exc:
        raise SweepError(f"{where}: posterior: {exc}") from None
    both = [n for n in post.names if n in spec.set]
    if both:
        raise SweepError(f"{where}: set.{both[0]}: fixed by set and drawn by the posterior {spec.posterior}; "
                         "expected one or the other")
    return post


def load_sweep(path: str | Path) -> Sweep:
    """Read, validate and resolve a sweep file."""
    spec = read_sweep_file(path)
    return make_sweep(spec, source=str(path), sweep_dir=Path(path).parent)
