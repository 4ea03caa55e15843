"""The ``alliance`` command: run scenarios, compare them, re-draw plots, write briefings, check and list
scenarios.

Every bad input ends with one line on stderr, ``error: <where>: <what>``, exit code 2, and nothing
written: scenarios are loaded and arguments checked before anything runs, and run directories are
written atomically (:mod:`alliance_sim.rundir`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from alliance_sim.writer import pause_point

try:  # typer >= 0.24 vendors click as typer._click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on the real click
    from click import exceptions as click_exceptions

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class _OneLineErrors(TyperGroup):
    """Click/typer usage errors as one ``error:`` line on stderr (exit code 2) instead of a box."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        from alliance_sim.writer import Terminated, interrupted_message, signals_as_exceptions

        try:
            with signals_as_exceptions():  # SIGTERM/SIGHUP clean up like Ctrl-C (alliance_sim.writer)
                rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                  standalone_mode=False, **extra)
        except click_exceptions.NoArgsIsHelpError as exc:
            print(exc.ctx.get_help() if exc.ctx else str(exc))
            rv = EXIT_BAD_INPUT
        except click_exceptions.ClickException as exc:
            where = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None and ctx.command_path:
                where = f"{ctx.command_path}: "
            _say_error(f"{where}{exc.format_message()}")
            rv = exc.exit_code
        except typer.Abort:
            _say_error(interrupted_message())
            rv = EXIT_INTERRUPTED
        except Terminated as exc:
            _say_error(interrupted_message(exc.signum))
            rv = 128 + exc.signum
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="alliance",
    help="Agent-based scenario simulator of alliance cohesion (US, Japan, South Korea, China).\n\n"
         "Example: alliance run tariff_shock_2025 --replicates 2000",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


class BadInput(Exception):
    """A bad input already phrased as one line."""


def _say_error(message: str) -> None:
    line = " ".join(str(message).split())
    print(f"error: {line}", file=sys.stderr, flush=True)


def _fail(message: str) -> typer.Exit:
    _say_error(message)
    return typer.Exit(code=EXIT_BAD_INPUT)


_OPTION_NAMES = {"replicates": "--replicates", "months": "--months", "workers": "--workers",
                 "chunk_size": "--chunk-size", "keep_trajectories": "--keep", "seed": "--seed"}


def _bad_input_types() -> tuple[type[BaseException], ...]:
    from alliance_sim.api import RunArgumentError
    from alliance_sim.overrides import OverrideError
    from alliance_sim.posterior import PosteriorError
    from alliance_sim.rundir import RunDirError
    from alliance_sim.scenario import ScenarioError

    return (ScenarioError, OverrideError, RunArgumentError, RunDirError, BadInput, PosteriorError)


def _message(exc: BaseException) -> str:
    from alliance_sim.api import RunArgumentError

    text = str(exc)
    if isinstance(exc, RunArgumentError):
        head, sep, rest = text.partition(":")
        if sep and head in _OPTION_NAMES:
            return f"{_OPTION_NAMES[head]}:{rest}"
    return text


def _guarded(body, *args, **kwargs) -> Any:
    """Run a command body; known bad inputs and interrupts become one ``error:`` line."""
    from alliance_sim.writer import disk_error, interrupted_message

    try:
        return body(*args, **kwargs)
    except typer.Exit:
        raise
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP as alliance_sim.writer.Terminated
        signum = getattr(exc, "signum", None)
        _say_error(interrupted_message(signum))
        raise typer.Exit(code=128 + signum if signum else EXIT_INTERRUPTED) from None
    except _bad_input_types() as exc:
        raise _fail(_message(exc)) from None
    except OSError as exc:  # e.g. the output folder vanished or the disk is full while writing
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        full = disk_error(exc, Path(exc.filename or "."))
        raise _fail(str(full) if full else f"{where}{exc.strerror or exc}") from None


# ----------------------------------------------------------------------------------- options

