"""Many parameter points in one ensemble: rows of the replicate axis carry different parameter values.

A sweep evaluates thousands of points with ~100 replicates each; one small model per point would
spend its time in numpy call overhead.  Instead the points are stacked along the replicate axis —
rows ``k*R .. (k+1)*R-1`` are point k's replicates 0..R-1 (common random numbers) — and every
parameter that differs between points becomes an array with one value per row:

* numeric fields of the mechanism, population and policy blocks → (rows, 1) arrays;
* per-ally vectors (A,) → (rows, A); per-process magnitudes (K,) → (rows, K);
* month-indexed schedules (T, ...) → (T, rows, ...); the threat retention → (rows, 1, 1).

Parameters that change the model's *structure* (actors, dates, population size and group shares,
threat targets, policy modes) cannot differ within a batch: :class:`StructureMismatch` is raised
and the caller runs such points separately.  Row r of a batch computes exactly what replicate r of
the point's own ensemble computes (tested bit-for-bit).
"""

from __future__ import annotations

from dataclasses import fields
from types import SimpleNamespace

import numpy as np
from pydantic import BaseModel

from alliance_sim.model.compiled import Compiled, compile_parameters
from alliance_sim.model.parameters import Parameters

# Compiled arrays indexed by month first: stack points on axis 1.
_TIME_INDEXED = {"proc_rate", "country_rate", "sector_rate", "demand", "ev_threat", "ev_reassure", "ev_leader",
                 "ev_induce", "ev_coerce", "ev_tie"}
# Compiled arrays that may vary per point: stack points on a new leading row axis.
_PER_ROW = {"exports_to_gdp", "share_us0", "share_cn0", "defense0", "reliability0", "entrapment",
            "orientation0", "hawk", "conciliatory", "latitude", "fav_us0", "fav_cn0", "chip_base", "chip_pain",
            "chip_effort", "chip_tie", "chip_bonus", "chip_months", "provocation_multiplier", "proc_magnitude",
            "country_weight", "initial_ties", "stock0"}
_BLOCKS = {"mech": "mechanisms", "pop": "population", "upol": "us_policy", "apol": "ally_policy",
           "cpol": "china_policy", "advpol": "adversary_policy"}
_STRUCTURAL_FIELDS = {"population": {"size_per_ally", "share_exporters", "share_security_minded",
                                     "share_nationalists"},
                      "us_policy": {"mode"}, "china_policy": {"mode"}}


class StructureMismatch(ValueError):
    """The points differ in something that changes the model's structure; run them separately."""


def _same(values) -> bool:
    first = values[0]
    if isinstance(first, np.ndarray):
        return all(v.shape == first.shape and np.array_equal(v, first, equal_nan=True) for v in values[1:])
    return all(v == first for v in values[1:])


def _block(name: str, blocks: list[BaseModel], spread) -> object:
    """The points' values of one parameter block, per row where they differ."""
    if all(b == blocks[0] for b in blocks[1:]):
        return blocks[0]
    ns = {}
    for field_name in type(blocks[0]).model_fields:
        values = [getattr(b, field_name) for b in blocks]
        if _same(values):
            ns[field_name] = values[0]
        elif field_name in _STRUCTURAL_FIELDS.get(name, set()) or not isinstance(values[0], (int, float)):
            raise StructureMismatch(f"{name}.{field_name} differs between points and changes the model's structure")
        else:
            ns[field_name] = spread(np.asarray(values, dtype=np.float64), 0)[:, None]
    return SimpleNamespace(**ns)


def compile_batch(points: list[Parameters], rows_per_point: int, months: int | None = None, *,
                  index=None) -> Compiled:
    """One ``Compiled`` for all ``points``, each repeated over ``rows_per_point`` rows — or, with ``index``
    (one point number per row), row r carrying point ``index[r]`` (a posterior ensemble: replicate r's
    particle)."""
    if not points:
        raise ValueError("compile_batch needs at least one point")
    if index is None:
        def spread(arr, axis):
            return np.repeat(arr, rows_per_point, axis=axis)
    else:
        index = np.asarray(index, dtype=np.int64)

        def spread(arr, axis):
            return np.take(arr, index, axis=axis)
    compiled = [compile_parameters(p, months) for p in points]
    if len(compiled) == 1:
        return compiled[0]
    first = compiled[0]
    values = {}
    for f in fields(Compiled):
        name = f.name
        if name in ("params",) or name in _BLOCKS:
            continue
        vals = [getattr(c, name) for c in compiled]
        if name == "event_marks" or _same(vals):
            values[name] = vals[0]
        elif name == "retention":
            values[name] = spread(np.asarray(vals, dtype=np.float64), 0).reshape(-1, 1, 1)
        elif name in _TIME_INDEXED:
            values[name] = spread(np.stack(vals, axis=1), 1)
        elif name in _PER_ROW:
            values[name] = spread(np.stack(vals, axis=0), 0)
        else:
            raise StructureMismatch(f"'{name}' differs between points and changes the model's structure")
    for attr, block in _BLOCKS.items():
        values[attr] = _block(block, [getattr(p, block) for p in points], spread)
    return Compiled(params=first.params, **values)
