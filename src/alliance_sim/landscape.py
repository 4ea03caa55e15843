"""Landscape theory of aggregation (Axelrod & Bennett 1993) for any set of actors, and the structural-
balance dynamics run from the same inputs.

A :class:`Landscape` is a scenario of generic actors: names, sizes (strengths) and pairwise propensities
p_ij, integers from 1 to 5 (3 neutral, higher = more affinity). The actor set is data, e.g. the shipped
Syria 2016 inputs (``alliance_sim/data/landscape_syria/``, from Furnas 2016).

Energy, exactly as the source's R script computes it (see the data README):

    E(σ) = Σ_i Σ_j s_i s_j q_ij d_ij,   q_ij = p_ij − 3 (q_ii = 0),   d_ij = 1 if i, j on different sides

over **ordered** pairs (each unordered pair counted twice, no ½), with the raw strengths s_i. With
sides σ_i ∈ {+1, −1} and W_ij = s_i s_j q_ij, d_ij = (1 − σ_i σ_j)/2, so E = (ΣW − σᵀWσ)/2, and the
change of E when actor k alone switches is ΔE_k = 2 σ_k (Wσ)_k.

Configurations are listed with actor 0 fixed on side 1 (E is invariant under flipping every side), so
there are 2^(n−1) of them, the one with everyone together (E = 0) included. A configuration is a local
minimum when no single actor's switch strictly lowers E; every actor counts, actor 0 included (its
switch is the same configuration as switching all the others).

Nothing here draws or writes; :func:`load_landscape` is the only function that reads files.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_EXHAUSTIVE_ACTORS = 22  # 2^21 configurations × 22 actors is ~46M cells: enough, and bounded
ACTORS_FILE = "actors.csv"
PROPENSITY_FILE = "propensity.csv"


class LandscapeError(ValueError):
    """A bad landscape input, phrased as one line naming the file and row."""


@dataclass(frozen=True)
class Landscape:
    """Generic actors with sizes and a symmetric propensity matrix (integers 1..5, diagonal unused)."""

    actors: tuple[str, ...]
    strengths: np.ndarray  # (n,) positive sizes, raw (not normalised)
    propensity: np.ndarray  # (n, n) p_ij; the diagonal is ignored
    name: str = "landscape"

    def __post_init__(self):
        s = np.asarray(self.strengths, dtype=float)
        p = np.asarray(self.propensity, dtype=float)
        n = len(self.actors)
        if n < 2:
            raise LandscapeError(f"{self.name}: needs at least 2 actors, got {n}")
        if len(set(self.actors)) != n:
            raise LandscapeError(f"{self.name}: actor names repeat: {list(self.actors)}")
        if s.shape != (n,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise LandscapeError(f"{self.name}: strengths must be {n} positive finite numbers, got {s.tolist()}")
        if p.shape != (n, n):
            raise LandscapeError(f"{self.name}: propensity must be {n}x{n}, got {p.shape}")
        off = ~np.eye(n, dtype=bool)
        if not np.all(np.isfinite(p[off])):
            raise LandscapeError(f"{self.name}: propensity has missing off-diagonal values")
        if not np.allclose(p[off], p.T[off]):
            raise LandscapeError(f"{self.name}: propensity is not symmetric")
        p = np.where(off, p, 3.0)  # neutral diagonal: q_ii = 0
        object.__setattr__(self, "strengths", s)
        object.__setattr__(self, "propensity", p)
        object.__setattr__(self, "actors", tuple(self.actors))

    @property
    def n(self) -> int:
        return len(self.actors)

    @property
    def q(self) -> np.ndarray:
        """q_ij = p_ij − 3, zero on the diagonal."""
        return self.propensity - 3.0

    @property
    def weights(self) -> np.ndarray:
        """W_ij = s_i s_j q_ij (zero diagonal)."""
        return np.outer(self.strengths, self.strengths) * self.q


# ----------------------------------------------------------------------------------- reading

def _cells(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LandscapeError(f"{path}: file not found") from None
    except OSError as exc:
        raise LandscapeError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise LandscapeError(f"{path}: not UTF-8 text") from None
    rows = [[c.strip() for c in row] for row in csv.reader(text.splitlines())]
    return [r for r in rows if any(r)]


def load_landscape(directory: str | Path, name: str | None = None) -> Landscape:
    """Read ``actors.csv`` (columns ``actor``, ``strength``; others ignored) and ``propensity.csv`` (a
    header ``actor,<names>`` and one row per actor, both in the actors' order, empty diagonal).

    Every problem is one :class:`LandscapeError` line naming the file and the row."""
    directory = Path(directory)
    if not directory.is_dir():
        raise LandscapeError(f"{directory}: not a directory with {ACTORS_FILE} and {PROPENSITY_FILE}")
    apath, ppath = directory / ACTORS_FILE, directory / PROPENSITY_FILE

    rows = _cells(apath)
    if not rows:
        raise LandscapeError(f"{apath}: empty file")
    header = rows[0]
    for col in ("actor", "strength"):
        if col not in header:
            raise LandscapeError(f"{apath}: row 1 (header): no column {col!r} (found {header})")
    ia, is_ = header.index("actor"), header.index("strength")
    actors: list[str] = []
    strengths: list[float] = []
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise LandscapeError(f"{apath}: row {r}: {len(row)} fields, the header has {len(header)}")
        actor = row[ia]
        if not actor:
            raise LandscapeError(f"{apath}: row {r}: empty actor name")
        if actor in actors:
            raise LandscapeError(f"{apath}: row {r}: actor {actor!r} repeats")
        try:
            value = float(row[is_])
        except ValueError:
            raise LandscapeError(f"{apath}: row {r} ({actor}): strength {row[is_]!r} is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise LandscapeError(f"{apath}: row {r} ({actor}): strength {row[is_]!r} must be positive")
        actors.append(actor)
        strengths.append(value)
    n = len(actors)
    if n < 2:
        raise LandscapeError(f"{apath}: needs at least 2 actors, found {n}")

    rows = _cells(ppath)
    if not rows:
        raise LandscapeError(f"{ppath}: empty file")
    names = rows[0][1:]
    if names != actors:
        raise LandscapeError(f"{ppath}: row 1 (header): columns {names} are not the actors of {ACTORS_FILE} "
                             f"in the same order {actors}")
    if len(rows) - 1 != n:
        raise LandscapeError(f"{ppath}: {len(rows) - 1} matrix rows, {ACTORS_FILE} has {n} actors")
    p = np.full((n, n), np.nan)
    for i, row in enumerate(rows[1:]):
        r = i + 2
        if len(row) != n + 1:
            raise LandscapeError(f"{ppath}: row {r}: {len(row)} fields, expected {n + 1}")
        if row[0] != actors[i]:
            raise LandscapeError(f"{ppath}: row {r}: actor {row[0]!r}, expected {actors[i]!r} (same order as "
                                 f"{ACTORS_FILE})")
        for j, cell in enumerate(row[1:]):
            if i == j:
                if cell not in ("", "NA"):
                    raise LandscapeError(f"{ppath}: row {r} ({actors[i]}): the diagonal must be empty, "
                                         f"got {cell!r}")
                continue
            try:
                v = int(cell)
            except ValueError:
                v = None
            if v is None or not 1 <= v <= 5:
                raise LandscapeError(f"{ppath}: row {r} ({actors[i]}), column {actors[j]}: {cell!r} is not "
                                     f"an integer from 1 to 5")
            p[i, j] = v
    for i in range(n):
        for j in range(i):
            if p[i, j] != p[j, i]:
                raise LandscapeError(f"{ppath}: row {i + 2} ({actors[i]}), column {actors[j]}: {int(p[i, j])} "
                                     f"but {int(p[j, i])} at row {j + 2} ({actors[j]}), column {actors[i]}: "
                                     f"not symmetric")
    return Landscape(tuple(actors), np.array(strengths), p, name=name or directory.name)


def shipped_syria_dir() -> Path:
    """The shipped copy of the Syria 2016 inputs (package data)."""
    from importlib import resources

    return Path(str(resources.files("alliance_sim").joinpath("data", "landscape_syria")))


# ----------------------------------------------------------------------------------- energy

def _as_sides(sides) -> np.ndarray:
    """Sides as ±1: accepts 1/2 labels, ±1 or booleans (True = side 1)."""
    a = np.asarray(sides)
    if a.dtype == bool:
        return np.where(a, 1.0, -1.0)
    a = a.astype(float)
    if np.all(np.isin(a, (1.0, 2.0))):
        return np.where(a == 1.0, 1.0, -1.0)
    if np.all(np.isin(a, (1.0, -1.0))):
        return a
    raise LandscapeError(f"sides must be 1/2 or +1/-1, got {a.tolist()}")


def energy(land: Landscape, sides) -> float:
    """E = Σ_i Σ_j s_i s_j q_ij d_ij over ordered pairs i ≠ j (written out, as the script does)."""
    sigma = _as_sides(sides)
    d = (sigma[:, None] != sigma[None, :]).astype(float)
    return float(np.sum(land.weights * d))


def frustration(land: Landscape, sides) -> np.ndarray:
    """F_i = Σ_j s_i s_j q_ij d_ij, as the script outputs it; E = Σ_i F_i."""
    sigma = _as_sides(sides)
    d = (sigma[:, None] != sigma[None, :]).astype(float)
    return np.sum(land.weights * d, axis=1)


def switch_gains(land: Landscape, sides) -> np.ndarray:
    """ΔE_k = E(k switched) − E: 2 σ_k (Wσ)_k for each actor k."""
    sigma = _as_sides(sides)
    return 2.0 * sigma * (land.weights @ sigma)


@dataclass(frozen=True)
class Enumeration:
    """Every configuration with actor 0 on side 1: sides (m, n) of ±1, energies (m,), local-minimum flags."""

    land: Landscape
    sides: np.ndarray
    energies: np.ndarray
    local_min: np.ndarray

    @property
    def minimum(self) -> float:
        return float(self.energies.min())

    def argmins(self, tol: float = 1e-9) -> np.ndarray:
        """Indices of the configurations at the global minimum (ties included)."""
        return np.flatnonzero(self.energies <= self.minimum + tol * max(1.0, abs(self.minimum)))

    def local_minima(self) -> np.ndarray:
        """Indices of the local minima, lowest energy first."""
        idx = np.flatnonzero(self.local_min)
        return idx[np.argsort(self.energies[idx], kind="stable")]

    def index_of(self, sides) -> int:
        sigma = _as_sides(sides)
        sigma = sigma * sigma[0]  # actor 0 on side 1
        hit = np.flatnonzero(np.all(self.sides == sigma, axis=1))
        return int(hit[0])

    def rank_of(self, sides) -> int:
        """1 + the number of configurations with strictly lower energy."""
        e = self.energies[self.index_of(sides)]
        return 1 + int(np.sum(self.energies < e - 1e-9 * max(1.0, abs(e))))


def enumerate_configurations(land: Landscape) -> Enumeration:
    """All 2^(n−1) configurations with actor 0 fixed on side 1, their energies and local-minimum flags."""
    n = land.n
    if n > MAX_EXHAUSTIVE_ACTORS:
        raise LandscapeError(f"{land.name}: {n} actors is too many to enumerate (at most "
                             f"{MAX_EXHAUSTIVE_ACTORS})")
    m = 1 << (n - 1)
    codes = np.arange(m, dtype=np.int64)
    bits = (codes[:, None] >> np.arange(n - 1, dtype=np.int64)[None, :]) & 1  # bit k-1: actor k on side 2
    sigma = np.ones((m, n))
    sigma[:, 1:] = 1.0 - 2.0 * bits
    W = land.weights
    Ws = sigma @ W  # (m, n): (Wσ)_k, W symmetric
    energies = 0.5 * (W.sum() - np.einsum("mk,mk->m", sigma, Ws))
    gains = 2.0 * sigma * Ws
    scale = np.abs(W).sum()
    local = np.all(gains >= -1e-12 * max(scale, 1.0), axis=1)
    return Enumeration(land, sigma, energies, local)


def camps(land: Landscape, sides) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(side-1 actors, side-2 actors), with actor 0's side called side 1."""
    sigma = _as_sides(sides)
    sigma = sigma * sigma[0]
    one = tuple(a for a, s in zip(land.actors, sigma, strict=True) if s > 0)
    two = tuple(a for a, s in zip(land.actors, sigma, strict=True) if s < 0)
    return one, two


# ----------------------------------------------------------------------------------- dynamics

@dataclass(frozen=True)
class BalanceRun:
    """The end of a balance-dynamics run: the ties, the sides read off them, and how it ended."""

    ties: np.ndarray  # (n, n) final X, zero diagonal
    sides: np.ndarray  # (n,) ±1, actor 0 on +1
    balanced: bool  # every off-diagonal tie non-zero with sign σ_i σ_j
    steps: int
    converged: bool  # sign pattern balanced and unchanged for `settle` steps, or X fixed


def ties_from_propensity(land: Landscape) -> np.ndarray:
    """Signed initial ties X_ij = q_ij / 2 = (p_ij − 3)/2 ∈ [−1, 1], zero diagonal."""
    return land.q / 2.0


def balance_dynamics(land: Landscape, ties: np.ndarray | None = None, *, step: float = 0.1,
                     max_steps: int = 100_000, settle: int = 50, sized: bool = True) -> BalanceRun:
    """Structural-balance dynamics from signed ties, and the two camps they split into.

    Rule (discrete time, size-weighted, clipped):

        B_ij = Σ_{k ≠ i,j} X_ik w_k X_kj / Σ_{k ≠ i,j} w_k,    w_k = s_k (or 1 with sized=False),
        X_ij ← clip(X_ij + step · B_ij, −1, 1),                X_ii = 0.

    This is the "friend of my friend" rule dX/dt = X·X of Kułakowski et al. (2005, bounded ties) and
    Marvel et al. (2011), the same triadic balance pressure the alliance model uses (B_ij in
    :func:`alliance_sim.model.step.balance_pressure`), here with each third party weighted by its size so
    that big actors pull harder, as they do in the landscape energy. Why this rather than a descent on
    the landscape energy: a descent would reach one of the energy's own local minima by construction, so
    comparing it with the exhaustive minimum would only test the enumeration; the balance dynamics is an
    independent mechanism (it moves ties, not sides) and can therefore disagree. Plain clipping (no
    (1 − X²) factor) lets ties that start at ±1 move back if their triads push against them.

    It stops when the sign pattern is balanced and has not changed for ``settle`` steps, or when X no
    longer changes, or after ``max_steps``. Sides are the signs of the leading eigenvector of X (actor 0
    on +1): for a balanced X they are exactly the two camps, whatever the magnitudes.
    """
    n = land.n
    X = ties_from_propensity(land) if ties is None else np.array(ties, dtype=float)
    if X.shape != (n, n):
        raise LandscapeError(f"{land.name}: ties must be {n}x{n}, got {X.shape}")
    if not np.allclose(X, X.T):
        raise LandscapeError(f"{land.name}: ties must be symmetric")
    if not step > 0:
        raise LandscapeError(f"step must be positive, got {step}")
    np.fill_diagonal(X, 0.0)
    w = land.strengths if sized else np.ones(n)
    # Σ_{k≠i,j} w_k for each pair (diagonal: any positive number; B_ii is discarded)
    norm = w.sum() - w[:, None] - w[None, :]
    norm[norm <= 0] = 1.0
    stable_for = 0
    last_signs = np.sign(X)
    steps = 0
    converged = False
    while steps < max_steps:
        steps += 1
        B = (X * w[None, :]) @ X / norm  # diagonal of X is 0, so k = i or k = j adds nothing
        new = np.clip(X + step * B, -1.0, 1.0)
        np.fill_diagonal(new, 0.0)
        signs = np.sign(new)
        fixed = np.array_equal(new, X)
        X = new
        if np.array_equal(signs, last_signs) and _is_balanced(X):
            stable_for += 1
        else:
            stable_for = 0
        last_signs = signs
        if fixed or stable_for >= settle:
            converged = True
            break
    sides = _sides_from_ties(X)
    return BalanceRun(ties=X, sides=sides, balanced=_is_balanced(X, sides), steps=steps, converged=converged)


def _sides_from_ties(X: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(X)
    v = vecs[:, int(np.argmax(vals))]
    sides = np.where(v >= 0, 1.0, -1.0)
    return sides * sides[0]


def _is_balanced(X: np.ndarray, sides: np.ndarray | None = None) -> bool:
    n = X.shape[0]
    off = ~np.eye(n, dtype=bool)
    if np.any(X[off] == 0):
        return False
    if sides is None:
        sides = _sides_from_ties(X)
    return bool(np.all(np.sign(X[off]) == np.outer(sides, sides)[off]))


def perturbed_balance(land: Landscape, runs: int, noise: float, seed: int = 0, **kwargs) -> dict[tuple, int]:
    """How often the balance dynamics reaches each split when the initial ties q/2 get symmetric Gaussian
    noise of standard deviation ``noise`` (clipped to [−1, 1]): {side-2 actors: runs}, most frequent first.
    A robustness check of the unperturbed run; ``kwargs`` go to :func:`balance_dynamics`."""
    if runs < 1 or not noise >= 0:
        raise LandscapeError(f"perturbed runs need runs >= 1 and noise >= 0, got {runs}, {noise}")
    rng = np.random.default_rng(seed)
    counts: dict[tuple, int] = {}
    base = ties_from_propensity(land)
    for _ in range(runs):
        e = rng.normal(0.0, noise, base.shape)
        X = np.clip(base + (e + e.T) / 2.0, -1.0, 1.0)
        key = camps(land, balance_dynamics(land, X, **kwargs).sides)[1]
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
