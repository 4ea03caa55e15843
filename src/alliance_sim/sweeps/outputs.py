"""Outputs of interest named as dotted strings: ``p_crossed.KOR``, ``final_alignment_mean.JPN``,
``min_cohesion_q.0.5``, ``final_alignment_q.0.5.KOR``.

The first part is an outcome variable; the remaining parts select one value along each of its
dimensions after ``point``, in order (numbers such as ``0.5`` may contain a dot).
"""

from __future__ import annotations

import re

import numpy as np
import xarray as xr

from alliance_sim.sweeps.design import SweepError

_NUMBER = re.compile(r"-?\d+(\.\d+)?(e-?\d+)?")


def parse_output(ds: xr.Dataset, output: str) -> tuple[str, dict]:
    """The variable name and the ``sel`` dict an output string names in ``ds``."""
    names = sorted((str(k) for k in ds.data_vars), key=len, reverse=True)
    var = next((v for v in names if output == v or output.startswith(v + ".")), None)
    outcome_vars = [v for v in ds.data_vars if "point" in ds[v].dims and v not in ("x", "unit")]
    if var is None or var in ("x", "unit"):
        raise SweepError(f"output '{output}': unknown outcome; expected one of {sorted(outcome_vars)}")
    rest = output[len(var) + 1:] if output != var else ""
    sel: dict = {}
    for dim in ds[var].dims[1:]:
        coord = ds[dim].values
        if not rest:
            raise SweepError(f"output '{output}': add the {dim}, one of {_fmt(coord)} "
                             f"(e.g. {output}.{_fmt(coord)[0]})")
        if np.issubdtype(coord.dtype, np.number):
            m = _NUMBER.match(rest)
            token = m.group(0) if m else rest.split(".")[0]
            try:
                value = float(token)
            except ValueError:
                value = None
            hit = [c for c in coord if value is not None and np.isclose(c, value)]
        else:
            token = rest.split(".")[0]
            hit = [c for c in coord if str(c) == token]
        if not hit:
            raise SweepError(f"output '{output}': {dim} '{token}' not found; expected one of {_fmt(coord)}")
        sel[dim] = hit[0]
        rest = rest[len(token):].removeprefix(".")
    if rest:
        raise SweepError(f"output '{output}': unexpected '{rest}' after {var}")
    return var, sel


def _fmt(coord) -> list[str]:
    return [f"{c:g}" if isinstance(c, (float, np.floating)) else str(c) for c in coord]


def check_outputs(ds: xr.Dataset, outputs: list[str], where: str) -> None:
    """Every output must name a value in ``ds`` (a one-line error otherwise)."""
    for o in outputs:
        try:
            parse_output(ds, o)
        except SweepError as exc:
            raise SweepError(f"{where}: {exc}") from None


def output_values(ds: xr.Dataset, output: str) -> np.ndarray:
    """The output's value at every point (loads one variable slice)."""
    var, sel = parse_output(ds, output)
    return np.asarray(ds[var].sel(sel).values, dtype=float)
