"""Command-line commands for sweeps: ``alliance sweep``, ``alliance sweep-analyze``, ``alliance sweep-plot``.

``register(app)`` adds them to a Typer app (the main ``alliance`` CLI calls it).  Bad inputs are one
``error:`` line on stderr with exit code 2 and leave nothing behind; points that keep failing exit 1
after being written to ``<store>.failed_points.json``.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

EXIT_BAD_INPUT = 2
EXIT_FAILED_POINTS = 1
EXIT_INTERRUPTED = 130

SWEEP_HELP = """Run a parameter sweep (grid, Latin hypercube, Sobol' or Morris design) into a resumable zarr store.

Runs on a local dask cluster of one process per core by default, on an existing dask cluster \
with --scheduler, or serially with --workers 0.  Results are identical either way.

Examples:

  alliance sweep scenarios/sweeps/tariff_nk_grid.toml

  alliance sweep scenarios/sweeps/sobol_main.toml --out sobol.zarr --workers 2

  alliance sweep scenarios/sweeps/sobol_main.toml --out sobol.zarr --resume

  alliance sweep scenarios/sweeps/sobol_main.toml --scheduler tcp://10.0.0.5:8786
"""

PLOT_HELP = """Draw a sweep store's figures (heatmaps and response curves, Sobol'/Morris bars, PRIM boxes).

Examples:

  alliance sweep-plot tariff_nk_grid.zarr

  alliance sweep-plot sobol.zarr --out figures/ --output p_crossed.KOR
"""

ANALYZE_HELP = """Print a sweep store's sensitivity indices (Sobol' or Morris) or main effects, feature scores \
(extra trees), and its PRIM box and CART boxes (when the sweep file has a [prim] rule).

Examples:

  alliance sweep-analyze sobol.zarr

  alliance sweep-analyze lhs_prim.zarr --output min_cohesion_q.0.5

  alliance sweep-analyze lhs_prim.zarr --out lhs_prim_analysis/
