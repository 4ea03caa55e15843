"""Streaming summaries of an ensemble: mergeable, exact and independent of how replicates are split.

A million replicates do not fit in memory as trajectories, so each chunk folds its months into
fixed-bin histograms (quantiles to within one bin: 0.001 for alignment and ties), integer counts
(crossings, first-crossing month, decisions) and exact sums (values rounded to 2^-32, summed as
int64, so the mean does not depend on the order of addition).  Merging two accumulators is integer
addition: any split of the replicates into chunks, processes or machines gives identical summaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alliance_sim.model.compiled import ADVERSARY_OPTIONS, ALLY_OPTIONS, CHINA_OPTIONS, US_OPTIONS, Compiled
from alliance_sim.model.layout import DRIVER_GROUPS
from alliance_sim.model.state import Decisions, EnsembleState
from alliance_sim.model.step import export_share
from alliance_sim.observation import favourable_share

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_FIXED = float(2**32)


@dataclass(frozen=True)
class Series:
    """One recorded quantity: how to read it from the state, its column dimension and histogram range."""

    name: str
    dim: str | tuple[str, ...] | None  # "ally", "pair", ("ally", "driver"), ("pair", "driver") or None (a scalar)
    lo: float
    hi: float
    bins: int
    unit: str
    description: str


SERIES = (
    Series("alignment", "ally", -1, 1, 2000, "-1 Beijing .. +1 Washington",
           "Alignment: (tie with patron - tie with challenger) / 2"),
    Series("tie", "pair", -1, 1, 2000, "-1 .. 1", "Signed tie of each pair of actors"),
    Series("cohesion", None, -1, 1, 2000, "-1 .. 1", "Trilateral cohesion: mean tie among patron and allies"),
    Series("tariff", "ally", 0, 2, 2000, "fraction ad valorem", "Trade-weighted US tariff in force"),
    Series("threat", "ally", 0, 1, 1000, "0 .. 1", "Perceived threat"),
    Series("reliability", "ally", 0, 1, 1000, "0 .. 1", "Perceived reliability of the patron"),
    Series("public_stance", "ally", -1, 1, 1000, "-1 .. 1", "Public opinion: (fav. US - fav. China) / 2"),
    Series("leader_stance", "ally", -1, 1, 1000, "-1 .. 1", "Leader's effective stance"),
    Series("defense_effort", "ally", 0, 20, 2000, "% of GDP", "Ally's defence effort"),
    Series("burden_gap", "ally", 0, 20, 2000, "% of GDP", "Patron's demand minus ally's effort"),
    Series("export_share_us", "ally", 0, 1, 1000, "fraction of exports", "Share of exports to the patron"),
    Series("export_share_china", "ally", 0, 1, 1000, "fraction of exports",
           "Share of exports to the challenger"),
    # Driver attribution (docs/model.md §8.1): the groups' shares add up to the change since the start month.
    Series("alignment_driver", ("ally", "driver"), -1, 1, 500, "alignment units",
           "Each driver group's share of the change of alignment since the start (the shares add up to it)"),
    # means only (bins = 0): quantiles of every pair × group would double the summaries' memory
    Series("tie_driver", ("pair", "driver"), -1, 1, 0, "tie units",
           "Each driver group's share of the change of the tie since the start (the shares add up to it)"),
    # The observation model (alliance_sim.observation): comparable to poll percentages.
    Series("favourable_us", "ally", 0, 1, 1000, "fraction of citizens",
           "Share of the ally's citizens favourable to the patron (opinion of the US > 0; aggregate mode: "
           "Phi(x / opinion_spread))"),
    Series("favourable_china", "ally", 0, 1, 1000, "fraction of citizens",
           "Share of the ally's citizens favourable to the challenger (opinion of China > 0; aggregate "
           "mode: Phi(x / opinion_spread))"),
)

_DIM_SIZE = {"driver": lambda c: len(DRIVER_GROUPS), "ally": lambda c: c.n_allies, "pair": lambda c: len(c.pairs)}


def series_dims(spec: Series) -> tuple[str, ...]:
    """The column dimensions of a series (empty for a scalar per replicate)."""
    return () if spec.dim is None else (spec.dim,) if isinstance(spec.dim, str) else spec.dim


def series_shape(spec: Series, c: Compiled) -> tuple[int, ...]:
    return tuple(_DIM_SIZE[d](c) for d in series_dims(spec))

DECISIONS = {"us_decision": ("ally", US_OPTIONS), "ally_decision": ("ally", ALLY_OPTIONS),
             "china_decision": ("ally", CHINA_OPTIONS), "adversary_decision": ("adversary", ADVERSARY_OPTIONS)}


def _columns(c: Compiled) -> dict[str, int]:
    return {s.name: int(np.prod(series_shape(s, c))) for s in SERIES}


def bytes_per_replicate(c: Compiled) -> int:
    """Transient bytes per replicate while a month is recorded: each series read from the state (a float64
    copy, its histogram bin index and its fixed-point value; the favourable shares read the citizens'
    opinions, a float64 copy and a boolean per citizen) plus the crossing and minimum trackers."""
    widest = max(_columns(c).values())
    citizens = c.n_allies * max(1, int(c.pop.size_per_ally)) * (8 + 1)
    return (max(8 * 3 * widest, citizens) + sum(8 * k for k in _columns(c).values()) + (1 + 8) * c.n_allies
            + 8)


def kept_bytes_per_month(c: Compiled) -> int:
    """Bytes of one kept trajectory per month: every series (float64) and decision (int8) column."""
    decisions = sum(c.n_allies if dim == "ally" else len(c.adversary_idx) for dim, _ in DECISIONS.values())
    return 8 * sum(_columns(c).values()) + decisions


def series_values(name: str, c: Compiled, s: EnsembleState) -> np.ndarray:
    """(R, columns) values of series ``name`` in state ``s``."""
    if name == "alignment":
        return s.alignment
    if name == "tie":
        return s.ties[:, c.pair_i, c.pair_j]
    if name == "cohesion":
        return s.cohesion[:, None]
    if name == "tariff":
        return s.tariff
    if name == "threat":
        return s.threat[:, c.ally_idx]
    if name == "reliability":
        return s.reliability
    if name == "public_stance":
        return s.public
    if name == "leader_stance":
        return s.stance
    if name == "defense_effort":
        return s.effort
    if name == "burden_gap":
        return s.gap
    if name == "export_share_us":
        return export_share.py_func(s.exports_us, s.exports_us, s.exports_cn, c.share_us0, c.share_cn0)
    if name == "export_share_china":
        ex_cn = s.exports_cn
        return export_share.py_func(ex_cn, s.exports_us, ex_cn, c.share_us0, c.share_cn0)
    if name == "tie_driver":
        return s.driver_share.reshape(s.replicates, -1)
    if name == "alignment_driver":
        return alignment_shares(c, s.driver_share).reshape(s.replicates, -1)
    if name == "favourable_us":
        return _favourable(c, s, "op_us")
    if name == "favourable_china":
        return _favourable(c, s, "op_cn")
    raise KeyError(name)


def alignment_shares(c: Compiled, tie_shares: np.ndarray) -> np.ndarray:
    """(R, A, groups) shares of each ally's alignment change from (R, pairs, groups) shares of the ties':
    alignment is (T_ally,patron − T_ally,challenger) / 2, so its shares are the same difference of shares."""
    pair = {p: k for k, p in enumerate(c.pairs)}
    to_patron = [pair[tuple(sorted((int(i), int(c.patron))))] for i in c.ally_idx]
    to_challenger = [pair[tuple(sorted((int(i), int(c.challenger))))] for i in c.ally_idx]
    return 0.5 * (tie_shares[:, to_patron, :] - tie_shares[:, to_challenger, :])


def _favourable(c: Compiled, s: EnsembleState, field: str) -> np.ndarray:
    """(R, A) share of favourable citizens (observation.favourable_share).  With citizens, counted on the
    compiled step's blocked state without copying the (R, A, N) opinions out first: reading them through
    ``EnsembleState`` would transpose every citizen's opinion every month and double a run's time."""
    sim = getattr(s, "_sim", None)
    N = int(c.pop.size_per_ally)
    if N == 0 or sim is None or not hasattr(sim, "Z"):
        return favourable_share(getattr(s, field), _spread(c), N > 0)
    A = c.n_allies
    o = getattr(sim.packed.layout, field)
    nb, _, lanes = sim.Z.shape
    count = (sim.Z[:, o:o + A * N, :].reshape(nb, A, N, lanes) > 0).sum(axis=2)  # (blocks, A, lanes)
    return np.moveaxis(count, 2, 1).reshape(nb * lanes, A)[: s.replicates] / N


def _spread(c: Compiled):
    """σ of the citizens' opinions: a number, or (R, 1) per row in a batch of parameter points."""
    return c.pop.opinion_spread