ScenarioArg = Annotated[str, typer.Argument(help="A shipped scenario's name (see `alliance scenarios`) or a "
                                                 "path to a scenario TOML file.", show_default=False)]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", "-s", metavar="KEY=VALUE",
    help="Override one parameter by dotted key, e.g. --set actors.KOR.export_share_us=0.15 (repeatable).")]
ReplicatesOpt = Annotated[int | None, typer.Option("--replicates", "-n", help="Monte Carlo replicates "
                                                   "(default: the scenario's simulation.replicates).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed (default: the scenario's "
                                             "simulation.seed).")]
MonthsOpt = Annotated[int | None, typer.Option("--months", "-m", help="Horizon in months (default: the "
                                               "scenario's simulation.months).")]
ChunkOpt = Annotated[int, typer.Option("--chunk-size", help="Replicates simulated together as arrays; "
                                       "results do not depend on it.")]
WorkersOpt = Annotated[int, typer.Option("--workers", "-w", help="Processes; results do not depend on it.")]
KeepOpt = Annotated[int, typer.Option("--keep", help="Replicates whose full trajectories are kept in "
                                      "results.nc (summaries always use all replicates).")]
PlotsOpt = Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the standard plots into plots/.")]


def _load(scenario: str, overrides: list[str] | None):
    from alliance_sim.scenario import load_scenario

    return load_scenario(scenario, list(overrides or []))


def _print_summary(name: str, ds, out: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from alliance_sim.plots import actor_name, month_tick_label
    from alliance_sim.results import headline_summary

    summary = headline_summary(ds)
    horizon = month_tick_label(str(ds.month.values[-1]))
    table = Table(title=f"{name}: {int(ds.attrs.get('replicates', 0)):,} replicates, seed {ds.attrs.get('seed')}, "
                        f"to {horizon}", title_justify="left")
    table.add_column("ally")
    table.add_column("final alignment\nmedian [5%–95%]", justify="right")
    table.add_column(f"P(crossed to Beijing's\nside by {horizon})", justify="right")
    table.add_column("median first\ncrossing", justify="right")
    table.add_column("cohesion: final /\nlowest (median)", justify="right")
    for ally, row in summary.iterrows():
        table.add_row(actor_name(str(ally)),
                      f"{row.final_alignment_median:+.2f} [{row.final_alignment_p05:+.2f}, "
                      f"{row.final_alignment_p95:+.2f}]",
                      f"{row.p_crossed_by_horizon:.0%}", str(row.median_first_cross_month),
                      f"{row.final_cohesion_median:.2f} / {row.min_cohesion_median:.2f}")
    console = Console(width=max(100, Console().width))
    console.print(table)
    console.print(_observables_table(ds, horizon))
    if out is not None:
        console.print(f"results: [bold]{out}[/bold]", highlight=False, soft_wrap=True)


def _observables_table(ds, horizon: str):
    """The observation model's quantities at the horizon, comparable to polls and customs statistics."""
    from rich.table import Table

    from alliance_sim.plots import actor_name
    from alliance_sim.results import observables_summary

    obs = observables_summary(ds)
    table = Table(title=f"observable quantities at {horizon}: median [5%–95%]", title_justify="left")
    table.add_column("ally")
    for head in ("favourable\nto the US", "favourable\nto China", "exports\nto the US", "exports\nto China"):
        table.add_column(head, justify="right")
    table.add_column("months conceding /\nhedging (mean)", justify="right")
    for ally, row in obs.iterrows():
        cells = []
        for name in ("favourable_us", "favourable_china", "export_share_us", "export_share_china"):
            med = row.get(f"{name}_median")
            cells.append("–" if med is None or med != med else
                         f"{med:.0%} [{row[f'{name}_p05']:.0%}, {row[f'{name}_p95']:.0%}]")
        table.add_row(actor_name(str(ally)), *cells, f"{row.concede_rate:.0%} / {row.hedge_rate:.0%}")
    return table


# ----------------------------------------------------------------------------------- commands


@app.command()
def run(
    scenario: ScenarioArg,
    replicates: ReplicatesOpt = None,
    seed: SeedOpt = None,
    months: MonthsOpt = None,
    set_: SetOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder to create (must not exist) "
                                             "(default: outputs/<scenario>-<YYYYmmdd-HHMMSS>).")] = None,
    chunk_size: ChunkOpt = 10_000,
    workers: WorkersOpt = 1,
    keep: KeepOpt = 1000,
    plots: PlotsOpt = True,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Address of a dask scheduler (tcp://host:8786) to spread the chunks over a "
        "cluster; results are identical to a local run.")] = None,
    posterior: Annotated[Path | None, typer.Option(
        "--posterior", help="posterior.nc or particles.csv of `alliance calibrate` (shipped: "
        "calibrations/particles/*.csv): each replicate's parameters are drawn from "
        "it (bands then carry parameter uncertainty as well as chance).")] = None,
) -> None:
    """Run a scenario as an ensemble and write a run folder.

    Writes results.nc, summary.csv (headline figures), manifest.json (what was run) and plots/*.png.

    Example: alliance run tariff_shock_2025 --replicates 2000 --set actors.KOR.export_share_us=0.15

    A very large ensemble on a dask cluster: alliance run nk_escalation -n 1000000 --scheduler tcp://host:8786
    """

    def body():
        from alliance_sim.api import progress_bar, resolve_run_arguments
        from alliance_sim.api import run as api_run
        from alliance_sim.rundir import check_out_dir, default_out_dir

        if scheduler is not None:
            from alliance_sim.sweeps.runner import SweepError, check_address

            try:
                check_address(scheduler)
            except SweepError as exc:
                raise BadInput(str(exc)) from None
        sc = _load(scenario, set_)
        R, S, T = resolve_run_arguments(sc.params, replicates, seed, months, chunk_size, workers, keep)
        post = None
        if posterior is not None:
            from alliance_sim.posterior import load_posterior

            post = load_posterior(posterior)  # run_ensemble checks its particles before anything runs
        target = out if out is not None else default_out_dir(sc.name)
        check_out_dir(target)
        with contextlib.ExitStack() as stack:
            client = None
            if scheduler is not None:
                from alliance_sim.sweeps.runner import SweepError, connect

                try:
                    client = stack.enter_context(connect(scheduler))
                except SweepError as exc:
                    raise BadInput(str(exc)) from None
            with progress_bar(sc.name) as tick:
                res = api_run(sc, replicates=R, seed=S, months=T, chunk_size=chunk_size, workers=workers,
                              keep_trajectories=keep, progress=tick, client=client, posterior=post)
        pause_point("simulated")
        path = res.save(target, plots=plots)
        _print_summary(sc.name, res.dataset, path)

    _guarded(body)


