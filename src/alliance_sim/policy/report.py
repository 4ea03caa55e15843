"""Write a search's results into a folder: the Pareto front and every evaluated policy (CSV), the
uncertainty draws (CSV), everything per draw (netCDF), a summary (JSON) and the plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alliance_sim.policy.search import SearchResult


def policy_table(res: SearchResult) -> pd.DataFrame:
    """One row per evaluated policy: name, generation, Pareto flag, lever values, objectives (summary
    over the draws) and, on the front, max and 90th-percentile regret per objective."""
    p = res.problem
    rows = []
    stats = res.regret_stats()
    for i, pol in enumerate(res.policies):
        row = {"policy": res.names[i], "generation": int(res.generation[i]), "pareto": bool(res.pareto[i])}
        row.update(pol)
        for k, name in enumerate(p.objective_names):
            row[name] = float(res.objectives[i, k])
        for k, name in enumerate(p.objective_names):
            row[f"regret_max.{name}"] = float(stats["max"][i, k])
            row[f"regret_p90.{name}"] = float(stats["p90"][i, k])
        rows.append(row)
    return pd.DataFrame(rows)


def draws_table(res: SearchResult) -> pd.DataFrame:
    p = res.problem
    df = pd.DataFrame(p.draws.values, columns=p.draws.factors)
    df.insert(0, "draw", np.arange(len(df)))
    return df


def dataset(res: SearchResult) -> xr.Dataset:
    """Everything per (policy, draw, objective), with lever values in analysis coordinates (months as
    months after the lever's first month) and the provenance in the attributes."""
    p = res.problem
    levers = np.array([[lev.as_number(pol[k]) for k, lev in p.spec.levers.items()] for pol in res.policies])
    facs = list(p.spec.uncertainties.values())
    draws = np.array([[f.as_number(v) for f, v in zip(facs, row, strict=True)] for row in p.draws.values],
                     dtype=float).reshape(len(p.draws), len(facs))
    ds = xr.Dataset(
        {
            "lever_value": (("policy", "lever"), levers),
            "uncertainty_value": (("draw", "uncertainty"), draws),
            "objective_value": (("policy", "objective"), res.objectives),
            "objective_by_draw": (("policy", "draw", "objective"), res.cells),
            "regret": (("policy", "draw", "objective"), res.regret),
            "pareto": (("policy",), res.pareto.astype("int8")),
            "generation": (("policy",), res.generation.astype("int32")),
        },
        coords={"policy": res.names, "lever": p.lever_names, "draw": np.arange(len(p.draws)),
                "uncertainty": p.draws.factors, "objective": p.objective_names},
    )
    ds.attrs.update(summary(res))
    ds.attrs = {k: (json.dumps(v) if not isinstance(v, (str, int, float)) else v) for k, v in ds.attrs.items()}
    return ds


def summary(res: SearchResult) -> dict:
    from alliance_sim import __version__

    p = res.problem
    s = p.spec
    return {
        "source": p.source, "name": s.name or Path(p.source).stem, "definition_hash": s.definition_hash(),
        "base": p.base_name, "base_hash": p.base_hash, "seed": p.seed, "months": p.months,
        "replicates": s.replicates, "draws": len(p.draws), "population": s.search.population,
        "generations": s.search.generations, "optimizer": "optuna NSGAIISampler",
        "policies_evaluated": len(res.policies), "cells_run": res.cells_run,
        "pareto_policies": int(res.pareto.sum()), "wall_time_s": round(res.wall_time, 2),
        "workers": res.workers, "version": __version__,
        "objectives": {k: o.model_dump(exclude_none=True) for k, o in s.objectives.items()},
    }


def write_results(res: SearchResult, folder: Path) -> list[Path]:
    """Write every file into ``folder`` (an empty temporary folder; the caller moves it in place)."""
    from alliance_sim.policy.plots import parallel_plot, pareto_plot, regret_plot, save

    folder = Path(folder)
    table = policy_table(res)
    files = []
    front = table[table["pareto"]].drop(columns=["pareto"])
    front.to_csv(folder / "pareto.csv", index=False)
    table.to_csv(folder / "policies.csv", index=False)
    draws_table(res).to_csv(folder / "draws.csv", index=False)
    dataset(res).to_netcdf(folder / "results.nc", engine="h5netcdf")
    (folder / "summary.json").write_text(json.dumps(summary(res), indent=1, default=str) + "\n")
    files += [folder / n for n in ("pareto.csv", "policies.csv", "draws.csv", "results.nc", "summary.json")]
    files.append(save(pareto_plot(res), folder / "pareto_front.png"))
    files.append(save(parallel_plot(res), folder / "parallel_coordinates.png"))
    files.append(save(regret_plot(res), folder / "regret.png"))
    return files
