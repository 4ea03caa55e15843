"""One validator for every source of a parameter value (scenario file, --set, sweep [set] and factors),
list entries by stable name, ``extends`` by shipped name, defensive decoding, and a hypothesis fuzz of
--set keys and sweep files: exit 2, one line, no traceback, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

from alliance_sim.cli import app
from alliance_sim.overrides import OverrideError, apply_overrides, get_value
from alliance_sim.scenario import ScenarioError, load_scenario
from alliance_sim.writer import OutputError, atomic_output, partial_path

runner = CliRunner()
SWEEP_HEAD = 'replicates = 2\nmonths = 2\nseed = 1\n[set]\n"population.size_per_ally" = 0\n' \
             '[design]\nkind = "lhs"\nsamples = 2\n'


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, contains: str = "") -> str:
    text = result.stdout + result.stderr
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert result.exit_code == 2, (result.exit_code, text, result.exception)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in text
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert len(lines[0]) < 500, len(lines[0])
    assert contains in lines[0], lines[0]
    return lines[0]


def sweep_file(folder: Path, factors: str, head: str = SWEEP_HEAD) -> Path:
    f = folder / "s.toml"
    f.write_text(head + "[factors]\n" + factors + "\n", encoding="utf-8")
    return f


def no_run(monkeypatch):
    """Make any simulation fail loudly: a refused input must be refused before running."""
    import alliance_sim.batch as batch
    import alliance_sim.ensemble as ensemble

    def boom(*a, **k):
        raise AssertionError("ran although the input was bad")

    monkeypatch.setattr(ensemble, "run_ensemble", boom)
    monkeypatch.setattr(batch, "run_points", boom)
    import alliance_sim.sweeps.runner as sweep_runner

    monkeypatch.setattr(sweep_runner, "run_points", boom)


# ----------------------------------------------------------------- the same message from every source

SAME = [("mechanisms.tariff_weight", "true", True, "expected a number, got true (true/false is not a number)"),
        ("mechanisms.tariff_weight", "50.0", 50.0, "must be between 0 and 20, got 50"),
        ("actors.KOR.leader_orientation", '"left"', "left", "expected a number, got 'left'")]


@pytest.mark.parametrize("key, literal, value, problem", SAME)
def test_a_bad_value_gets_the_same_message_from_file_set_and_sweep(tmp_path, monkeypatch, key, literal, value,
                                                                   problem):
    no_run(monkeypatch)
    section, _, leaf = key.rpartition(".")
    f = tmp_path / "sc.toml"
    f.write_text(f'extends = "baseline_2025"\n[{section}]\n{leaf} = {literal}\n')
    from_file = one_line_error(invoke("check", f))
    from_set = one_line_error(invoke("check", "baseline_2025", "--set", f"{key}={literal}"))
    sw = sweep_file(tmp_path, f'"{key}" = {{ levels = [{literal}] }}')
    from_sweep = one_line_error(invoke("sweep", sw, "--out", tmp_path / "s.zarr", "--workers", "0", "-q"))
    for line in (from_file, from_set, from_sweep):
        assert f"{problem}" in line, line
    assert not (tmp_path / "s.zarr").exists()
    with pytest.raises(OverrideError) as err:
        apply_overrides(load_scenario("baseline_2025").params, {key: value})
    assert err.value.problem.startswith(problem)


@pytest.mark.parametrize("factor, reason", [
    ("simulation.months", "the horizon is the sweep's `months`"),
    ("simulation.seed", "common random numbers"),
    ("simulation.replicates", "the sweep's `replicates`"),
    ("actors.KOR.role", "shape of every outcome"),
])
def test_factors_that_cannot_vary_are_refused_with_a_reason(tmp_path, monkeypatch, factor, reason):
    no_run(monkeypatch)
    levels = '["ally", "adversary"]' if factor.endswith("role") else "[1, 2]"
    sw = sweep_file(tmp_path, f'"{factor}" = {{ levels = {levels} }}')
    line = one_line_error(invoke("sweep", sw, "--out", tmp_path / "s.zarr", "--workers", "0", "-q"),
                          f"factor '{factor}': cannot vary between points")
    assert reason in line


def test_a_factor_naming_a_table_is_refused(tmp_path, monkeypatch):
    no_run(monkeypatch)
    sw = sweep_file(tmp_path, '"mechanisms" = { levels = [1] }')
    one_line_error(invoke("sweep", sw, "--out", tmp_path / "s.zarr", "--workers", "0", "-q"), "not one value")


def test_model_level_errors_are_short(tmp_path, monkeypatch):
    """A check over the whole tree once printed the tree (6,000 characters) as the 'input'."""
    no_run(monkeypatch)
    head = SWEEP_HEAD.replace("[set]", 'base = "tariff_shock_2025"\n[set]')
    sw = sweep_file(tmp_path, '"tariffs.0.target" = { levels = ["CHN"] }', head=head)
    line = one_line_error(invoke("sweep", sw, "--out", tmp_path / "s.zarr", "--workers", "0", "-q"),
                          "factor 'tariffs.0.target': expected an ally from ['JPN', 'KOR'], got 'CHN'")
    assert len(line) < 300


@pytest.mark.parametrize("content, message", [
    (b"\x00\x01\x02binary\xff", "not a text file"),
    ('name = "caf\u00e9"\n'.encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    (b"[design\nkind=", "invalid TOML"),
])
def test_sweep_files_are_decoded_defensively(tmp_path, content, message):
    f = tmp_path / "s.toml"
    f.write_bytes(content)
    one_line_error(invoke("sweep", f, "--out", tmp_path / "s.zarr", "--workers", "0", "-q"), message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


@pytest.mark.parametrize("key", ["tariffs.\u0663.rate", "tariffs.\u00b2.rate", "actors.KOR.\u0663"])
def test_non_ascii_digits_in_keys_are_one_line(tmp_path, monkeypatch, key):
    no_run(monkeypatch)
    one_line_error(invoke("check", "tariff_shock_2025", "--set", f"{key}=0.1"))
    head = SWEEP_HEAD.replace("[set]", 'base = "tariff_shock_2025"\n[set]')
    sw = sweep_file(tmp_path, f'"{key}" = {{ levels = [0.1] }}', head=head)
    one_line_error(invoke("sweep", sw, "--out", tmp_path / "s.zarr", "--workers", "0", "-q"))


def test_compare_needs_two_scenarios(tmp_path, monkeypatch):
    no_run(monkeypatch)
    one_line_error(invoke("compare", "baseline_2025", "--out", tmp_path / "c"), "expected two or more scenarios")
    assert list(tmp_path.iterdir()) == []


def test_too_long_out_name_is_refused_before_the_run(tmp_path, monkeypatch):
    no_run(monkeypatch)
    out = tmp_path / ("x" * 250)
    one_line_error(invoke("run", "baseline_2025", "-n", "5", "-m", "2", "--out", out), "name too long")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cmd", ["run", "sweep"])
def test_bad_scheduler_address_is_one_line_without_noise(tmp_path, cmd):
    sw = sweep_file(tmp_path, '"mechanisms.tariff_weight" = { low = 0.0, high = 1.0 }')
    args = ["run", "baseline_2025", "-n", "5", "-m", "2", "--out", tmp_path / "o"] if cmd == "run" else \
        ["sweep", sw, "--out", tmp_path / "s.zarr", "-q"]
    r = subprocess.run([sys.executable, "-m", "alliance_sim.cli", *map(str, args), "--scheduler", "not a url"],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == ["error: --scheduler 'not a url': not a scheduler address; expected e.g. tcp://host:8786"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


# ------------------------------------------------------------------- list entries, extends by name


def test_set_addresses_a_tariff_by_its_stable_name_and_by_label():
    by_pos = load_scenario("tariff_shock_2025", ["tariffs.1.rate=0.4"]).params
    by_name = load_scenario("tariff_shock_2025", ["tariffs.JPN:country:2025-08.rate=0.4"]).params
    by_label = load_scenario("tariff_shock_2025", ['tariffs.25% letter tariff.rate=0.4']).params
    assert by_pos == by_name == by_label
    assert by_name.tariffs[1].rate == 0.4 and by_name.tariffs[1].month == "2025-08"
    assert get_value(by_name, "tariffs.JPN:country:2025-08.rate") == 0.4


def test_unknown_entry_name_lists_the_names():
    with pytest.raises(ScenarioError) as err:
        load_scenario("tariff_shock_2025", ["tariffs.JPN:country:2031-01.rate=0.4"])
    assert "no entry named 'JPN:country:2031-01'" in str(err.value) and "JPN:country:2025-08" in str(err.value)


def test_child_file_changes_one_entry_of_the_parents_list(tmp_path):
    parent = load_scenario("tariff_shock_2025").params
    f = tmp_path / "child.toml"
    f.write_text('extends = "tariff_shock_2025"\n\n[tariffs."JPN:country:2025-08"]\nrate = 0.30\n\n'
                 '[tariffs.0]\nlabel = "first"\n')
    child = load_scenario(f).params
    assert len(child.tariffs) == len(parent.tariffs)
    assert child.tariffs[1].rate == 0.30 and child.tariffs[0].label == "first"
    for a, b in zip(child.tariffs[2:], parent.tariffs[2:], strict=True):
        assert a == b
    assert child.tariffs[1].model_copy(update={"rate": parent.tariffs[1].rate}) == parent.tariffs[1]


def test_child_patch_of_a_missing_entry_is_one_line(tmp_path):
    f = tmp_path / "child.toml"
    f.write_text('extends = "tariff_shock_2025"\n[tariffs."KOR:autos:2030-01"]\nrate = 0.3\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    assert str(err.value).startswith(f"{f}: tariffs") and "no entry named 'KOR:autos:2030-01'" in str(err.value)


def test_extends_accepts_a_shipped_scenarios_name(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('extends = "tariff_shock_2025"\n[mechanisms]\ntariff_weight = 0.9\n')
    sc = load_scenario(f)
    base = load_scenario("tariff_shock_2025").params
    assert sc.params.mechanisms.tariff_weight == 0.9
    assert sc.params.tariffs == base.tariffs
    assert sc.extends_chain[1].name == "tariff_shock_2025.toml"


def test_sweep_factor_by_stable_name_varies_that_tariff():
    from alliance_sim.sweeps.design import make_sweep, parse_sweep

    spec = parse_sweep({"base": "tariff_shock_2025", "design": {"kind": "grid", "resolution": 2},
                        "factors": {"tariffs.JPN:country:2025-08.rate": {"low": 0.1, "high": 0.9}}})
    sweep = make_sweep(spec)
    rates = [apply_overrides(sweep.base, o).tariffs[1].rate for o in sweep.points.overrides]
    assert rates == [0.1, 0.9]


# ---------------------------------------------------------------------------------------- writer


def test_atomic_output_removes_the_temporary_on_an_exception(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError), atomic_output(out) as tmp:
        (tmp / "f").write_text("x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []  # the parents it created are gone too


def test_a_temporary_of_a_live_writer_is_not_removed(tmp_path):
    out = tmp_path / "out"
    other = partial_path(out).with_name(f".out.partial-otherhost-{os.getpid()}")
    other.mkdir()
    with pytest.raises(OutputError, match="another process is writing it"), atomic_output(out):
        pass
    assert other.exists()


# ------------------------------------------------------------------------------------------ fuzz


def _leaves(node, parts=(), fields=()):
    """(dotted key, value, positions of the key's parts that are fields of a pydantic model)."""
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _leaves(getattr(node, name), (*parts, name), (*fields, len(parts)))
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*parts, str(k)), fields)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*parts, str(i)), fields)
    elif node is not None:
        yield ".".join(parts), node, fields


