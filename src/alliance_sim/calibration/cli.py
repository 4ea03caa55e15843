"""``alliance calibrate CALIBRATION.toml``: the command (registered on the main app by ``register``).

Bad inputs are one ``error:`` line with exit code 2 and nothing created; an interrupted run says how to
continue it (``--resume``) and exits 128+signal (130 for Ctrl-C).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

HELP = """Fit chosen parameters to observed series by ABC-SMC (pyabc) and write the posterior.

The file names the parameters (dotted --set paths) with their priors, the targets (scenario, observed \
series, ally, years or months, model variable), the \\[abc] settings and the \\[cluster] (a local dask \
cluster of one process per core by default; an existing one by scheduler address).  See docs/calibration.md.

Examples:

  alliance calibrate calibrations/trade_present.toml --out outputs/trade

  alliance calibrate calibrations/trade_present.toml --out outputs/trade --resume --generations 10

  alliance calibrate calibrations/trade_present.toml --scheduler tcp://host:8786
"""


def _say_error(message: str) -> None:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def register(app: typer.Typer) -> None:
    @app.command("calibrate", help=HELP, no_args_is_help=True)
    def calibrate_cmd(
        calibration_file: Annotated[Path, typer.Argument(help="Calibration file (TOML).", show_default=False)],
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (new, or the one to "
                       "continue with --resume) (default: outputs/calibrate-<file stem>-<timestamp>).")] = None,
        resume: Annotated[bool, typer.Option("--resume", help="Continue the calibration in --out from its "
                                             "last complete generation.")] = False,
        generations: Annotated[int | None, typer.Option("--generations", "-g", help="Generations in all "
                               "(default: the file's abc.generations).")] = None,
        workers: Annotated[int | None, typer.Option("--workers", "-w", help="Local dask worker processes "
                           "(default: the file's [cluster] workers, else one per core; 0 = serial).")] = None,
        scheduler: Annotated[str | None, typer.Option("--scheduler", metavar="ADDRESS",
                             help="Address of a running dask scheduler, e.g. tcp://host:8786.")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    ) -> None:
        import importlib.util

        from alliance_sim.calibration.config import CalibrationError
        from alliance_sim.rundir import default_out_dir
        from alliance_sim.writer import OutputError, disk_error, signals_as_exceptions

        if importlib.util.find_spec("pyabc") is None:
            _say_error("alliance calibrate needs pyabc: pip install -e '.[calibrate]' (or '.[dev]')")
            raise typer.Exit(EXIT_BAD_INPUT)
        try:
            with signals_as_exceptions():
                if scheduler and workers is not None:
                    raise CalibrationError("give either --scheduler or --workers, not both")
                if scheduler:
                    from alliance_sim.sweeps.runner import SweepError, check_address

                    try:
                        check_address(scheduler)
                    except SweepError as exc:
                        raise CalibrationError(str(exc)) from None
                from alliance_sim.calibration.run import calibrate

                if out is None and not resume:   # named here so that an interrupted run can say where it is
                    out = default_out_dir(f"calibrate-{calibration_file.stem}")
                res = calibrate(calibration_file, out, resume=resume, workers=workers, scheduler=scheduler,
                                generations=generations, progress=False if quiet else None)
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", None)
            name = f" ({signal.Signals(signum).name})" if signum else ""
            where = f"; continue it with --out {out} --resume" if out is not None else ""
            _say_error(f"interrupted{name}{where}")
            raise typer.Exit(128 + signum if signum else EXIT_INTERRUPTED) from None
        except (CalibrationError, OutputError) as exc:
            _say_error(str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except OSError as exc:
            err = disk_error(exc, Path(exc.filename or "."))
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            _say_error(str(err) if err else f"{where}{exc.strerror or exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        _print(res)


OOS_HELP = """Out of sample: run the scenarios of 2023, 2024 and 2025 with parameters from a posterior fitted to \
2022 and before, and score the predictions of the annual polls and export shares against persistence.

Each year's historical scenario (camp_david_2023, election_year_2024, present_2025_2026) starts from the \
observed data of the year before; persistence carries the last annual observation before the year forward. \
Writes forecasts.csv (point by point), errors.csv (mean absolute errors of the model and of persistence, per \
series and overall), out_of_sample.png and manifest.json.  A posterior.nc fitted to any observation of 2023 \
or later is refused.  See docs/validation.md.

