"""Benchmark: a 10-parameter Sobol' sweep on the local dask cluster, against EMA Workbench driving the
same compiled step one point at a time.

The full design is N = 1024 base samples × (10 + 2) = 12,288 points × 100 replicates × 120 months
(147 M replicate-months) on the seed scenario with the aggregate-opinion population
(``population.size_per_ally = 0``).  ``--quick`` runs a prefix of the design (the same points the
full run starts with) and extrapolates; so do the EMA Workbench figure (MultiprocessingEvaluator, one
``run_points`` call per experiment) and the figure with the default population of citizens.

    python benchmarks/bench_sweep.py --quick              # a few minutes on 2 cores
    python benchmarks/bench_sweep.py                      # the full design
    python benchmarks/bench_sweep.py --scheduler tcp://host:8786

Figures are replicate-months per second (one replicate advanced by one month = 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from alliance_sim.sweeps.analysis import sobol_indices
from alliance_sim.sweeps.design import PointTable, Sweep, make_sweep, parse_sweep
from alliance_sim.sweeps.runner import default_workers, run_sweep
from alliance_sim.sweeps.store import open_store

FACTORS = {
    "mechanisms.tariff_weight": (0.1, 1.5),
    "mechanisms.threat_weight": (0.5, 3.0),
    "mechanisms.balance_weight": (0.0, 1.5),
    "mechanisms.burden_weight": (0.0, 0.6),
    "mechanisms.leader_weight": (0.2, 1.5),
    "mechanisms.china_trade_weight": (1.0, 6.0),
    "mechanisms.tie_adjustment_rate": (0.05, 0.3),
    "mechanisms.trade_elasticity": (0.5, 4.0),
    "actors.KOR.leader_orientation": (-1.0, 0.5),
    "threats.nk_provocations.rate_per_month": (0.5, 6.0),
}


def design(n: int, replicates: int, months: int, population: int, task_size: int) -> Sweep:
    spec = parse_sweep({
        "name": "bench_sobol", "base": "tariff_shock_2025", "replicates": replicates, "months": months,
        "seed": 1, "task_size": task_size, "outputs": ["p_crossed.KOR"],
        "set": {"population.size_per_ally": population},
        "design": {"kind": "sobol", "n": n, "calc_second_order": False},
        "factors": {k: {"low": lo, "high": hi} for k, (lo, hi) in FACTORS.items()},
    }, "bench")
    return make_sweep(spec, source="bench")


def prefix(sweep: Sweep, k: int) -> Sweep:
    """The first ``k`` points of a sweep (a valid sweep of its own, for timing)."""
    p = sweep.points
    k = min(k, len(p))
    return dataclasses.replace(sweep, points=PointTable(p.factors, p.unit[:k], p.values[:k], p.overrides[:k]))


def time_sweep(sweep: Sweep, tmp: Path, label: str, analyze: bool = False, **kw) -> dict:
    """Time ``run_sweep`` (and, with ``analyze``, the Sobol' indices of every output from the store)."""
    out = tmp / f"{label}.zarr"
    t0 = time.perf_counter()
    rep = run_sweep(sweep, out, progress=sys.stderr.isatty(), **kw)
    total = time.perf_counter() - t0
    rm = sweep.n_points * sweep.spec.replicates * sweep.months
    row = {"label": label, "points": sweep.n_points, "rm": rm, "run_s": rep.wall_time, "total_s": total,
           "rate": rm / rep.wall_time, "workers": rep.workers}
    if analyze:
        t1 = time.perf_counter()
        with open_store(out) as ds:
            row["indices"] = {o: sobol_indices(ds, o) for o in sweep.spec.outputs}
        row["analysis_s"] = time.perf_counter() - t1
    return row


def time_ema(sweep: Sweep, workers: int) -> dict:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench import MultiprocessingEvaluator, perform_experiments
        from ema_workbench.em_framework.points import Sample

    from alliance_sim.sweeps.ema_adapter import ema_model, ema_name

    model = ema_model(sweep.base, dict(sweep.spec.factors), ["p_crossed.KOR"], replicates=sweep.spec.replicates,
                      seed=sweep.seed, months=sweep.months)
    scenarios = [Sample(**{ema_name(k): v for k, v in o.items()}) for o in sweep.points.overrides]
    t0 = time.perf_counter()
    with MultiprocessingEvaluator(model, n_processes=workers) as ev:
        t1 = time.perf_counter()
        perform_experiments(model, scenarios=scenarios, evaluator=ev)
        t2 = time.perf_counter()
    rm = sweep.n_points * sweep.spec.replicates * sweep.months
    return {"label": "ema_multiprocessing", "points": sweep.n_points, "rm": rm, "run_s": t2 - t1,
            "total_s": time.perf_counter() - t0, "rate": rm / (t2 - t1), "workers": workers}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="Time prefixes of the design and extrapolate.")
    ap.add_argument("--n", type=int, default=1024, help="Sobol' base samples N (default 1024).")
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--months", type=int, default=120)
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--scheduler", default=None, help="Run on an existing dask cluster instead.")
    ap.add_argument("--task-size", type=int, default=128)
    ap.add_argument("--points", type=int, default=96, help="--quick: points timed on the cluster.")
    ap.add_argument("--ema-points", type=int, default=16, help="Points timed through EMA Workbench.")
    ap.add_argument("--pop-points", type=int, default=8, help="Points timed with the default population.")
    ap.add_argument("--skip-ema", action="store_true")
    ap.add_argument("--skip-population", action="store_true")
    a = ap.parse_args(argv)

    full = design(a.n, a.replicates, a.months, 0, a.task_size)
    full_rm = full.n_points * a.replicates * a.months
    print(f"design: Sobol' N={a.n}, D={len(FACTORS)} -> {full.n_points} points × {a.replicates} replicates × "
          f"{a.months} months = {full_rm / 1e6:.1f} M replicate-months; {a.workers} workers on "
          f"{os.cpu_count()} cores{' via ' + a.scheduler if a.scheduler else ''}")
    where = {"scheduler": a.scheduler} if a.scheduler else {"workers": a.workers}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not a.skip_ema:
            rows.append(time_ema(prefix(full, a.ema_points), a.workers))
        task = max(1, min(a.task_size, -(-a.points // (2 * max(a.workers, 1)))))
        sweep = prefix(full, a.points) if a.quick else full
        rows.append(time_sweep(sweep, tmp, "dask_sweep_pop0", analyze=not a.quick,
                               task_size=task if a.quick else a.task_size, **where))
        if not a.skip_population:
            pop = prefix(design(a.n, a.replicates, a.months, 100, a.task_size), a.pop_points)
            rows.append(time_sweep(pop, tmp, "dask_sweep_pop100", task_size=max(1, a.pop_points // (2 * a.workers)),
                                   **where))
    print(f"\n{'run':<22}{'points':>8}{'M rep-months':>14}{'run s':>9}{'total s':>9}{'rep-months/s':>15}"
          f"{'full design (extrapolated)':>30}")
    for r in rows:
        est = full_rm / r["rate"]
        print(f"{r['label']:<22}{r['points']:>8}{r['rm'] / 1e6:>14.2f}{r['run_s']:>9.1f}{r['total_s']:>9.1f}"
              f"{r['rate']:>15,.0f}{est / 3600:>24.2f} h" + ("" if r["points"] < full.n_points else " (measured)"))
    base = next((r for r in rows if r["label"] == "dask_sweep_pop0"), None)
    if base and "analysis_s" in base:
        for output, table in base["indices"].items():
            top = table.sort_values("ST", ascending=False).head(3)
            print(f"\nSobol' indices of {output} (largest ST): "
                  + ", ".join(f"{f} S1={r.S1:.2f} ST={r.ST:.2f}±{r.ST_conf:.2f}" for f, r in top.iterrows()))
        print(f"full Sobol' analysis: sweep {base['total_s']:.1f} s (cluster start, tasks, store) + indices "
              f"{base['analysis_s']:.1f} s = {base['total_s'] + base['analysis_s']:.1f} s (target < 40 s)")
    pop = next((r for r in rows if r["label"] == "dask_sweep_pop100"), None)
    if pop:
        minutes = full_rm / pop["rate"] / 60
        print(f"default population (100 citizens per ally), full design extrapolated: {minutes:.1f} min "
              "(target < 5 min)")
    ema = next((r for r in rows if r["label"] == "ema_multiprocessing"), None)
    if base and ema:
        print(f"\ndask sweep vs EMA MultiprocessingEvaluator (same step, same points): "
              f"{base['rate'] / ema['rate']:.2f}x")
    print("rate = replicate-months / run seconds (run = tasks only; total adds cluster start, probe and store)")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