_ALL = sorted(_leaves(load_scenario("tariff_shock_2025").params), key=lambda t: t[0])
LEAVES = [(k, v) for k, v, _ in _ALL]
FIELD_POSITIONS = [(k, f) for k, _, f in _ALL]


def _wrong_literal(value) -> st.SearchStrategy[str]:
    """TOML literals of a type the leaf does not accept (strict validation)."""
    tables = st.sampled_from(["{a = 1}", "[1, 2]", "[]", "{}"])
    if isinstance(value, bool):
        return st.one_of(st.integers(-5, 5).map(str), st.just('"yes"'), tables)
    if isinstance(value, int | float):
        return st.one_of(st.sampled_from(["true", "false", '"1"', '"x"', "2025-01-01"]), tables)
    return st.one_of(st.integers().map(str), st.floats(allow_nan=False).map(repr), st.sampled_from(["true"]), tables)


@st.composite
def bad_override(draw):
    kind = draw(st.sampled_from(["unknown key", "wrong type", "garbage key"]))
    if kind == "wrong type":
        key, value = draw(st.sampled_from(LEAVES))
        return f"{key}={draw(_wrong_literal(value))}"
    if kind == "unknown key":
        key, fields = draw(st.sampled_from(FIELD_POSITIONS))  # an unknown field name is always an error
        parts = key.split(".")
        i = draw(st.sampled_from(fields))
        parts[i] = "zz" + draw(st.text(st.characters(codec="utf-8", exclude_characters="=.\n\r"), max_size=8))
        return ".".join(parts) + "=" + draw(st.sampled_from(["1", "0.5", '"a"', "true"]))
    text = draw(st.text(st.characters(codec="utf-8", exclude_characters="\n\r\x00"), min_size=1, max_size=30))
    return "zz" + text.replace("=", "") + "=" + draw(st.text(max_size=10).map(lambda s: s.replace("\n", "")))