@app.command()
def compare(
    scenarios: Annotated[list[str], typer.Argument(help="Two or more scenario names or files.",
                                                   show_default=False)],
    replicates: ReplicatesOpt = None,
    seed: SeedOpt = None,
    months: MonthsOpt = None,
    set_: SetOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder to create (must not exist) "
                                             "(default: outputs/compare-<names>-<YYYYmmdd-HHMMSS>).")] = None,
    chunk_size: ChunkOpt = 10_000,
    workers: WorkersOpt = 1,
    keep: KeepOpt = 1000,
    plots: PlotsOpt = True,
    posterior: Annotated[Path | None, typer.Option(
        "--posterior", help="posterior.nc or particles.csv of `alliance calibrate`: replicate r of every "
        "scenario draws the same particle, so the parameters are common to the scenarios too.")] = None,
) -> None:
    """Run several scenarios with the same random numbers and compare them.

    Same seed, replicates and months for all (the first scenario's unless given): differences are not chance.

    Writes one folder: a run folder per scenario, summary.csv of all, and compare.png.

    Example: alliance compare baseline_2025 tariff_shock_2025 negotiated_deal_2025 --replicates 2000
    """

    def body():
        from alliance_sim.api import RunArgumentError, resolve_run_arguments, unique_labels
        from alliance_sim.api import compare as api_compare
        from alliance_sim.rundir import check_out_dir, default_out_dir

        if len(scenarios) < 2:
            raise RunArgumentError(f"compare: expected two or more scenarios, got {len(scenarios)}")
        loaded = [_load(s, set_) for s in scenarios]
        resolve_run_arguments(loaded[0].params, replicates, seed, months, chunk_size, workers, keep)
        names = unique_labels(sc.name for sc in loaded)
        target = out if out is not None else default_out_dir("compare-" + "-".join(names)[:60])
        check_out_dir(target)
        post = None
        if posterior is not None:
            from alliance_sim.posterior import load_posterior

            post = load_posterior(posterior)
        results = api_compare(loaded, replicates=replicates, seed=seed, months=months, chunk_size=chunk_size,
                              workers=workers, keep_trajectories=keep, progress=True, posterior=post)
        pause_point("simulated")
        path = results.save(target, plots=plots)
        for label, res in results.items():
            _print_summary(label, res.dataset, None)
        print(f"results: {path}")

    _guarded(body)


