"""What drives it: the driver accounting beside knock-out counterfactuals (``alliance explain``).

The step's accounting (docs/model.md §8.1) splits each ally's change of alignment exactly among the driver
groups, but it is linear: it credits a group with what acts on the ties directly. A knock-out runs the
scenario again with the group's mechanisms switched off — the same replicates and seed, so the same draws
(common random numbers) — and measures the group's *total* effect, feedbacks and interactions included
(a tariff that makes the ally hedge, the hedge that moves the other ties …). Where the two agree the
accounting is a fair summary; where they differ, the difference is what the interactions carry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from alliance_sim.ensemble import run_ensemble
from alliance_sim.model.layout import DRIVER_GROUPS
from alliance_sim.model.parameters import Parameters
from alliance_sim.model.step import TERM
from alliance_sim.results import to_dataset

# The terms of the step (step.TERM) that make up each driver group: switching them off is the group's
# knock-out.  The same terms the accounting assigns to the group, plus what sets their force in motion where
# that is a term of its own (reliability's drift and reassurance for burden & reliability).
KNOCKOUT_TERMS: dict[str, tuple[str, ...]] = {
    "tariffs_trade": ("tariff_strain", "china_trade_pull"),
    "burden_reliability": ("burden_friction", "entrapment", "quasi_alliance", "reliability_drift", "reassurance"),
    "threat": ("threat_protection", "source_threat", "common_threat"),
    "domestic_politics": ("leader_pull",),
    "balance": ("balance",),
    "china": ("inducement_impulse", "coercion_impulse", "coercion_push"),
    "ally_choices": ("concession_impulse", "hedge_impulse", "retaliation_impulse", "chip_impulse",
                     "accommodation_impulse"),
    "direct_events": ("tie_events", "tie_event_memory"),
    "noise": ("tie_noise",),
}
assert set(KNOCKOUT_TERMS) == set(DRIVER_GROUPS)
assert all(t in TERM.__members__ for terms in KNOCKOUT_TERMS.values() for t in terms)

MAX_PAIRED = 20_000  # replicates whose final alignment is kept for the paired standard errors

Progress = Callable[[str, int, int], None]  # (what is running, done, total)


@dataclass
class Explanation:
    """The baseline run, each knock-out's results and the side-by-side table."""

    name: str
    baseline: xr.Dataset
    knockouts: dict[str, xr.Dataset]
    table: pd.DataFrame  # one row per (ally, driver)


def _final(ds: xr.Dataset) -> np.ndarray:
    """(replicates, allies) alignment at the horizon of the kept trajectories."""
    return ds.alignment.isel(month=-1).values


def explain(params: Parameters, *, name: str = "", replicates: int | None = None, seed: int | None = None,
            months: int | None = None, workers: int = 1, chunk_size: int = 10_000, client=None,
            groups: tuple[str, ...] = DRIVER_GROUPS, progress: Progress | None = None,
            posterior=None) -> Explanation:
    """Run the baseline and one knock-out per driver group with common random numbers; tabulate per ally
    the accounting (mean share of the change by the horizon) beside the knock-out effect (mean of the paired
    differences baseline − knock-out, with its standard error) and the crossing probabilities.

    ``posterior`` (a loaded ``posterior.Posterior``): replicate r draws the same particle in the baseline and
    in every knock-out, so the pairs share parameters as well as random numbers."""
    unknown = [g for g in groups if g not in KNOCKOUT_TERMS]
    if unknown:
        raise ValueError(f"groups: unknown driver group {unknown[0]!r}; expected one of {', '.join(DRIVER_GROUPS)}")
    R = int(replicates if replicates is not None else params.simulation.replicates)
    keep = min(R, MAX_PAIRED)

    def run(label: str, off: tuple[str, ...]) -> xr.Dataset:
        tick = None if progress is None else (lambda done, total: progress(label, done, total))
        out = run_ensemble(params, replicates=R, seed=seed, months=months, workers=workers, chunk_size=chunk_size,
                           keep_trajectories=keep, client=client, switched_off=off, progress=tick,
                           posterior=posterior)
        return to_dataset(out, name)

    base = run("baseline", ())
    knockouts = {g: run(f"without {g}", KNOCKOUT_TERMS[g]) for g in groups}
    rows = []
    base_final = _final(base)
    for a, ally in enumerate(str(x) for x in base.ally.values):
        p_base = float(base.p_crossed.sel(ally=ally).isel(month=-1))
        change = float(base.alignment_driver_mean.sel(ally=ally).isel(month=-1).sum())
        for g, ko in knockouts.items():
            diff = base_final[:, a] - _final(ko)[:, a]
            share = float(base.alignment_driver_mean.sel(ally=ally, driver=g).isel(month=-1))
            effect = float(base.alignment_mean.sel(ally=ally).isel(month=-1) - ko.alignment_mean.sel(ally=ally)
                           .isel(month=-1))
            rows.append({
                "ally": ally, "driver": g, "accounting_share": share, "knockout_effect": effect,
                "knockout_effect_se": float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else np.nan,
                "interaction": effect - share, "change_of_alignment": change,
                "p_crossed": p_base, "p_crossed_without": float(ko.p_crossed.sel(ally=ally).isel(month=-1)),
                "switched_off": " ".join(KNOCKOUT_TERMS[g]),
            })
    return Explanation(name, base, knockouts, pd.DataFrame(rows))


def save_explanation(exp: Explanation, out, manifest: dict) -> object:
    """Write ``out`` atomically: explain.csv (the table), explain.png, manifest.json and ``baseline/`` (the
    baseline's run folder, with its drivers plot, which ``alliance report`` reads)."""
    import json
    from pathlib import Path

    from alliance_sim.plots import plot_explain, save_figure
    from alliance_sim.rundir import _json_default, atomic_dir, run_dir_bytes, write_into

    out = Path(out)
    with atomic_dir(out, need_bytes=run_dir_bytes(exp.baseline) + 2**20) as tmp:
        exp.table.to_csv(tmp / "explain.csv", index=False, float_format="%.5f")
        save_figure(plot_explain(exp.table, exp.baseline), tmp / "explain.png")
        (tmp / "baseline").mkdir()
        write_into(tmp / "baseline", exp.baseline, manifest)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n",
                                           encoding="utf-8")
    return out
