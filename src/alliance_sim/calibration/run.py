"""``alliance calibrate``: validate, run (or resume) ABC-SMC into an output folder, then write the products.

The folder holds pyabc's database ``abc.db`` (the resumable state, written after every generation), the
calibration file as given and ``calibration.json`` (its definition hash and observations).  The products
— ``posterior.nc``, ``predictive.nc``, ``diagnostics.csv``/``.json``, ``posterior_summary.csv``, ``particles.csv``,
``coverage.csv`` and ``plots/`` — are each written atomically (a temporary beside, then renamed), with
``diagnostics.json`` last: its presence means a complete set.  Nothing is created before the file, the
options and the cluster have been checked.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from alliance_sim.calibration.config import CalibrationError, Problem, load_calibration
from alliance_sim.calibration.fit import DB_NAME, FitReport, Generation, cluster_client, completed_generations, run_abc

STATE = "calibration.json"


@dataclass
class CalibrationResult:
    out: Path
    report: FitReport
    summary: object      # pandas.DataFrame of parameter_summary
    coverage: object     # pandas.DataFrame of coverage
    files: list[Path]


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prepare_folder(problem: Problem, path: Path, out: Path, resume: bool) -> None:
    """Check (resume) or create (new) the output folder; one-line CalibrationError when it cannot be used."""
    from alliance_sim.writer import OutputError, check_target

    state = out / STATE
    if resume:
        if not (out / DB_NAME).is_file() or not state.is_file():
            raise CalibrationError(f"{out}: no calibration to resume (expected {DB_NAME} and {STATE} in it)")
        try:
            saved = json.loads(state.read_text())
        except (OSError, ValueError) as exc:
            raise CalibrationError(f"{out}/{STATE}: unreadable ({exc})") from None
        if saved.get("definition_hash") != problem.definition_hash():
            raise CalibrationError(f"{out}: made by a different calibration (hash {saved.get('definition_hash')} != "
                                   f"{problem.definition_hash()}); only abc.generations, minimum_epsilon, "
                                   "min_acceptance_rate, max_simulations, predictive_draws, predictive_replicates, "
                                   "predictive_history and "
                                   "[cluster] may change on --resume; use a new --out")
        return
    if (out / DB_NAME).exists():
        raise CalibrationError(f"{out}: holds a calibration already; continue it with --resume or choose a new --out")
    try:
        check_target(out)
    except OutputError as exc:
        raise CalibrationError(str(exc)) from None


def _write_state(problem: Problem, path: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, out / "calibration.toml")
    state = {"definition_hash": problem.definition_hash(), "source": str(path),
             "parameters": problem.parameter_names,
             "bounds": {k: list(v) for k, v in problem.bounds.items()},
             "observations": [asdict(o) for o in problem.observations]}
    (out / STATE).write_text(json.dumps(state, indent=1, default=str))


class _Progress:
    """Rich bars: generations done, and particles accepted in the current generation (or plain lines)."""

    def __init__(self, enabled: bool | None, target: int, done: int, n: int):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self.bar = None
        if not self.enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=self.console)
        self.bar.start()
        self.gen = self.bar.add_task("generations", total=target, completed=done, info="")
        self.acc = self.bar.add_task(f"generation {done}", total=n, info="")

    def evaluated(self, sims: int, accepted: int, n: int, t: int = 0) -> None:
        if self.bar is not None:
            what = f"generation {t}" if t >= 0 else "prior sample (initial ε)"
            self.bar.update(self.acc, description=what, completed=min(accepted, n), total=n,
                            info=f"{sims} simulations, acceptance {accepted / max(sims, 1):.0%}")

    def generation(self, g: Generation, target: int) -> None:
        line = (f"generation {g.t}: epsilon {g.epsilon:.4g}, acceptance {g.acceptance_rate:.1%} "
                f"({g.particles}/{g.simulations}), ESS {g.ess:.0f}, {g.wall_time:.1f} s")
        if self.bar is None:
            _say(line)
            return
        self.bar.console.print(line, highlight=False)
        self.bar.update(self.gen, completed=g.t + 1, info=f"ε {g.epsilon:.3g}")
        self.bar.reset(self.acc, description=f"generation {g.t + 1}", info="")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _write_products(problem: Problem, out: Path, client, report: FitReport) -> tuple[list[Path], object, object]:
    import pyabc

    from alliance_sim.calibration import outputs, plots
    from alliance_sim.calibration.priors import prior_rv
    from alliance_sim.rundir import write_results
    from alliance_sim.writer import atomic_file, atomic_output

    history = pyabc.History(f"sqlite:///{(out / DB_NAME).absolute()}", _id=1)
    if history.max_t < 0:
        raise CalibrationError(f"{out}: no complete generation to write")
    post = outputs.posterior_dataset(history, problem)
    rng = np.random.default_rng(np.random.SeedSequence([problem.spec.abc.seed, 7]))
    pred = outputs.predictive_dataset(problem, outputs.draw_predictive(post, problem, rng), client)
    pred = pred.assign_coords(statistic_uncertain=pred.statistic_uncertain.astype(np.int8))
    cov = outputs.coverage(pred) if pred.sizes.get("posterior_draw", 0) else None
    summary = outputs.parameter_summary(post, problem)
    diag = outputs.diagnostics_table(post)
    files = []

    def put(name: str, writer) -> None:
        with atomic_file(out / name) as tmp:
            writer(tmp)
        files.append(out / name)

    put("posterior.nc", lambda p: write_results(post, p))
    put("predictive.nc", lambda p: write_results(pred, p))
    put("diagnostics.csv", lambda p: diag.to_csv(p, index=False))
    put("posterior_summary.csv", lambda p: summary.to_csv(p, index=False))
    put("particles.csv", lambda p: outputs.particles_table(post).to_csv(p, index=False, float_format="%.17g"))
    if cov is not None:
        put("coverage.csv", lambda p: cov.to_csv(p, index=False))
    with atomic_output(out / "plots", replace=True) as tmp:
        pdfs = {n: (lambda rv: np.vectorize(rv.pdf))(prior_rv(problem, n)) for n in problem.parameter_names}
        figs = {"marginals": plots.plot_marginals(post, pdfs), "pairs": plots.plot_pairs(post),
                "generations": plots.plot_generations(post)}
        if pred.sizes.get("posterior_draw", 0):
            figs["predictive"] = plots.plot_predictive(pred)
        for name, fig in figs.items():
            fig.savefig(tmp / f"{name}.png")
    files.append(out / "plots")
    import pyabc as _p

    info = {
        "calibration": problem.spec.name or problem.source, "definition_hash": problem.definition_hash(),
        "pyabc_version": _p.__version__, "seed": problem.spec.abc.seed, "distance": problem.spec.abc.distance,
        "replicates_per_simulation": problem.spec.abc.replicates,
        "generations": diag.to_dict(orient="records"),
        "total_simulations": int(diag.simulations.sum()),
        "parameters": summary.to_dict(orient="records"),
        "coverage_90": None if cov is None else {"covered": int(cov.covered.sum()), "points": int(len(cov)),
                                                 "points_detail": cov.to_dict(orient="records")},
        "resumed_from_generation": report.resumed_from, "workers": report.workers,
        "wall_time_s": round(report.wall_time, 2),
        "reproducibility": "particles, weights and distances of every generation depend only on the file and "
                           "abc.seed (not on the number of workers, nor serial vs dask); a run resumed after a "
                           "kill re-initialises pyabc's adaptive components from the last stored generation, so "
                           "it matches an uninterrupted run in distribution but not bit for bit",
    }
    put("diagnostics.json", lambda p: Path(p).write_text(json.dumps(info, indent=1, default=float)))
    return files, summary, cov


def calibrate(path: str | Path, out: str | Path | None = None, *, resume: bool = False,
              workers: int | None = None, scheduler: str | None = None, generations: int | None = None,
              progress: bool | None = None) -> CalibrationResult:
    """Run the calibration file ``path`` into ``out`` (a new folder, or an existing one with ``resume``)."""
    from alliance_sim.calibration.priors import prior_mass_check
    from alliance_sim.rundir import default_out_dir

    path = Path(path)
    problem = load_calibration(path)
    prior_mass_check(problem)
    if generations is not None and generations < 1:
        raise CalibrationError(f"--generations: must be at least 1, got {generations}")
    if workers is not None and workers < 0:
        raise CalibrationError(f"--workers: must be at least 0, got {workers}")
    if out is None:
        if resume:
            raise CalibrationError("--resume needs --out: the folder of the calibration to continue")
        out = default_out_dir(f"calibrate-{path.stem}")
    out = Path(out)
    prepare_folder(problem, path, out, resume)
    target = problem.spec.abc.generations if generations is None else generations
    with cluster_client(problem, workers, scheduler) as client:
        created = False
        if not resume:
            _write_state(problem, path, out)
            created = True
        done = completed_generations(out / DB_NAME) if resume else 0
        bar = _Progress(progress, target, done, problem.spec.abc.population_size)
        t0 = time.perf_counter()
        try:
            report = run_abc(problem, out / DB_NAME, client=client, resume=resume, generations=target,
                             on_generation=bar.generation, on_evaluated=bar.evaluated)
        except BaseException:
            bar.close()
            if created and not (out / DB_NAME).exists():
                shutil.rmtree(out, ignore_errors=True)
            elif created and completed_generations(out / DB_NAME) == 0:
                _say(f"note: {out}: interrupted before the first generation; --resume starts it again")
            raise
        bar.close()
        report.wall_time = time.perf_counter() - t0
        with contextlib.ExitStack():
            files, summary, cov = _write_products(problem, out, client, report)
    return CalibrationResult(out, report, summary, cov, files)