@app.command()
def explain(
    scenario: ScenarioArg,
    replicates: ReplicatesOpt = None,
    seed: SeedOpt = None,
    months: MonthsOpt = None,
    set_: SetOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder to create (must not exist) "
                                             "(default: outputs/<scenario>-explain-<YYYYmmdd-HHMMSS>).")] = None,
    workers: WorkersOpt = 1,
    posterior: Annotated[Path | None, typer.Option(
        "--posterior", help="posterior.nc or particles.csv of `alliance calibrate`: replicate r draws the same "
        "particle in the baseline and every knock-out.")] = None,
) -> None:
    """What drives each ally's drift: the step's exact accounting beside knock-out counterfactuals.

    Runs the scenario, then once more per driver group with that group's mechanisms switched off (same seed and
    replicates: common random numbers), and shows each group's share of the change of alignment beside the
    change its mechanisms make in total, with the crossing probability without them.

    Writes explain.csv, explain.png, manifest.json and baseline/ (the baseline's run folder).

    Example: alliance explain tariff_shock_2025 --replicates 1000
    """

    def body():
        from alliance_sim.api import progress_bar, resolve_run_arguments
        from alliance_sim.explain import KNOCKOUT_TERMS, save_explanation
        from alliance_sim.explain import explain as run_explain
        from alliance_sim.rundir import build_manifest, check_out_dir, default_out_dir

        sc = _load(scenario, set_)
        R, S, T = resolve_run_arguments(sc.params, replicates, seed, months, 10_000, workers, 1000)
        post = None
        if posterior is not None:
            from alliance_sim.posterior import load_posterior

            post = load_posterior(posterior)
        target = out if out is not None else default_out_dir(f"{sc.name}-explain")
        check_out_dir(target)
        runs = 1 + len(KNOCKOUT_TERMS)
        labels: list[str] = []
        t0 = time.perf_counter()
        with progress_bar(f"{sc.name}: baseline + {runs - 1} knock-outs") as tick:
            def progress(label, done, total):
                if label not in labels:
                    labels.append(label)
                tick((len(labels) - 1) * total + done, runs * total)

            exp = run_explain(sc.params, name=sc.name, replicates=R, seed=S, months=T, workers=workers,
                              progress=progress, posterior=post)
        pause_point("simulated")
        manifest = build_manifest(scenario_name=sc.name, resolved=sc.resolved, scenario_hash=sc.hash,
                                  scenario_path=sc.path, seed=S, replicates=R, months=T, chunk_size=10_000,
                                  workers=workers, keep_trajectories=min(R, 20_000),
                                  wall_time_s=time.perf_counter() - t0,
                                  extra={"knockouts": {g: list(t) for g, t in KNOCKOUT_TERMS.items()},
                                         "overrides": dict(sc.overrides or {}),
                                         **({} if post is None else {"posterior": post.path,
                                                                     "posterior_sha256": post.digest})})
        path = save_explanation(exp, target, manifest)
        _print_explanation(exp)
        print(f"results: {path}")

    _guarded(body)


