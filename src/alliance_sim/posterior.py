"""Posterior ensembles: every replicate's parameters drawn from a calibration's posterior.

``alliance run SCENARIO --posterior posterior.nc`` (and ``api.run(..., posterior=...)``) gives replicate r the
parameters of one particle of the last generation of ``alliance calibrate``'s posterior, chosen by weight
with a counter-based draw of (seed, r) — so the bands carry parameter uncertainty as well as chance, and, as
for every draw of the model, the choice does not depend on how the replicates are split into chunks,
processes or dask tasks. The particles' parameter points are compiled once each and stacked as rows of one
batch (``batching.compile_batch(..., index=...)``), so a posterior ensemble runs the same compiled step.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alliance_sim.model import rng
from alliance_sim.model.batching import StructureMismatch, compile_batch
from alliance_sim.model.compiled import Compiled
from alliance_sim.model.parameters import Parameters
from alliance_sim.overrides import OverrideError, apply_overrides


class PosteriorError(ValueError):
    """A posterior file that cannot be used (one line: the file, the key and what was expected)."""


@dataclass(frozen=True)
class Posterior:
    """The weighted particles of a posterior's last generation."""

    path: str
    names: tuple[str, ...]  # override paths (as --set)
    theta: np.ndarray  # (particles, parameters)
    weights: np.ndarray  # (particles,), sum 1
    digest: str  # sha256 of the particles and weights, recorded in the manifest

    def overrides(self, k: int) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, self.theta[k], strict=True)}


def _read_particles_csv(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(theta, weights, names) of a ``particles.csv``: a ``weight`` column, then one column per parameter."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise PosteriorError(f"{path}: no such file; expected the particles.csv or posterior.nc of "
                             "`alliance calibrate`") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise PosteriorError(f"{path}: not a CSV table of particles ({type(exc).__name__})") from None
    if "weight" not in table.columns or len(table.columns) < 2:
        raise PosteriorError(f"{path}: weight: expected a 'weight' column and one column per parameter, got "
                             f"columns {', '.join(map(str, table.columns)) or 'none'}")
    names = tuple(str(c) for c in table.columns if c != "weight")
    try:
        theta = table[list(names)].to_numpy(dtype=np.float64)
        weight = table["weight"].to_numpy(dtype=np.float64)
    except ValueError:
        bad = next(c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c]))
        raise PosteriorError(f"{path}: {bad}: expected numbers in every row") from None
    return theta, weight, names


def load_posterior(path: str | Path) -> Posterior:
    """Read ``posterior.nc`` (its last generation) or ``particles.csv``, as written by ``alliance calibrate``;
    the CSV form is how a calibration's posterior is shipped (``calibrations/particles/``)."""
    import xarray as xr

    path = Path(path)
    if path.suffix.lower() == ".csv":
        theta, weight, names = _read_particles_csv(path)
        return _posterior(path, theta, weight, names)
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            theta = np.asarray(ds.theta.isel(generation=-1).values, dtype=np.float64)
            weight = np.asarray(ds.weight.isel(generation=-1).values, dtype=np.float64)
            names = tuple(str(n) for n in ds.parameter.values)
    except FileNotFoundError:
        raise PosteriorError(f"{path}: no such file; expected the posterior.nc of `alliance calibrate`") from None
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise PosteriorError(f"{path}: not a posterior of `alliance calibrate` (no theta/weight/parameter: "
                             f"{type(exc).__name__})") from None
    return _posterior(path, theta, weight, names)


def _posterior(path: Path, theta: np.ndarray, weight: np.ndarray, names: tuple[str, ...]) -> Posterior:
    keep = ~np.isnan(theta).any(axis=1) & np.isfinite(weight) & (weight > 0)
    if not keep.any():
        raise PosteriorError(f"{path}: weight: the last generation has no weighted particle")
    theta, weight = np.ascontiguousarray(theta[keep]), weight[keep] / weight[keep].sum()
    digest = hashlib.sha256(theta.tobytes() + weight.tobytes() + "|".join(names).encode()).hexdigest()
    return Posterior(str(path), names, theta, weight, digest)


def particle_of(post: Posterior, seed: int, replicate_ids) -> np.ndarray:
    """The particle of each replicate: inverse CDF of the weights at a draw of (seed, replicate) alone."""
    keys = rng.replicate_keys(seed, np.asarray(replicate_ids, dtype=np.int64))
    u = rng.uniform_column(keys, 0, rng.STREAM_POSTERIOR, 0)
    cdf = np.cumsum(post.weights)
    return np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), len(cdf) - 1)


def check_posterior(params: Parameters, post: Posterior) -> None:
    """Every particle must be a valid parameter point of the scenario (one-line error otherwise)."""
    for k in range(post.theta.shape[0]):
        _point(params, post, k)


def _point(params: Parameters, post: Posterior, k: int) -> Parameters:
    try:
        return apply_overrides(params, post.overrides(k), via="posterior", source=post.path)
    except OverrideError as exc:
        raise PosteriorError(f"{post.path}: particle {k}: {exc}") from None


def compile_replicates(params: Parameters, post: Posterior, seed: int, replicate_ids, months: int) -> Compiled:
    """A batch whose row r carries the parameters of replicate ``replicate_ids[r]``'s particle."""
    idx = particle_of(post, seed, replicate_ids)
    used, position = np.unique(idx, return_inverse=True)
    points = [_point(params, post, int(k)) for k in used]
    try:
        return compile_batch(points, 1, months, index=position)
    except StructureMismatch as exc:
        raise PosteriorError(f"{post.path}: parameter: {exc} (a posterior can only vary behavioural "
                             "parameters within one run)") from None
