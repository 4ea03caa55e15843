"""The two drivers of the one compiled step (``model/step.py``).

* ``EnsembleSim`` advances R replicates month by month, the state stored as (blocks, rows, LANES): each
  agent's decision and the transition are one parallel loop over blocks.  ``AllianceModel.step`` (and with it
  the ensemble runner, ``alliance run``, ``compare`` and the dashboard) uses it.
* ``run_trajectories`` runs whole trajectories of many rows (sweep points × replicates) in one parallel loop,
  each block's state in local memory for the whole horizon, and returns their final outcomes.  Draws depend
  only on (replicate, month, stream, index) and every point of a sweep uses the same replicates, so each
  replicate's draws are computed once into a table shared by all its rows.

Both call the same functions of ``step`` with arrays of the same types, so they compute the same numbers:
a row's result depends only on its own parameters, seed and replicate id.  Neither uses threads: work is
spread over processes (the ensemble runner's pool, dask workers), which is where the cores go; serial loops
also compile in half the time of parallel ones.
"""

from __future__ import annotations

import numba
import numpy as np

from alliance_sim.model import rng, step
from alliance_sim.model.compiled import (
    GROUP_APPEAL_SENSITIVITY,
    GROUP_BACKLASH_SENSITIVITY,
    GROUP_TARIFF_SENSITIVITY,
    GROUP_THREAT_SENSITIVITY,
    Compiled,
    group_mix,
)
from alliance_sim.model.layout import (
    BLOCK_FIELDS,
    LANES,
    SCHEDULES,
    VEC,
    F,
    Schedules,
    draw_offsets,
    draw_width,
    make_layout,
    scratch_rows,
    shape_of,
    sizes_of,
)
from alliance_sim.model.layout import STATE as STATE_VARS

_DRAW_TABLE_BYTES = 32 * 2**20  # largest draw table of one trajectory call (~1,300 replicates × 120 months)


# ================================================================================ packing
def _rows(x, Rp: int, shape: tuple) -> np.ndarray:
    """A parameter (a number or array, or one per row) as a fresh C float array (Rp,) + shape."""
    arr = np.asarray(x, dtype=np.float64)
    out = np.empty((Rp,) + shape)
    out[...] = arr.reshape(shape) if arr.size == int(np.prod(shape)) else arr.reshape((Rp,) + shape)
    return out


def parameter_rows(c: Compiled) -> int:
    """1 for one parameter point; the number of rows for a batch of points (``batching.compile_batch``)."""
    if isinstance(c.retention, np.ndarray) and c.retention.size > 1:
        return int(c.retention.shape[0])
    for attr in BLOCK_FIELDS:
        block = getattr(c, attr)
        for name in BLOCK_FIELDS[attr]:
            v = getattr(block, name)
            if isinstance(v, np.ndarray) and v.size > 1:
                return int(v.shape[0])
    for v in VEC:
        arr = np.asarray(getattr(c, v.name))
        if arr.ndim == 2:
            return int(arr.shape[0])
    for name in ("proc_magnitude", "provocation_multiplier"):
        arr = np.asarray(getattr(c, name))
        if arr.ndim == 2:
            return int(arr.shape[0])
    if np.asarray(c.initial_ties).ndim == 3:
        return int(np.asarray(c.initial_ties).shape[0])
    for name in SCHEDULES:
        arr = np.asarray(getattr(c, name))
        if arr.ndim > (3 if name in ("ev_threat", "ev_tie") else 2):
            return int(arr.shape[1])
    return 1


