"""Use alliance-sim from the EMA Workbench: an EMA ``Model`` whose uncertainties are dotted keys of the
parameter tree and whose outcomes are sweep outputs (``p_crossed.KOR`` …).

EMA names must be Python identifiers, so dots become double underscores
(``threats.nk_provocations.rate_per_month`` -> ``threats__nk_provocations__rate_per_month``,
``min_cohesion_q.0.5`` -> ``min_cohesion_q__0__5``); ``ema_name`` gives the mapping.

Example::

    from ema_workbench import MultiprocessingEvaluator, perform_experiments
    from alliance_sim.sweeps.ema_adapter import ema_model

    model = ema_model("tariff_shock_2025", {"mechanisms.tariff_weight": (0.0, 1.5)},
                      outputs=["p_crossed.KOR"], replicates=200, months=24)
    with MultiprocessingEvaluator(model) as ev:
        experiments, outcomes = perform_experiments(model, scenarios=100, evaluator=ev)

If this process has already run a model with citizens (``population.size_per_ally`` > 0), numba's
OpenMP threads make ``fork`` unsafe: call ``multiprocessing.set_start_method("spawn")`` (or
``"forkserver"``) before using the ``MultiprocessingEvaluator``.

Each experiment runs one point (``run_points`` on a single point with the model's replicates, so
EMA's results equal the sweep runner's for the same point, seed and replicates).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alliance_sim.batch import run_points
from alliance_sim.model.parameters import Parameters
from alliance_sim.overrides import OverrideError, apply_overrides, get_value
from alliance_sim.sweeps.design import Factor, Sweep, SweepError
from alliance_sim.sweeps.outputs import check_outputs, output_values


def ema_name(key: str) -> str:
    """An identifier for a dotted key or output (dots -> ``__``, other non-word characters -> ``_``)."""
    name = re.sub(r"\W", "_", key.replace(".", "__"))
    return name if name.isidentifier() else f"_{name}"


class AllianceFunction:
    """The picklable callable an EMA ``Model`` runs: keyword uncertainties in, scalar outcomes out."""

    def __init__(self, base: Parameters, keys: dict[str, str], outputs: dict[str, str], replicates: int,
                 seed: int, months: int):
        self.base, self.keys, self.outputs = base, keys, outputs
        self.replicates, self.seed, self.months = replicates, seed, months

    def overrides(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in kwargs.items():
            if k not in self.keys:
                raise TypeError(f"unexpected uncertainty {k!r}; expected one of {sorted(self.keys)}")
            out[self.keys[k]] = v.item() if hasattr(v, "item") else v
        return out

    def __call__(self, **kwargs) -> dict[str, float]:
        ds = run_points(self.base, [self.overrides(kwargs)], replicates=self.replicates, seed=self.seed,
                        months=self.months)
        return {name: float(output_values(ds, out)[0]) for name, out in self.outputs.items()}


def _base(scenario: str | Path | Parameters | None) -> Parameters:
    if scenario is None:
        return Parameters()
    if isinstance(scenario, Parameters):
        return scenario
    from alliance_sim.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(scenario).params
    except ScenarioError as exc:
        raise SweepError(str(exc)) from None


def _parameter(name: str, key: str, f: Factor):
    from ema_workbench import CategoricalParameter, IntegerParameter, RealParameter

    if f.levels is not None:
        return CategoricalParameter(name, list(f.levels), variable_name=name)
    if f.integer:
        return IntegerParameter(name, int(f.low), int(f.high), variable_name=name)
    return RealParameter(name, float(f.low), float(f.high), variable_name=name)


def ema_model(scenario: str | Path | Parameters | None, uncertainties: dict[str, Any], outputs: list[str],
              *, replicates: int = 100, seed: int | None = None, months: int | None = None,
              name: str = "alliance", set: dict[str, Any] | None = None):
    """An EMA Workbench ``Model`` of ``scenario`` (a path, a shipped name, ``Parameters`` or None = defaults).

    ``uncertainties`` maps dotted keys to ``(low, high)`` tuples, ``Factor`` objects or dicts
    (``{"low":…, "high":…}``, ``{"levels": [...]}``, ``{"low":…, "high":…, "integer": True}``).
    ``set`` gives fixed overrides (e.g. ``{"population.size_per_ally": 0}``)."""
    from ema_workbench import Model, ScalarOutcome

    base = _base(scenario)
    if set:
        try:
            base = apply_overrides(base, dict(set))
        except OverrideError as exc:
            raise SweepError(f"set: {exc}") from None
    factors: dict[str, Factor] = {}
    for key, u in uncertainties.items():
        if isinstance(u, Factor):
            f = u
        elif isinstance(u, dict):
            f = Factor.model_validate(u)
        else:
            low, high = u
            f = Factor(low=low, high=high)
        try:
            get_value(base, key)
            for v in (f.levels if f.levels is not None else [f.low, f.high]):
                apply_overrides(base, {key: int(v) if f.integer else v})
        except OverrideError as exc:
            raise SweepError(f"uncertainty '{key}': {exc}") from None
        factors[key] = f
    seed = base.simulation.seed if seed is None else int(seed)
    months = base.simulation.months if months is None else int(months)
    # The outputs are checked on a one-month probe without citizens: running the citizens' kernel
    # (numba, OpenMP threads) here would make fork-based pools (MultiprocessingEvaluator) unsafe.
    probe = apply_overrides(base, {"population.size_per_ally": 0})
    check_outputs(run_points(probe, [{}], replicates=1, seed=seed, months=1), outputs, "ema_model")
    keys = {ema_name(k): k for k in factors}
    outs = {ema_name(o): o for o in outputs}
    model = Model(name, function=AllianceFunction(base, keys, outs, replicates, seed, months))
    model.uncertainties = [_parameter(ema_name(k), k, f) for k, f in factors.items()]
    model.outcomes = [ScalarOutcome(n) for n in outs]
    return model


def model_from_sweep(sweep: Sweep, name: str = "alliance"):
    """The EMA model of a sweep's base, factors, outputs, replicates, seed and horizon."""
    return ema_model(sweep.base, dict(sweep.spec.factors), sweep.spec.outputs, replicates=sweep.spec.replicates,
                     seed=sweep.seed, months=sweep.months, name=name)