def _print_explanation(exp) -> None:
    from rich.console import Console
    from rich.table import Table

    from alliance_sim.plots import DRIVER_LABELS, actor_name, month_tick_label

    horizon = month_tick_label(str(exp.baseline.month.values[-1]))
    console = Console(width=max(100, Console().width))
    for ally, t in exp.table.groupby("ally", sort=False):
        change = float(t["change_of_alignment"].iloc[0])
        table = Table(title=f"{actor_name(str(ally))}: change of alignment by {horizon} {change:+.3f}; "
                            f"P(crossed) {t['p_crossed'].iloc[0]:.0%}", title_justify="left")
        table.add_column("driver")
        table.add_column("share of the change\n(accounting)", justify="right")
        table.add_column("effect of its mechanisms\n(knock-out ± 2 s.e.)", justify="right")
        table.add_column("P(crossed)\nwithout them", justify="right")
        for _, row in t.iterrows():
            table.add_row(DRIVER_LABELS.get(row.driver, row.driver), f"{row.accounting_share:+.3f}",
                          f"{row.knockout_effect:+.3f} ± {2 * row.knockout_effect_se:.3f}",
                          f"{row.p_crossed_without:.0%}")
        console.print(table)


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by `alliance run` (or `alliance compare`).",
                                            show_default=False)],
) -> None:
    """Re-draw the plots of a run folder from its results.nc.

    For a `compare` folder, every run's plots and compare.png are re-drawn.

    Example: alliance plot outputs/tariff_shock_2025-20250711-120000
    """

    def body():
        from alliance_sim.rundir import RESULTS, RunDirError, compare_order, load_results, redraw_plots

        if not run_dir.is_dir():
            raise RunDirError(f"{run_dir}: no such run folder")
        if (run_dir / RESULTS).is_file():
            for p in redraw_plots(run_dir):
                print(p)
            return
        runs = sorted(d for d in run_dir.iterdir() if d.is_dir() and (d / RESULTS).is_file())
        if not runs:
            raise RunDirError(f"{run_dir}: no {RESULTS} in this folder; expected a folder written by "
                              "`alliance run` or `alliance compare`")
        from alliance_sim.plots import plot_compare, save_figure

        datasets = {}
        for d in runs:
            datasets[d.name] = load_results(d)
            for p in redraw_plots(d):
                print(p)
        from alliance_sim.writer import atomic_file

        order = compare_order(run_dir, list(datasets))
        with atomic_file(run_dir / "compare.png") as tmp:
            save_figure(plot_compare({k: datasets[k] for k in order}), tmp)
        print(run_dir / "compare.png")

    _guarded(body)


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="A folder written by `alliance run` or `alliance compare`.",
                                           show_default=False)],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The HTML file to write (replaced if it exists) "
                                             "(default: FOLDER/report.html).")] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write a PDF beside it (needs the `pdf` extra: "
                                      "pip install 'alliance-sim[pdf]').")] = False,
    question: Annotated[str | None, typer.Option("--question", "-q", help="The question the briefing answers "
                                                 "(default: derived from the scenario's description).")] = None,
) -> None:
    """Write a one-page briefing of a run or compare folder: self-contained HTML (and PDF with --pdf).

    The question, the scenario's assumptions and dated events in plain words, the headline figures per ally,
    the charts (embedded), drivers when the results have them, and provenance.

    Example: alliance report outputs/tariff_shock_2025-20250711-120000 --pdf --question "Will Seoul drift?"
    """

    def body():
        from alliance_sim.report import make_report

        for path in make_report(folder, out, pdf=pdf, question=question):
            print(path)

    _guarded(body)


