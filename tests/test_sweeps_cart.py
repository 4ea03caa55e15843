"""CART boxes and feature scoring beside PRIM: on a design where one factor alone decides the outcome,
both must single that factor out (and the CLI writes their tables and plot)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from sweeps_helpers import ISHIGAMI_KEYS
from typer.testing import CliRunner

from alliance_sim.cli import app
from alliance_sim.sweeps.analysis import cart_boxes, feature_scores
from alliance_sim.sweeps.design import make_sweep, parse_sweep
from alliance_sim.sweeps.runner import run_sweep
from alliance_sim.sweeps.store import open_store

DECIDER = "mechanisms.tariff_weight"


def step_task(base, points, replicates, seed, months):
    """y = 1 where tariff_weight > 0.7, else 0, whatever the other factors; z = a smooth function of it."""
    b = np.array([p.get(DECIDER, 0.0) for p in points])
    return xr.Dataset({"y": (("point",), (b > 0.7).astype(float)), "z": (("point",), b**2)})


def _store(tmp_path):
    spec = parse_sweep({"design": {"kind": "lhs", "samples": 400}, "outputs": ["y", "z"], "task_size": 400,
                        "seed": 3, "factors": {k: {"low": 0.0, "high": 1.0} for k in ISHIGAMI_KEYS},
                        "prim": {"output": "y", "op": ">", "value": 0.5}})
    path = tmp_path / "c.zarr"
    run_sweep(make_sweep(spec), path, workers=0, task_fn=step_task)
    return path


def test_cart_and_feature_scores_pick_the_deciding_factor(tmp_path):
    path = _store(tmp_path)
    with open_store(path) as ds:
        cart = cart_boxes(ds, "y", ">", 0.5)
        scores = feature_scores(ds, ["y", "z"], seed=1)
    best = cart.boxes.sort_values("density", ascending=False).iloc[0]
    assert best["density"] == 1.0 and best["coverage"] == 1.0
    assert abs(best[f"{DECIDER}_low"] - 0.7) < 0.05
    others = [k for k in ISHIGAMI_KEYS if k != DECIDER]
    assert all(np.isnan(best[f"{k}_low"]) and np.isnan(best[f"{k}_high"]) for k in others)
    assert "tariff_weight" in cart.text()
    for col in ("y", "z"):
        assert scores[col].idxmax() == DECIDER
        assert scores.loc[DECIDER, col] > 0.6
        assert all(scores.loc[k, col] < 0.2 for k in others)
        assert abs(scores[col].sum() - 1.0) < 1e-6


def test_sweep_analyze_writes_cart_and_feature_scores(tmp_path):
    path = _store(tmp_path)
    out = tmp_path / "analysis"
    res = CliRunner().invoke(app, ["sweep-analyze", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "CART boxes where y > 0.5" in res.output and "feature scores" in res.output
    names = {f.name for f in out.iterdir()}
    assert {"cart_boxes.csv", "cart_boxes.txt", "feature_scores.csv", "feature_scores.png", "prim_box.csv"} <= names
    again = CliRunner().invoke(app, ["sweep-analyze", str(path), "--out", str(out)])
    assert again.exit_code == 2 and "not empty" in again.output