class Packed:
    """``c``'s parameters as the step reads them, with Rp parameter rows (1, or one per batch row)."""

    def __init__(self, c: Compiled, switched_off: tuple[str, ...] = (), attribution: bool = False):
        self.c = c
        self.sz = sizes_of(c)
        self.layout = make_layout(self.sz)
        n, A, S, K, D = self.sz.n, self.sz.A, self.sz.S, self.sz.K, self.sz.D
        Rp = self.rows = parameter_rows(c)
        P = np.empty((Rp, len(F)))
        for attr, names in BLOCK_FIELDS.items():
            block = getattr(c, attr)
            for name in names:
                P[:, F[name]] = _rows(getattr(block, name), Rp, ())
        P[:, F.retention] = _rows(c.retention, Rp, ())
        V = np.empty((Rp, len(VEC), A))
        for v in VEC:
            V[:, v, :] = _rows(getattr(c, v.name), Rp, (A,))
        self.P, self.V = P, V
        self.MK = _rows(c.proc_magnitude, Rp, (K,))
        self.MD = _rows(c.provocation_multiplier, Rp, (D,))
        self.ties0 = _rows(c.initial_ties, Rp, (n, n))
        self.stock0 = _rows(c.stock0, Rp, (n, S))
        arrays, varies = [], []
        for name in SCHEDULES:
            arr = np.asarray(getattr(c, name), dtype=np.float64)
            per_row = arr.ndim > (3 if name in ("ev_threat", "ev_tie") else 2)
            arrays.append(np.array(np.moveaxis(arr, 1, 0) if per_row else arr[None], order="C"))
            varies.append(per_row)
        self.sch = Schedules(*arrays, np.array(varies, dtype=np.bool_))
        on = np.ones(len(step.TERM))
        for name in switched_off:
            on[step.TERM[name]] = 0.0
        pop = c.pop
        self.st = step.Structure(
            ai=np.asarray(c.ally_idx, dtype=np.int64), pat=int(c.patron), ch=int(c.challenger),
            alliance_pairs=np.ascontiguousarray(c.alliance_pairs, dtype=np.int64).reshape(-1, 2),
            source_actor=np.asarray(c.source_actor, dtype=np.int64),
            proc_source=np.asarray(c.proc_source, dtype=np.int64).reshape(-1),
            proc_weights=np.ascontiguousarray(c.proc_weights, dtype=np.float64).reshape(K, n),
            proc_adversary=np.asarray(c.proc_adversary, dtype=np.int64).reshape(-1),
            src_ch=int(c.sources.index(c.params.challenger)),
            election=np.ascontiguousarray(c.election, dtype=np.bool_).reshape(-1, A),
            chip=np.asarray(c.chip, dtype=np.bool_).reshape(-1), chip_from=np.asarray(c.chip_from, dtype=np.int64),
            mix=np.asarray(group_mix(pop), dtype=np.float64), g_tariff=GROUP_TARIFF_SENSITIVITY,
            g_threat=GROUP_THREAT_SENSITIVITY, g_backlash=GROUP_BACKLASH_SENSITIVITY,
            g_appeal=GROUP_APPEAL_SENSITIVITY,
            groups=np.asarray(c.citizen_group if pop.size_per_ally else np.zeros(1), dtype=np.int64),
            citizens=int(pop.size_per_ally), patron_behavioural=c.upol.mode != "scripted",
            challenger_behavioural=c.cpol.mode == "behavioural", on=on, attribution=int(attribution))
        self.draw_width = draw_width(c)
        self.n_pairs = n * (n - 1) // 2
        self.scratch_rows = scratch_rows(self.sz, self.st.mix.shape[0])

    def blocked(self, arr_rows: np.ndarray, prow: np.ndarray) -> np.ndarray:
        """(Rp, ...) parameter rows gathered per lane into (blocks, ..., LANES)."""
        g = arr_rows[prow.reshape(-1)]  # (blocks·LANES, ...)
        g = g.reshape((prow.shape[0], LANES) + arr_rows.shape[1:])
        return np.ascontiguousarray(np.moveaxis(g, 1, -1))


def ensemble_bytes_per_replicate(c: Compiled) -> int:
    """Bytes an ``EnsembleSim`` holds per replicate: its state rows, this month's draws and the lanes'
    parameters (``layout.STATE``, ``layout.draw_offsets``, ``F``/``VEC``), and its key and parameter row."""
    sz = sizes_of(c)
    rows = make_layout(sz).width + draw_width(c) + len(F) + len(VEC) * sz.A + sz.K + sz.D
    return 8 * rows + 16