FUZZ = settings(max_examples=int(os.environ.get("ALLIANCE_SIM_FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(item=bad_override())
def test_fuzz_bad_set_is_exit_2_one_line_and_writes_nothing(monkeypatch, item):
    no_run(monkeypatch)
    with tempfile.TemporaryDirectory() as d:
        r = invoke("run", "tariff_shock_2025", "-n", "5", "-m", "2", "--set", item, "--out", Path(d) / "o")
        one_line_error(r)
        assert os.listdir(d) == []


SWEEP_KEYS = ["mechanisms.tariff_weight", "threats.nk_provocations.rate_per_month", "actors.KOR.leader_orientation",
              "simulation.months", "population.size_per_ally", "tariffs.0.rate"]


@st.composite
def bad_sweep(draw) -> bytes:
    kind = draw(st.sampled_from(["bytes", "text", "factor"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    key = draw(st.one_of(st.sampled_from(SWEEP_KEYS),
                         st.text(st.characters(codec="utf-8", exclude_characters='"\\\n\r'), min_size=1,
                                 max_size=12).map(lambda s: "zz." + s)))
    level = draw(st.sampled_from(["true", '"x"', "-1e9", "1e9", "{a=1}", "[1]"]))
    body = f'[factors]\n"{key}" = {{ levels = [{level}] }}\n'
    return (SWEEP_HEAD + body).encode()


@FUZZ
@given(content=bad_sweep())
def test_fuzz_bad_sweep_file_is_exit_2_one_line_and_writes_nothing(monkeypatch, content):
    no_run(monkeypatch)
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "s.toml"
        f.write_bytes(content)
        r = invoke("sweep", f, "--out", Path(d) / "s.zarr", "--workers", "0", "-q")
        one_line_error(r)
        assert os.listdir(d) == ["s.toml"]
