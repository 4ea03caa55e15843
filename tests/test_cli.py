"""The `alliance` command: run folders, re-drawn plots, checks, listings, and one-line errors that
write nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import xarray as xr
from typer.testing import CliRunner

from alliance_sim.cli import app
from alliance_sim.rundir import load_results

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "bad_scenarios"
BAD_FILES = sorted(p for p in BAD.glob("*.toml") if p.name != "expected.toml")
EXPECTED = tomllib.loads((BAD / "expected.toml").read_text())["expected"] if (BAD / "expected.toml").exists() else {}
SMALL = ["--replicates", "200", "--months", "12", "--keep", "20"]

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def _lines(result) -> list[str]:
    try:
        text = result.stdout + result.stderr  # separate streams (click >= 8.2)
    except ValueError:  # older click: stderr mixed into output
        text = result.output
    return [ln for ln in text.splitlines() if ln.strip()]


def assert_one_line_error(result, contains: str | None = None) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = _lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error:"), lines[0]
    assert "Traceback" not in result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit)
    if contains:
        assert contains in lines[0]
    return lines[0]


def _alliance_script() -> str:
    here = Path(sys.executable).parent / "alliance"
    if here.exists():
        return str(here)
    found = shutil.which("alliance")
    if not found:
        pytest.skip("the alliance console script is not installed")
    return found


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One real run of a shipped scenario through the installed console script."""
    out = tmp_path_factory.mktemp("runs") / "shock"
    proc = subprocess.run([_alliance_script(), "run", "tariff_shock_2025", *SMALL, "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(out) in proc.stdout
    assert "South Korea" in proc.stdout  # the headline table
    return out


# ------------------------------------------------------------------------------------- good runs


def test_run_writes_a_complete_folder(run_dir):
    for name in ("results.nc", "summary.csv", "manifest.json", "drivers.csv"):
        assert (run_dir / name).stat().st_size > 0
    pngs = sorted((run_dir / "plots").glob("*.png"))
    # the standard set, including the observation model's observables.png, and the drivers plot
    assert [p.stem for p in pngs] == sorted(["alignment", "cohesion", "crossing", "ties", "decisions", "observables",
                                            "drivers"])
    assert all(p.stat().st_size > 10_000 for p in pngs)
    assert not list(run_dir.parent.glob("*.tmp-*"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["scenario"] == "tariff_shock_2025"
    assert manifest["replicates"] == 200 and manifest["months"] == 12 and manifest["seed"] == 20250711
    assert len(manifest["scenario_hash"]) == 64
    for key in ("numpy", "mesa", "xarray", "numba", "pydantic", "python", "alliance_sim"):
        assert manifest["versions"][key]
    assert manifest["resolved_scenario"]["us_policy"]["mode"] == "transactional"
    assert "run tariff_shock_2025" in manifest["command"]
    assert manifest["wall_time_s"] > 0 and manifest["created_utc"].endswith("Z")
    ds = load_results(run_dir)
    assert ds.attrs["replicates"] == 200 and ds.sizes["month"] == 12
    assert isinstance(ds.attrs["event_labels"], list) and "25% letter tariff" in ds.attrs["event_labels"]
    summary = (run_dir / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("ally,") and len(summary) == 3


def test_plot_redraws_from_results(run_dir):
    shutil.rmtree(run_dir / "plots")
    result = invoke("plot", run_dir)
    assert result.exit_code == 0, result.output
    assert len(list((run_dir / "plots").glob("*.png"))) == 7  # five plots, observables.png and drivers.png


def test_check_prints_resolved_parameters():
    result = invoke("check", "opcon_bargain", "--set", "simulation.months=36")
    assert result.exit_code == 0, result.output
    assert "opcon_bargain: valid" in result.output
    body = result.output.split("\n\n", 1)[1]
    data = tomllib.loads(body)
    assert data["simulation"]["months"] == 36
    assert "KOR" in data["actors"]


def test_scenarios_lists_shipped_ones():
    result = invoke("scenarios")
    assert result.exit_code == 0
    for name in ("baseline_2025", "tariff_shock_2025", "negotiated_deal_2025", "nk_escalation"):
        assert name in result.output


def test_params_prints_a_table():
    result = invoke("params", "--markdown")
    assert result.exit_code == 0
    assert "tariff_weight" in result.output


@pytest.mark.parametrize("command", [[], ["run"], ["compare"], ["plot"], ["check"], ["scenarios"], ["params"]])
def test_help_has_an_example(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Example: alliance" in result.output


def test_compare_uses_common_random_numbers(tmp_path):
    out = tmp_path / "cmp"
    result = invoke("compare", "baseline_2025", "tariff_shock_2025", "--replicates", "100", "--months", "6",
                    "--keep", "5", "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "compare.png").stat().st_size > 10_000
    assert (out / "summary.csv").read_text().startswith("scenario,ally")
    seeds = set()
    for name in ("baseline_2025", "tariff_shock_2025"):
        manifest = json.loads((out / name / "manifest.json").read_text())
        seeds.add((manifest["seed"], manifest["replicates"], manifest["months"]))
        assert len(list((out / name / "plots").glob("*.png"))) == 7  # five plots, observables and drivers
    assert len(seeds) == 1
    shutil.rmtree(out / "baseline_2025" / "plots")
    (out / "compare.png").unlink()
    assert invoke("plot", out).exit_code == 0
    assert (out / "compare.png").exists() and (out / "baseline_2025" / "plots" / "ties.png").exists()


def test_same_results_for_any_chunking_or_workers(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["run", "baseline_2025", "--replicates", "120", "--months", "6", "--keep", "30", "--seed", "5",
              "--no-plots"]
    assert invoke(*common, "--chunk-size", "120", "--out", a).exit_code == 0
    assert invoke(*common, "--chunk-size", "25", "--workers", "2", "--out", b).exit_code == 0
    da, db = load_results(a), load_results(b)
    assert da.identical(db)
    assert xr.open_dataset(a / "results.nc", engine="h5netcdf").load().identical(
        xr.open_dataset(b / "results.nc", engine="h5netcdf").load())


# -------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.name for p in BAD_FILES])
def test_bad_scenario_file_is_one_line_error_and_writes_nothing(path, tmp_path):
    outs = tmp_path / "outs"
    outs.mkdir()
    result = invoke("run", path, *SMALL, "--out", outs / "run")
    line = assert_one_line_error(result)
    assert str(path) in line or path.name in line
    if path.name in EXPECTED:
        assert EXPECTED[path.name] in line
    assert list(outs.iterdir()) == []
    assert_one_line_error(invoke("check", path))


def _bad_command_lines(tmp_path: Path) -> list[tuple[list[str], str]]:
    blocker = tmp_path / "a_file"
    blocker.write_text("in the way")
    out = str(tmp_path / "outs" / "run")
    return [
        (["run", "baseline_2025", "--replicates", "-5", "--out", out], "--replicates: must be between 1"),
        (["run", "baseline_2025", "--replicates", "0", "--out", out], "--replicates"),
        (["run", "baseline_2025", "--replicates", "10000000000", "--out", out], "--replicates"),
        (["run", "baseline_2025", "--replicates", "abc", "--out", out], "--replicates"),
        (["run", "baseline_2025", "--months", "0", "--out", out], "--months"),
        (["run", "baseline_2025", "--months", "100000", "--out", out], "--months"),
        (["run", "baseline_2025", "--chunk-size", "0", "--out", out], "--chunk-size"),
        (["run", "baseline_2025", "--replicates", "5000000", "--chunk-size", "5000000", "--out", out],
         "--chunk-size"),
        (["run", "baseline_2025", "--workers", "0", "--out", out], "--workers"),
        (["run", "baseline_2025", "--keep", "-1", "--out", out], "--keep"),
        (["run", "baseline_2025", "--seed", "-3", "--out", out], "--seed"),
        (["run", "baseline_2025", "--set", "mechanisms.tarif_weight=1", "--out", out], "did you mean 'tariff_weight'"),
        (["run", "baseline_2025", "--set", "actors.KOR.export_share_us=1.7", "--out", out],
         "actors.KOR.export_share_us: must be between 0 and 1, got 1.7"),
        (["run", "baseline_2025", "--set", "mechanisms.tariff_weight=abc", "--out", out], "expected a number"),
        (["run", "baseline_2025", "--set", "no_equals_sign", "--out", out], "--set"),
        (["run", str(tmp_path / "missing.toml"), "--out", out], "missing.toml"),
        (["run", "no_such_scenario", "--out", out], "no_such_scenario"),
        (["run", "baseline_2025", "--out", str(blocker / "run")], "a_file"),
        (["run", "baseline_2025", "--out", str(tmp_path)], "not empty"),
        (["compare", "baseline_2025", "nope_scenario", "--out", out], "nope_scenario"),
        (["plot", str(tmp_path / "outs")], "no results.nc"),
        (["plot", str(tmp_path / "does_not_exist")], "does_not_exist"),
        (["check", "baseline_2025", "--set", "simulation.months=0"], "simulation.months"),
        (["frobnicate"], "No such command"),
    ]


def test_bad_command_lines_are_one_line_errors_and_write_nothing(tmp_path):
    (tmp_path / "outs").mkdir()
    cases = _bad_command_lines(tmp_path)
    assert len(cases) >= 8
    for args, expected in cases:
        before = sorted(p.name for p in tmp_path.rglob("*"))
        result = invoke(*args)
        line = assert_one_line_error(result)
        assert expected in line, (args, line)
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, args


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_out_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert_one_line_error(invoke("run", "baseline_2025", *SMALL, "--out", ro / "run"), "not writable")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_out_folder_that_cannot_be_created_writes_nothing(tmp_path):
    # /proc refuses new folders even for root: the failure comes while writing, after the run
    result = invoke("run", "baseline_2025", "--replicates", "20", "--months", "2", "--out", "/proc/alliance-test/run")
    assert_one_line_error(result, "cannot create folder")


# ------------------------------------------------------------------------------------ interrupts


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    import alliance_sim.ensemble as ensemble

    real = ensemble.run_ensemble

    def interrupted(*args, **kwargs):
        def progress(done, total):
            if done >= total // 2:
                raise KeyboardInterrupt
        kwargs["progress"] = progress
        return real(*args, **kwargs)

    monkeypatch.setattr(ensemble, "run_ensemble", interrupted)
    outs = tmp_path / "outs"
    outs.mkdir()
    result = invoke("run", "baseline_2025", *SMALL, "--out", outs / "run")
    assert result.exit_code == 130
    assert _lines(result) == ["error: interrupted; nothing was written"]
    assert list(outs.iterdir()) == []


def test_interrupt_while_writing_leaves_nothing(tmp_path, monkeypatch):
    import alliance_sim.plots as plots_module

    def boom(ds, folder):
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "alignment.png").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(plots_module, "save_all", boom)
    outs = tmp_path / "outs"
    outs.mkdir()
    result = invoke("run", "baseline_2025", "--replicates", "20", "--months", "3", "--out", outs / "deep" / "run")
    assert result.exit_code == 130
    assert list(outs.iterdir()) == []  # neither the run folder, its temporary twin, nor the parent made for it