def _blocked_ids(ids: np.ndarray) -> np.ndarray:
    """Replicate positions padded to whole blocks (the padding repeats the last one; never read back)."""
    R = ids.shape[0]
    nb = -(-R // LANES)
    pos = np.minimum(np.arange(nb * LANES), R - 1)
    return pos.reshape(nb, LANES)


# ================================================================================ ensemble driver kernels
@numba.njit(cache=True, error_model="numpy")
def _ens_init(Z, Ly, sz, P, V, keys, prow, ties0, stock0, sch, st, nW):
    W = np.empty((nW, LANES))
    for b in range(Z.shape[0]):
        step.initial_state(Z[b], Ly, sz, P[b], V[b], keys[b], prow[b], ties0, stock0, sch, st, W)


@numba.njit(cache=True, error_model="numpy")
def _ens_draws(Dr, keys, t, A, D, K, n_pairs):
    for b in range(Dr.shape[0]):
        for m in range(Dr.shape[2]):
            step.fill_draws(keys[b, m], t, A, D, K, n_pairs, Dr[b], m)


@numba.njit(cache=True, error_model="numpy")
def _ens_decide_patron(Z, Ly, sz, P, V, Dr, prow, sch, st, t, nW):
    W = np.empty((nW, LANES))
    for b in range(Z.shape[0]):
        step.decide_patron(Z[b], Ly, sz, P[b], V[b], Dr[b], prow[b], sch, st, t, W)


@numba.njit(cache=True, error_model="numpy")
def _ens_decide_ally(Z, Ly, sz, P, V, Dr, prow, sch, st, t, a, nW):
    W = np.empty((nW, LANES))
    for b in range(Z.shape[0]):
        step.decide_ally(Z[b], Ly, sz, P[b], V[b], Dr[b], prow[b], sch, st, t, a, W)


@numba.njit(cache=True, error_model="numpy")
def _ens_decide_challenger(Z, Ly, sz, P, Dr, prow, sch, st, t, nW):
    W = np.empty((nW, LANES))
    for b in range(Z.shape[0]):
        step.decide_challenger(Z[b], Ly, sz, P[b], Dr[b], prow[b], sch, st, t, W)


@numba.njit(cache=True, error_model="numpy")
def _ens_decide_adversary(Z, Ly, sz, P, Dr, t, d, nW):
    W = np.empty((nW, LANES))
    for b in range(Z.shape[0]):
        step.decide_adversary(Z[b], Ly, sz, P[b], Dr[b], t, d, W)


@numba.njit(cache=True, error_model="numpy")
def _ens_transition(Z, Ly, sz, P, V, MK, MD, Dr, keys, prow, sch, st, t, nW):
    W = np.empty((nW, LANES))
    Wk = np.empty(LANES, dtype=np.uint64)
    for b in range(Z.shape[0]):
        step.transition(Z[b], Ly, sz, P[b], V[b], MK[b], MD[b], Dr[b], keys[b], prow[b], sch, st, t, W, Wk)


class EnsembleSim:
    """R replicates of one ``Compiled`` (a point, or a batch whose rows carry different parameters)."""

    def __init__(self, c: Compiled, replicate_ids, seed: int, switched_off: tuple[str, ...] = (),
                 attribution: bool = True):
        self.c = c
        # ``attribution``: account for each driver group's share of every tie's change (state ``driver_share``)
        self.packed = pk = Packed(c, switched_off, attribution)
        self.ids = np.asarray(replicate_ids, dtype=np.int64)
        self.R = R = self.ids.shape[0]
        if R < 1:
            raise ValueError("an ensemble needs at least one replicate")
        pos = _blocked_ids(self.ids)
        self.keys_flat = rng.replicate_keys(seed, self.ids)
        self.keys = np.ascontiguousarray(self.keys_flat[pos])
        # Row of the parameters of each lane: the replicate's own row in a batch, else the one point.
        self.prow = np.ascontiguousarray(pos if pk.rows > 1 else np.zeros_like(pos))
        if pk.rows > 1 and pk.rows != R:
            raise ValueError(f"a batch of {pk.rows} rows needs {pk.rows} replicate ids, got {R}")
        nb = pos.shape[0]
        self.P = pk.blocked(pk.P, self.prow).reshape(nb, len(F), LANES)
        self.V = pk.blocked(pk.V, self.prow)
        self.MK = pk.blocked(pk.MK, self.prow)
        self.MD = pk.blocked(pk.MD, self.prow)
        self.Z = np.empty((nb, pk.layout.width, LANES))
        self.Dr = np.empty((nb, pk.draw_width, LANES))
        self.month = 0
        _ens_init(self.Z, pk.layout, pk.sz, self.P, self.V, self.keys, self.prow, pk.ties0, pk.stock0, pk.sch,
                  pk.st, pk.scratch_rows)

    # -- one month, in the phases the Mesa agents drive --------------------------------------------
    def begin_month(self) -> None:
        """This month's draws (decisions, threat events, elections, tie noise) for every replicate."""
        sz = self.packed.sz
        _ens_draws(self.Dr, self.keys, self.month, sz.A, sz.D, sz.K, self.packed.n_pairs)

    def decide_patron(self) -> np.ndarray:
        pk = self.packed
        _ens_decide_patron(self.Z, pk.layout, pk.sz, self.P, self.V, self.Dr, self.prow, pk.sch, pk.st, self.month,
                           pk.scratch_rows)
        return self.field("us_choice").astype(np.int8)

    def decide_ally(self, a: int) -> np.ndarray:
        pk = self.packed
        _ens_decide_ally(self.Z, pk.layout, pk.sz, self.P, self.V, self.Dr, self.prow, pk.sch, pk.st, self.month,
                         int(a), pk.scratch_rows)
        return self.field("ally_choice")[:, a].astype(np.int8)

    def decide_challenger(self) -> np.ndarray:
        pk = self.packed
        _ens_decide_challenger(self.Z, pk.layout, pk.sz, self.P, self.Dr, self.prow, pk.sch, pk.st, self.month,
                               pk.scratch_rows)
        return self.field("china_choice").astype(np.int8)

    def decide_adversary(self, d: int) -> np.ndarray:
        pk = self.packed
        _ens_decide_adversary(self.Z, pk.layout, pk.sz, self.P, self.Dr, self.month, int(d), pk.scratch_rows)
        return self.field("adversary_choice")[:, d].astype(np.int8)

    def transition(self) -> None:
        """Apply this month's choices (as the agents left them in the state) and inputs: month t → t+1."""
        pk = self.packed
        _ens_transition(self.Z, pk.layout, pk.sz, self.P, self.V, self.MK, self.MD, self.Dr, self.keys, self.prow,
                        pk.sch, pk.st, self.month, pk.scratch_rows)
        self.month += 1

    def set_choices(self, name: str, values: np.ndarray) -> None:
        """Overwrite this month's choices ``name`` (us_choice, ally_choice, …) with (R, cols) values."""
        self._write(name, np.asarray(values, dtype=np.float64).reshape(self.R, -1))

    # -- reading the state -------------------------------------------------------------------------
    def field(self, name: str) -> np.ndarray:
        """State variable ``name`` of every replicate, shaped (R,) + its shape (a copy)."""
        spec = _SPECS[name]
        shape = shape_of(spec, self.packed.sz)
        width = int(np.prod(shape))
        o = getattr(self.packed.layout, name)
        block = self.Z[:, o:o + width, :]  # (nb, width, LANES)
        flat = np.array(np.moveaxis(block, 2, 1).reshape(block.shape[0] * LANES, width)[: self.R])  # a copy
        return flat.reshape((self.R,) + (() if spec == "1" else shape))

    def _write(self, name: str, values: np.ndarray) -> None:
        spec = _SPECS[name]
        width = int(np.prod(shape_of(spec, self.packed.sz)))
        o = getattr(self.packed.layout, name)
        nb = self.Z.shape[0]
        padded = values[_blocked_ids(self.ids).reshape(-1)].reshape(nb, LANES, width)
        self.Z[:, o:o + width, :] = np.moveaxis(padded, 2, 1)


_SPECS = dict(STATE_VARS)


# ================================================================================ trajectory driver
@numba.njit(cache=True, error_model="numpy")
def _draw_table(keys, months, A, D, K, n_pairs, out):
    """Every tabled draw of each replicate key and month, into ``out`` (keys, draws, months)."""
    for u in range(keys.shape[0]):
        for t in range(months):
            step.fill_draws(keys[u], t, A, D, K, n_pairs, out[u], t)


@numba.njit(cache=True, error_model="numpy")
def _trajectories(rows, krow, keys, table, months, Ly, sz, P_all, V_all, MK_all, MD_all, ties0, stock0, sch, st, nW,
                  out_align, out_coh, out_crossed, out_min_coh, out_tariff, out_threat, out_rel):
    n_rows = rows.shape[0]
    NF, NV = P_all.shape[1], V_all.shape[1]
    A, K, D = sz.A, sz.K, sz.D
    Wd = table.shape[1]
    W = np.empty((nW, LANES))
    Wk = np.empty(LANES, dtype=np.uint64)
    for grp in range((n_rows + LANES - 1) // LANES):
        prow = np.empty(LANES, dtype=np.int64)
        kl = np.empty(LANES, dtype=np.int64)
        lane_keys = np.empty(LANES, dtype=np.uint64)
        for m in range(LANES):
            q = min(grp * LANES + m, n_rows - 1)  # a short last group repeats its last row (not written back)
            prow[m] = rows[q]
            kl[m] = krow[q]
            lane_keys[m] = keys[q]
        P = np.empty((NF, LANES))
        V = np.empty((NV, A, LANES))
        MK = np.empty((K, LANES))
        MD = np.empty((D, LANES))
        for m in range(LANES):
            r = prow[m]
            for f in range(NF):
                P[f, m] = P_all[r, f]
            for v in range(NV):
                for a in range(A):
                    V[v, a, m] = V_all[r, v, a]
            for k in range(K):
                MK[k, m] = MK_all[r, k]
            for d in range(D):
                MD[d, m] = MD_all[r, d]
        Z = np.empty((Ly.width, LANES))
        Dr = np.empty((Wd, LANES))
        step.initial_state(Z, Ly, sz, P, V, lane_keys, prow, ties0, stock0, sch, st, W)
        for t in range(months):
            for c in range(Wd):
                for m in range(LANES):
                    Dr[c, m] = table[kl[m], c, t]
            step.decide_all(Z, Ly, sz, P, V, Dr, prow, sch, st, t, W)
            step.transition(Z, Ly, sz, P, V, MK, MD, Dr, lane_keys, prow, sch, st, t, W, Wk)
        for m in range(LANES):
            q = grp * LANES + m
            if q < n_rows:
                for a in range(A):
                    out_align[q, a] = Z[Ly.alignment + a, m]
                    out_crossed[q, a] = Z[Ly.crossed + a, m] != 0.0
                    out_tariff[q, a] = Z[Ly.tariff + a, m]
                    out_threat[q, a] = Z[Ly.threat + st.ai[a], m]
                    out_rel[q, a] = Z[Ly.reliability + a, m]
                out_coh[q] = Z[Ly.cohesion, m]
                out_min_coh[q] = Z[Ly.min_cohesion, m]


def run_trajectories(c: Compiled, replicate_ids, seed: int, months: int | None = None,
                     switched_off: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Final outcomes of every row of ``c`` (a point's replicates, or a batch's rows) after ``months`` months.

    Returns alignment (R, A), cohesion (R,), crossed (R, A) bool — alignment < 0 at any month end —,
    min_cohesion (R,), tariff (R, A), threat (R, A) of the allies and reliability (R, A).
    """
    T = c.months if months is None else int(months)
    if T > c.months:
        raise ValueError(f"compiled for {c.months} months, asked for {T}")
    pk = Packed(c, switched_off)
    ids = np.asarray(replicate_ids, dtype=np.int64)
    keys = rng.replicate_keys(seed, ids)
    R, A = keys.shape[0], c.n_allies
    if pk.rows > 1 and pk.rows != R:
        raise ValueError(f"a batch of {pk.rows} rows needs {pk.rows} replicate ids, got {R}")
    out = {"alignment": np.empty((R, A)), "cohesion": np.empty(R), "crossed": np.zeros((R, A), dtype=np.bool_),
           "min_cohesion": np.empty(R), "tariff": np.empty((R, A)), "threat": np.empty((R, A)),
           "reliability": np.empty((R, A))}
    sz = pk.sz
    width = pk.draw_width
    # Rows sharing a replicate key share its draws: one table per block of distinct keys, the block sized
    # so that the table stays within _DRAW_TABLE_BYTES (memory bounded for any number of rows).
    uniq, inverse = np.unique(keys, return_inverse=True)
    per_block = max(1, _DRAW_TABLE_BYTES // (max(T, 1) * width * 8))
    for b0 in range(0, uniq.shape[0], per_block):
        block = uniq[b0:b0 + per_block]
        sel = np.arange(R) if block.shape[0] == uniq.shape[0] else \
            np.flatnonzero((inverse >= b0) & (inverse < b0 + block.shape[0]))
        table = np.empty((block.shape[0], width, max(T, 1)))
        _draw_table(block, T, sz.A, sz.D, sz.K, pk.n_pairs, table)
        part = {k: np.empty((sel.shape[0],) + v.shape[1:], dtype=v.dtype) for k, v in out.items()}
        prows = sel if pk.rows > 1 else np.zeros_like(sel)
        _trajectories(prows.astype(np.int64), (inverse[sel] - b0).astype(np.int64), keys[sel], table, T,
                      pk.layout, sz, pk.P, pk.V, pk.MK, pk.MD, pk.ties0, pk.stock0, pk.sch, pk.st, pk.scratch_rows,
                      part["alignment"], part["cohesion"], part["crossed"], part["min_cohesion"], part["tariff"],
                      part["threat"], part["reliability"])
        for k, v in part.items():
            out[k][sel] = v
    return out


def draw_offsets_of(c: Compiled) -> tuple[int, ...]:
    """Row offsets of ``c``'s month draws (see ``layout.draw_offsets``)."""
    return draw_offsets(c.n_allies, len(c.adversary_idx), len(c.proc_source), c.n * (c.n - 1) // 2)