@app.command()
def check(scenario: ScenarioArg, set_: SetOpt = None) -> None:
    """Validate a scenario and print its fully resolved parameters as TOML.

    Overrides given with --set are applied and validated the same way as in `alliance run`.

    Example: alliance check scenarios/opcon_bargain.toml --set simulation.months=36
    """

    def body():
        from alliance_sim.scenario import scenario_to_toml

        sc = _load(scenario, set_)
        lines = [f"# {sc.name}: valid", f"# file: {sc.path}", f"# hash: {sc.hash}"]
        if sc.description:
            lines.append(f"# purpose: {sc.description}")
        if getattr(sc, "overrides", None):
            lines.append("# overrides: " + ", ".join(f"{k}={v!r}" for k, v in sc.overrides.items()))
        print("\n".join(lines) + "\n")
        print(scenario_to_toml(sc.params), end="")

    _guarded(body)


@app.command()
def scenarios() -> None:
    """List the shipped scenarios with their one-line purpose.

    Example: alliance scenarios
    """

    def body():
        from rich.console import Console
        from rich.table import Table

        from alliance_sim.scenario import list_scenarios

        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("scenario", no_wrap=True)
        table.add_column("purpose")
        for name, purpose in list_scenarios():
            table.add_row(name, purpose)
        Console(width=max(120, Console().width)).print(table)

    _guarded(body)


@app.command()
def params(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the Markdown reference table "
                                           "(as in docs/parameters.md).")] = False,
) -> None:
    """Print every parameter with its default, unit, bounds and source.

    Example: alliance params --markdown > docs/parameters.md
    """

    def body():
        if markdown and importlib.util.find_spec("alliance_sim.parameter_table") is not None:
            from alliance_sim import parameter_table

            if hasattr(parameter_table, "parameter_table_markdown"):
                print(parameter_table.parameter_table_markdown(), end="")
                return
        _print_parameters()

    _guarded(body)


def _print_parameters() -> None:
    """A plain listing of dotted keys, defaults and units from the pydantic tree."""
    from pydantic import BaseModel

    from alliance_sim.model.parameters import Parameters

    def walk(model: BaseModel, prefix: str):
        for name, info in type(model).model_fields.items():
            value = getattr(model, name)
            key = f"{prefix}{name}"
            if isinstance(value, BaseModel):
                yield from walk(value, key + ".")
            elif isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
                for k, v in value.items():
                    yield from walk(v, f"{key}.{k}.")
            else:
                unit = (info.json_schema_extra or {}).get("unit", "") if isinstance(info.json_schema_extra, dict) \
                    else ""
                yield key, value, unit

    for key, value, unit in walk(Parameters(), ""):
        print(f"{key} = {value!r}" + (f"    # {unit}" if unit and unit != "-" else ""))


@app.command()
def dashboard(
    scenario: Annotated[str, typer.Argument(help="The scenario to open first: a shipped name or a file.")]
    = "tariff_shock_2025",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")]
    = "127.0.0.1",
) -> None:
    """Open the browser dashboard (works offline); each visitor gets their own model.

    Example: alliance dashboard present_2026 --port 8765, then open http://127.0.0.1:8765
    """
    from alliance_sim.dashboard.server import DashboardError, serve

    def body():
        try:
            serve(scenario, host=host, port=port)
        except DashboardError as exc:
            raise BadInput(str(exc)) from None

    _guarded(body)