def decision_values(name: str, d: Decisions) -> np.ndarray:
    return {"us_decision": d.us, "ally_decision": d.ally, "china_decision": d.china,
            "adversary_decision": d.adversary}[name]


def _histogram(values: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """(columns, bins) counts of ``values`` (R, columns); values outside [lo, hi] go to the end bins."""
    R, cols = values.shape
    idx = np.floor((values - lo) * (bins / (hi - lo))).astype(np.int64)
    np.clip(idx, 0, bins - 1, out=idx)
    idx += np.arange(cols)[None, :] * bins
    return np.bincount(idx.ravel(), minlength=cols * bins).reshape(cols, bins)


def _fixed_sum(values: np.ndarray) -> np.ndarray:
    """Exact, order-independent sum over replicates of values rounded to 2^-32."""
    return np.rint(values * _FIXED).astype(np.int64).sum(axis=0)


def histogram_quantiles(counts: np.ndarray, lo: float, hi: float, qs=QUANTILES) -> np.ndarray:
    """Quantiles from bin counts (..., bins), linear within the bin; NaN where there are no counts."""
    bins = counts.shape[-1]
    width = (hi - lo) / bins
    cum = np.cumsum(counts, axis=-1)
    total = cum[..., -1:]
    out = np.empty((len(qs),) + counts.shape[:-1])
    for k, q in enumerate(qs):
        target = q * total
        idx = np.minimum((cum < target).sum(axis=-1, keepdims=True), bins - 1)
        before = np.where(idx > 0, np.take_along_axis(cum, np.maximum(idx - 1, 0), -1), 0)
        inbin = np.take_along_axis(counts, idx, -1)
        frac = np.where(inbin > 0, (target - before) / np.maximum(inbin, 1), 0.0)
        val = lo + (idx + np.clip(frac, 0, 1)) * width
        out[k] = np.where(total > 0, val, np.nan)[..., 0]
    return out


class SummaryAccumulator:
    """Monthly histograms, sums and counts for one chunk of replicates; merge with ``+=``."""

    def __init__(self, c: Compiled):
        T = c.months
        self.months = T
        self.n = 0
        self.columns = _columns(c)
        # histograms (for quantiles) of the series that have bins; exact sums (for means) of every series
        self.hist = {s.name: np.zeros((T, self.columns[s.name], s.bins), dtype=np.int64) for s in SERIES if s.bins}
        self.sums = {s.name: np.zeros((T, self.columns[s.name]), dtype=np.int64) for s in SERIES}
        A, D = c.n_allies, len(c.adversary_idx)
        self.decision_counts = {
            name: np.zeros((T, A if dim == "ally" else D, len(opts)), dtype=np.int64)
            for name, (dim, opts) in DECISIONS.items()}
        self.crossed_count = np.zeros((T, A), dtype=np.int64)  # crossed at least once by month t
        self.below_count = np.zeros((T, A), dtype=np.int64)  # on Beijing's side in month t
        self.first_cross = np.zeros((T + 1, A), dtype=np.int64)  # last row: never crossed
        self.min_cohesion = np.zeros((1, 2000), dtype=np.int64)
        self._crossed = None
        self._first = None
        self._min_coh = None

    def record(self, t: int, c: Compiled, s: EnsembleState, d: Decisions) -> None:
        """Fold the state after month t (and month t's decisions) into the summaries."""
        if t == 0:
            R = s.replicates
            self.n += R
            self._crossed = np.zeros((R, c.n_allies), dtype=bool)
            self._first = np.full((R, c.n_allies), self.months, dtype=np.int64)
            self._min_coh = np.full(R, np.inf)
        for spec in SERIES:
            v = series_values(spec.name, c, s)
            if spec.bins:
                self.hist[spec.name][t] += _histogram(v, spec.lo, spec.hi, spec.bins)
            self.sums[spec.name][t] += _fixed_sum(v)
        for name, (_, opts) in DECISIONS.items():
            dv = decision_values(name, d)
            for col in range(dv.shape[1]):
                self.decision_counts[name][t, col] += np.bincount(dv[:, col], minlength=len(opts))
        below = s.alignment < 0
        newly = below & ~self._crossed
        self._first[newly] = t
        self._crossed |= below
        self.crossed_count[t] += self._crossed.sum(axis=0)
        self.below_count[t] += below.sum(axis=0)
        np.minimum(self._min_coh, s.cohesion, out=self._min_coh)

    def close(self) -> None:
        """Fold per-replicate extremes into counts and drop the per-replicate arrays."""
        if self._first is None:
            return
        for a in range(self._first.shape[1]):
            self.first_cross[:, a] += np.bincount(self._first[:, a], minlength=self.months + 1)
        self.min_cohesion += _histogram(self._min_coh[:, None], -1, 1, 2000)
        self._crossed = self._first = self._min_coh = None

    def __iadd__(self, other: SummaryAccumulator) -> SummaryAccumulator:
        self.n += other.n
        for k in self.hist:
            self.hist[k] += other.hist[k]
        for k in self.sums:
            self.sums[k] += other.sums[k]
        for k in self.decision_counts:
            self.decision_counts[k] += other.decision_counts[k]
        self.crossed_count += other.crossed_count
        self.below_count += other.below_count
        self.first_cross += other.first_cross
        self.min_cohesion += other.min_cohesion
        return self