"""


def _say_error(message: str) -> None:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    _say_error(message)
    return typer.Exit(code=code)


def _guard(body, store: Path | None = None):
    from alliance_sim.sweeps.design import SweepError
    from alliance_sim.writer import OutputError, disk_error, interrupted_message, signals_as_exceptions

    try:
        with signals_as_exceptions():
            return body()
    except typer.Exit:
        raise
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", None)
        message = interrupted_message(signum)
        if store is not None and store.exists():
            name = f" ({signal.Signals(signum).name})" if signum else ""
            message = f"interrupted{name}; the tasks done so far are in {store}, continue with --resume"
        raise _fail(message, 128 + signum if signum else EXIT_INTERRUPTED) from None
    except (SweepError, OutputError) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        err = disk_error(exc, Path(exc.filename or store or "."))
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        raise _fail(str(err) if err else f"{where}{exc.strerror or exc}") from None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def register(app: typer.Typer) -> None:
    """Add the sweep commands to ``app``."""

    @app.command("sweep", help=SWEEP_HELP, no_args_is_help=True)
    def sweep_cmd(
        sweep_file: Annotated[Path, typer.Argument(help="Sweep definition (TOML).", show_default=False)],
        scheduler: Annotated[str | None, typer.Option("--scheduler", metavar="ADDRESS",
                             help="Address of a running dask scheduler, e.g. tcp://host:8786.")] = None,
        workers: Annotated[int | None, typer.Option("--workers", "-w", min=0,
                           help="Local worker processes (default: one per core; 0 = serial, no dask).")] = None,
        resume: Annotated[bool, typer.Option("--resume", help="Continue an existing store: run only the "
                                             "tasks not yet done.")] = False,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Store to write "
                       "(default: ./<sweep name>.zarr).")] = None,
        task_size: Annotated[int | None, typer.Option("--task-size", min=1, help="Points per task "
                             "(default: the sweep's task_size; a resumed store keeps its own).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
        max_tasks: Annotated[int | None, typer.Option("--max-tasks", min=1, hidden=True,
                             help="Stop after this many tasks (continue later with --resume).")] = None,
    ) -> None:
        target = out or Path(f"{sweep_file.stem}.zarr")

        def body():
            from alliance_sim.sweeps.design import load_sweep
            from alliance_sim.sweeps.runner import check_address, run_sweep

            if scheduler and workers is not None:
                raise _fail("give either --scheduler or --workers, not both")
            if scheduler:
                check_address(scheduler)
            sweep = load_sweep(sweep_file)
            rep = run_sweep(sweep, target, scheduler=scheduler, workers=workers, resume=resume,
                            task_size=task_size, progress=not quiet, max_tasks=max_tasks)
            rate = rep.points_run / rep.wall_time if rep.wall_time > 0 else 0.0
            rm = rate * sweep.spec.replicates * sweep.months
            where = f"{rep.workers} dask workers" if rep.workers else "serially"
            print(f"{target}: {rep.points_run} points in {rep.tasks_run} tasks ({rep.tasks_skipped} already done) "
                  f"in {rep.wall_time:.1f} s {where} — {rate:,.1f} points/s, {rm:,.0f} replicate-months/s")
            if rep.failed:
                raise _fail(f"{len(rep.failed)} points failed after retries (first: point {rep.failed[0].point} "
                            f"{rep.failed[0].overrides}: {rep.failed[0].error}); see {rep.failed_path()}",
                            EXIT_FAILED_POINTS)
            if not rep.complete:
                print(f"{target}: incomplete; continue with: alliance sweep {sweep_file} --out {target} --resume")
        _guard(body, target)

    @app.command("sweep-analyze", help=ANALYZE_HELP, no_args_is_help=True)
    def analyze_cmd(
        store: Annotated[Path, typer.Argument(help="A sweep store (.zarr).", show_default=False)],
        output: Annotated[list[str] | None, typer.Option("--output", help="Output to analyse, e.g. "
                          "p_crossed.KOR (repeatable; default: the sweep's outputs).")] = None,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the tables (CSV, text) and the "
                       "feature-score plot to this new folder.")] = None,
    ) -> None:
        def body():
            from alliance_sim.sweeps.analysis import cart_boxes, feature_scores, prim_box, summary_table
            from alliance_sim.sweeps.store import open_store, require_complete, store_spec
            from alliance_sim.writer import atomic_output, check_target

            if out is not None:
                check_target(out)
            ds = open_store(store)
            spec = store_spec(ds, store)
            require_complete(store, ds, "the analysis")
            files: dict[str, object] = {}
            for o, table in summary_table(ds, output or None).items():
                print(f"\n{o} ({spec.design.kind})")
                print(table.to_string(float_format=lambda v: f"{v:.4f}"))
                files[f"{spec.design.kind}_{_safe(o)}.csv"] = table
            scores = feature_scores(ds, output or None, seed=int(ds.attrs.get("seed", 0)) % 2**32)
            print("\nfeature scores (extra trees; sum to 1 per output)")
            print(scores.to_string(float_format=lambda v: f"{v:.3f}"))
            files["feature_scores.csv"] = scores
            if spec.prim is not None:
                p = spec.prim
                res = prim_box(ds, p.output, p.op, p.value, peel_alpha=p.peel_alpha, mass_min=p.mass_min)
                st = res.stats
                print(f"\nPRIM box where {res.rule}: coverage {st['coverage']:.2f}, density {st['density']:.2f}, "
                      f"mass {st['mass']:.2f}")
                print(res.box.to_string(float_format=lambda v: f"{v:.4g}"))
                files["prim_box.csv"] = res.box
                cart = cart_boxes(ds, p.output, p.op, p.value, mass_min=p.mass_min)
                print("\n" + cart.text())
                files["cart_boxes.csv"] = cart.boxes
                files["cart_boxes.txt"] = cart.text() + "\n"
            if out is not None:
                from alliance_sim.sweeps.plots import _save, feature_score_bars

                with atomic_output(out) as tmp:
                    for name, obj in files.items():
                        if isinstance(obj, str):
                            (tmp / name).write_text(obj)
                        else:
                            obj.to_csv(tmp / name)
                    _save(feature_score_bars(scores, f"Feature scores — {spec.name or store.stem}"),
                          tmp / "feature_scores.png")
                print(f"\n{out}: " + ", ".join([*files, "feature_scores.png"]))
        _guard(body)

    @app.command("sweep-plot", help=PLOT_HELP, no_args_is_help=True)
    def plot_cmd(
        store: Annotated[Path, typer.Argument(help="A sweep store (.zarr).", show_default=False)],
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for the PNGs "
                       "(default: <store>_plots next to the store).")] = None,
        output: Annotated[list[str] | None, typer.Option("--output", help="Output to plot (repeatable; "
                          "default: the sweep's outputs).")] = None,
    ) -> None:
        def body():
            from alliance_sim.sweeps.plots import plot_store
            from alliance_sim.sweeps.store import open_store, require_complete, store_spec
            from alliance_sim.writer import atomic_output

            ds = open_store(store)
            store_spec(ds, store)
            require_complete(store, ds, "plotting")
            folder = out or store.with_name(store.stem + "_plots")
            if folder.is_dir() and any(not f.name.endswith(".png") for f in folder.iterdir()):
                raise _fail(f"{folder}: exists and holds files other than figures; choose another --out")
            if folder.exists() and not folder.is_dir():
                raise _fail(f"{folder}: exists and is not a folder")
            with atomic_output(folder, replace=True) as tmp:
                files = plot_store(ds, tmp, output or None)
            for f in files:
                print(folder / f.name)
        _guard(body)

    from alliance_sim.policy.cli import register as register_policy

    register_policy(app)