@app.command()
def landscape(
    data_dir: Annotated[Path | None, typer.Argument(
        help="A folder with actors.csv and propensity.csv (default: the shipped Syria 2016 inputs).",
        show_default=False)] = None,
    step: Annotated[float, typer.Option("--step", help="Step of the balance dynamics.")] = 0.1,
    unsized: Annotated[bool, typer.Option("--unsized", help="Balance dynamics with equal weights for "
                                          "third parties instead of their strengths.")] = False,
    perturbed: Annotated[int, typer.Option("--perturbed", help="Also rerun the dynamics this many times "
                                           "from noisy initial ties.")] = 0,
    noise: Annotated[float, typer.Option("--noise", help="Standard deviation of that noise.")] = 0.25,
    seed: Annotated[int, typer.Option("--seed", help="Seed of that noise.")] = 0,
) -> None:
    """Landscape theory (Axelrod & Bennett 1993): the exhaustive energy minimum and its local minima,
    and the camps the structural-balance dynamics reaches from propensity-derived ties.

    Example: alliance landscape  (the shipped Syria 2016 inputs, Furnas 2016)
    """

    def body():
        from rich.console import Console
        from rich.table import Table

        from alliance_sim import landscape as ls

        try:
            land = ls.load_landscape(data_dir if data_dir is not None else ls.shipped_syria_dir())
            en = ls.enumerate_configurations(land)
            run = ls.balance_dynamics(land, step=step, sized=not unsized)
            counts = ls.perturbed_balance(land, perturbed, noise, seed, step=step, sized=not unsized) \
                if perturbed else {}
        except ls.LandscapeError as exc:
            raise BadInput(str(exc)) from None

        def side(names):
            return ", ".join(names) or "—"

        console = Console(width=max(120, Console().width))
        table = Table(title=f"landscape {land.name}: {land.n} actors, {len(en.energies):,} configurations "
                            f"({land.actors[0]} on side 1)", title_justify="left", header_style="bold")
        for col in ("", "side 1", "side 2", "energy", "rank", "local min"):
            table.add_column(col)
        best = en.argmins()
        for k, i in enumerate(best):
            one, two = ls.camps(land, en.sides[i])
            table.add_row("global minimum" + (f" ({k + 1})" if len(best) > 1 else ""), side(one), side(two),
                          f"{en.energies[i]:,.0f}", "1", "yes" if en.local_min[i] else "no")
        for i in en.local_minima():
            if i in best:
                continue
            one, two = ls.camps(land, en.sides[i])
            table.add_row("other local minimum", side(one), side(two), f"{en.energies[i]:,.0f}",
                          str(en.rank_of(en.sides[i])), "yes")
        one, two = ls.camps(land, run.sides)
        j = en.index_of(run.sides)
        table.add_row("balance dynamics", side(one), side(two), f"{en.energies[j]:,.0f}",
                      str(en.rank_of(run.sides)), "yes" if en.local_min[j] else "no")
        console.print(table)
        agree = j in best
        console.print(f"local minima: {len(en.local_minima())}; global minimum energy {en.minimum:,.0f}")
        console.print(f"balance dynamics ({'equal' if unsized else 'size'} weights, step {step:g}): "
                      f"{run.steps} steps, {'balanced' if run.balanced else 'NOT balanced'}, "
                      f"{'converged' if run.converged else 'did not converge'}; "
                      f"{'agrees' if agree else 'does NOT agree'} with the global minimum")
        if counts:
            t2 = Table(title=f"balance dynamics from noisy ties: {perturbed} runs, noise sd {noise:g}, "
                             f"seed {seed}", title_justify="left", header_style="bold")
            for col in ("side 2", "runs", "share", "energy", "rank"):
                t2.add_column(col)
            for two_, c in counts.items():
                sides = [2 if a in two_ else 1 for a in land.actors]
                t2.add_row(side(two_), str(c), f"{c / perturbed:.0%}", f"{ls.energy(land, sides):,.0f}",
                           str(en.rank_of(sides)))
            console.print(t2)

    _guarded(body)


# ---------------------------------------------------------------------- extension commands
# Sweep commands (`alliance sweep ...`) live in alliance_sim/sweeps/cli.py, written separately; they
# are registered here when that module exists.
if importlib.util.find_spec("alliance_sim.sweeps") is not None and \
        importlib.util.find_spec("alliance_sim.sweeps.cli") is not None:
    from alliance_sim.sweeps.cli import register

    register(app)

# `alliance calibrate` (alliance_sim/calibration/cli.py); without pyabc (the `calibrate` extra) it says so.
from alliance_sim.calibration.cli import register as register_calibrate  # noqa: E402
from alliance_sim.calibration.cli import register_out_of_sample  # noqa: E402

register_calibrate(app)
register_out_of_sample(app)  # `alliance out-of-sample` (alliance_sim/calibration/out_of_sample.py)


def main() -> None:  # pragma: no cover - `python -m alliance_sim.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
