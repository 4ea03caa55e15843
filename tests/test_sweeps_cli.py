"""`alliance sweep`, `sweep-analyze` and `sweep-plot` through a local Typer app: a tiny sweep end to
end, resume, and one-line errors (exit 2, nothing written) for bad sweep files and an unreachable
scheduler."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from sweeps_helpers import assert_same
from typer.testing import CliRunner

from alliance_sim.sweeps.cli import register

ROOT = Path(__file__).resolve().parents[1]

TINY = """
replicates = 3
months = 6
seed = 3
task_size = 2
outputs = ["p_crossed.KOR", "min_cohesion_q.0.5"]
{base}

[set]
"population.size_per_ally" = 0

[design]
{design}

[factors]
{factors}
"""
GOOD_FACTORS = '"mechanisms.tariff_weight" = { low = 0.0, high = 2.0 }\n' \
               '"tariffs.6.rate" = { levels = [0.0, 0.5] }'


@pytest.fixture(scope="module")
def app():
    a = typer.Typer()
    register(a)
    return a


def write(tmp: Path, name="s.toml", base='base = "tariff_shock_2025.toml"', design='kind = "grid"\nresolution = 2',
          factors=GOOD_FACTORS) -> Path:
    shutil.copy(ROOT / "scenarios" / "baseline_2025.toml", tmp / "baseline_2025.toml")
    shutil.copy(ROOT / "scenarios" / "tariff_shock_2025.toml", tmp / "tariff_shock_2025.toml")
    p = tmp / name
    p.write_text(TINY.format(base=base, design=design, factors=factors))
    return p


def run(app, *args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_sweep_analyze_plot_and_resume(app, tmp_path):
    f = write(tmp_path)
    out = tmp_path / "s.zarr"
    r = run(app, "sweep", f, "--out", out, "--workers", 0, "-q", "--max-tasks", 1)
    assert r.exit_code == 0, r.output
    assert "incomplete; continue with" in r.output
    r = run(app, "sweep", f, "--out", out, "--workers", 0, "-q", "--resume")
    assert r.exit_code == 0, r.output
    assert "1 already done" in r.output and "replicate-months/s" in r.output
    full = tmp_path / "full.zarr"
    assert run(app, "sweep", f, "--out", full, "--workers", 0, "-q").exit_code == 0
    assert_same(out, full)
    r = run(app, "sweep-analyze", out)
    assert r.exit_code == 0, r.output
    assert "tariffs.6.rate" in r.output and "effect_range" in r.output
    r = run(app, "sweep-plot", out, "--out", tmp_path / "plots")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "plots" / "heatmap_p_crossed_KOR.png").stat().st_size > 10_000
    r = run(app, "sweep", f, "--out", out, "--workers", 0, "-q")  # exists, no --resume
    assert r.exit_code == 2 and "already exists; use --resume" in r.output


def _assert_one_line_error(r, expected: str, tmp_path: Path, before: set):
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], r.output
    assert set(tmp_path.iterdir()) == before  # nothing written, not even a temporary store


@pytest.mark.parametrize("kw, expected", [
    ({"factors": '"mechanisms.tarif_weight" = { low = 0.0, high = 1.0 }'},
     "factor 'mechanisms.tarif_weight': unknown key; did you mean 'tariff_weight'?"),
    ({"factors": '"mechanisms.tariff_weight" = { low = 1.0, high = 0.5 }'}, "low (1) must not exceed high (0.5)"),
    ({"design": 'kind = "hypercube"'}, "design: Input tag 'hypercube'"),
    ({"base": 'base = "missing.toml"'}, "base scenario: missing.toml: no such scenario file"),
    ({"factors": '"tariffs.6.rate" = { levels = [0.0, 5.0] }'}, "factor 'tariffs.6.rate': must be between 0 and 2, "
                                                                "got 5"),
])
def test_bad_sweep_files(app, tmp_path, kw, expected):
    f = write(tmp_path, **kw)
    before = set(tmp_path.iterdir())
    r = run(app, "sweep", f, "--out", tmp_path / "bad.zarr", "--workers", 0, "-q")
    _assert_one_line_error(r, expected, tmp_path, before)
    assert str(f) in r.output


def test_missing_sweep_file_bad_output_and_bad_store(app, tmp_path):
    before = set(tmp_path.iterdir())
    r = run(app, "sweep", tmp_path / "nope.toml", "--workers", 0)
    _assert_one_line_error(r, "no such sweep file", tmp_path, before)
    f = write(tmp_path)
    text = f.read_text().replace('"p_crossed.KOR"', '"p_crossed.FRA"')
    f.write_text(text)
    before = set(tmp_path.iterdir())
    r = run(app, "sweep", f, "--out", tmp_path / "o.zarr", "--workers", 0, "-q")
    _assert_one_line_error(r, "output 'p_crossed.FRA': ally 'FRA' not found", tmp_path, before)
    r = run(app, "sweep-plot", tmp_path)
    _assert_one_line_error(r, "not a sweep store", tmp_path, before)


def test_unreachable_scheduler(app, tmp_path):
    f = write(tmp_path)
    before = set(tmp_path.iterdir())
    r = run(app, "sweep", f, "--out", tmp_path / "u.zarr", "--scheduler", "tcp://127.0.0.1:1", "-q")
    _assert_one_line_error(r, "cannot reach dask scheduler at tcp://127.0.0.1:1", tmp_path, before)


def test_help_has_examples(app):
    r = run(app, "sweep", "--help")
    assert r.exit_code == 0 and "tcp://" in r.output and "--resume" in r.output and "Examples" in r.output
