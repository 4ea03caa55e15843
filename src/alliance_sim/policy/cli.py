"""``alliance policy-search FILE``: search the levers of a policy-search file and write the Pareto
front, regret, the per-draw results and the plots into a new folder, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

HELP = """Robust policy search: optuna's NSGA-II over the file's levers, each policy judged over the \
same uncertainty draws (common random numbers); writes the Pareto front, regret and plots.

Runs on a local dask cluster of one process per core by default, on a running dask cluster with \
--dask, or serially with --workers 0.  Results are identical either way.

Examples:

  alliance policy-search scenarios/sweeps/policy_tariff_shock.toml

  alliance policy-search scenarios/sweeps/policy_tariff_shock.toml --out tariff_policy/ --workers 2

  alliance policy-search scenarios/sweeps/policy_tariff_shock.toml --dask tcp://10.0.0.5:8786
"""


def register(app: typer.Typer) -> None:
    @app.command("policy-search", help=HELP, no_args_is_help=True)
    def policy_search_cmd(
        policy_file: Annotated[Path, typer.Argument(help="Policy-search definition (TOML).", show_default=False)],
        out: Annotated[Path | None, typer.Option("--out", "-o", help="New folder for the results "
                       "(default: ./<file name>_policy).")] = None,
        workers: Annotated[int | None, typer.Option("--workers", "-w", min=0,
                           help="Local worker processes (default: one per core; 0 = serial, no dask).")] = None,
        dask: Annotated[str | None, typer.Option("--dask", "--scheduler", metavar="ADDRESS",
                        help="Address of a running dask scheduler, e.g. tcp://host:8786.")] = None,
        task_size: Annotated[int | None, typer.Option("--task-size", min=1, help="(policy, draw) cells per "
                             "task (default: the file's task_size).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        from alliance_sim.sweeps.cli import _fail, _guard

        target = out or Path(f"{policy_file.stem}_policy")

        def body():
            import contextlib

            from alliance_sim.policy.report import write_results
            from alliance_sim.policy.search import run_search
            from alliance_sim.policy.spec import load_problem
            from alliance_sim.sweeps.runner import _Progress, check_address, connect, default_workers, local_cluster
            from alliance_sim.writer import atomic_output, check_target

            if dask and workers is not None:
                raise _fail("give either --dask or --workers, not both")
            if dask:
                check_address(dask)
            check_target(target)
            problem = load_problem(policy_file)
            s = problem.spec
            client = cluster = None
            try:
                if dask:
                    client = connect(dask)
                elif workers != 0:
                    client, cluster = local_cluster(workers or default_workers())
                total = s.search.population * s.search.generations * len(problem.draws)
                bar = _Progress(not quiet, total, 0, f"{s.name or policy_file.stem} (policy × draw cells)")
                try:
                    res = run_search(problem, client=client, task_size=task_size, progress=bar)
                finally:
                    bar.close()
            finally:
                for c in (client, cluster):
                    if c is not None:
                        with contextlib.suppress(Exception):
                            c.close()
            with atomic_output(target) as tmp:
                write_results(res, tmp)
            where = f"{res.workers} dask workers" if res.workers else "serially"
            rate = res.cells_run / res.wall_time if res.wall_time > 0 else 0.0
            print(f"{target}: {len(res.policies)} policies × {len(problem.draws)} uncertainty draws × "
                  f"{s.replicates} replicates × {problem.months} months in {res.wall_time:.1f} s {where} "
                  f"({rate:,.1f} cells/s); {int(res.pareto.sum())} Pareto policies")
            for name in ("pareto.csv", "policies.csv", "draws.csv", "results.nc", "summary.json",
                         "pareto_front.png", "parallel_coordinates.png", "regret.png"):
                print(target / name)
        _guard(body, None)