Examples:

  alliance calibrate calibrations/oos_fit_2022.toml --out outputs/oos_fit_2022

  alliance out-of-sample outputs/oos_fit_2022/posterior.nc --out outputs/oos
"""


def register_out_of_sample(app: typer.Typer) -> None:
    @app.command("out-of-sample", help=OOS_HELP, no_args_is_help=True)
    def out_of_sample_cmd(
        posterior: Annotated[Path, typer.Argument(help="posterior.nc (or particles.csv) of `alliance calibrate`, "
                                                  "fitted to 2022 and before.", show_default=False)],
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder to create (must not exist) "
                       "(default: outputs/out-of-sample-<timestamp>).")] = None,
        replicates: Annotated[int, typer.Option("--replicates", "-n", min=1, max=1_000_000,
                              help="Replicates per forecast year (each draws a particle).")] = 400,
        seed: Annotated[int | None, typer.Option("--seed", min=0, help="Seed (default: each scenario's own).")]
        = None,
        set_: Annotated[list[str] | None, typer.Option(
            "--set", "-s", metavar="KEY=VALUE", help="Override one parameter in every forecast year's scenario, "
            "e.g. --set mechanisms.trade_shock_sd=0.007 (repeatable).")] = None,
    ) -> None:
        from alliance_sim.calibration import out_of_sample as oos
        from alliance_sim.posterior import PosteriorError, load_posterior
        from alliance_sim.rundir import RunDirError, check_out_dir, default_out_dir
        from alliance_sim.scenario import ScenarioError
        from alliance_sim.writer import OutputError, signals_as_exceptions

        try:
            with signals_as_exceptions():
                post = load_posterior(posterior)
                target = out if out is not None else default_out_dir("out-of-sample")
                check_out_dir(target)
                res = oos.out_of_sample(post, replicates=replicates, seed=seed, overrides=list(set_ or []),
                                        progress=lambda what: print(f"running {what}", file=sys.stderr, flush=True))
                manifest = {"command": "alliance out-of-sample", "posterior": str(posterior),
                            "posterior_sha256": post.digest, "parameters": list(post.names),
                            "overrides": list(set_ or []),
                            "fitted_periods": res.fitted, "replicates": replicates, "seed": seed,
                            "windows": [{"year": w.year, "scenario": w.scenario} for w in oos.WINDOWS]}
                oos.write(res, target, manifest)
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", None)
            _say_error(f"interrupted{f' ({signal.Signals(signum).name})' if signum else ''}")
            raise typer.Exit(128 + signum if signum else EXIT_INTERRUPTED) from None
        except (oos.OutOfSampleError, PosteriorError, RunDirError, OutputError, ScenarioError) as exc:
            _say_error(str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        _print_errors(res.errors, target)


def _print_errors(errors, out) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title="mean absolute error, percentage points (model median vs persistence)", title_justify="left")
    for col in ("group", "series", "points", "model", "persistence", "better"):
        t.add_column(col, justify="left" if col in ("group", "series") else "right")
    for r in errors.itertuples(index=False):
        series = r.year if r.group == "year" else r.quantity if r.ally == "all" else f"{r.quantity} {r.ally}"
        t.add_row(r.group, series, str(r.points), f"{100 * r.mae_model:.1f}", f"{100 * r.mae_persistence:.1f}",
                  "even" if abs(r.model_minus_persistence) < 5e-4 else "model" if r.model_better else "persistence")
    console.print(t)
    console.print(f"results: [bold]{out}[/bold]", highlight=False, soft_wrap=True)


def _print(res) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title=f"posterior ({res.out})", title_justify="left")
    for col in ("parameter", "prior 90%", "posterior median [90%]", "width ratio"):
        t.add_column(col, justify="left" if col == "parameter" else "right")
    for _, r in res.summary.iterrows():
        t.add_row(r.parameter, f"[{r.prior_p05:.3g}, {r.prior_p95:.3g}]",
                  f"{r.posterior_median:.3g} [{r.posterior_p05:.3g}, {r.posterior_p95:.3g}]",
                  f"{r.interval_ratio:.2f}")
    console.print(t)
    if res.coverage is not None:
        console.print(f"90% posterior-predictive intervals cover {int(res.coverage.covered.sum())} of "
                      f"{len(res.coverage)} observed points", highlight=False)
    console.print(f"results: [bold]{res.out}[/bold]", highlight=False, soft_wrap=True)
