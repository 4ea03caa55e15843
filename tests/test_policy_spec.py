"""Policy-search files: bad input is one line naming the file and the key, exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from alliance_sim.cli import app
from alliance_sim.policy.spec import PolicyError, load_problem

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
months = 3
replicates = 1
draws = 2
[set]
"population.size_per_ally" = 0
[levers]
"mechanisms.tariff_weight" = { low = 0.0, high = 1.0 }
[uncertainties]
"mechanisms.threat_weight" = { low = 0.5, high = 1.5 }
[objectives.p]
output = "p_crossed.KOR"
direction = "minimize"
[search]
population = 2
generations = 1
"""

BAD = [
    ("typo_top", 'replicate = 3\n' + GOOD, "replicate: unknown key; did you mean 'replicates'?"),
    ("typo_search", GOOD + "generation = 3\n", "search.generation: unknown key; did you mean 'generations'?"),
    ("typo_lever", GOOD.replace("high = 1.0 }", "hihg = 1.0 }"), "levers.mechanisms.tariff_weight.hihg: unknown key"),
    ("unknown_lever", GOOD.replace('"mechanisms.tariff_weight"', '"mechanisms.tarif_weight"'),
     "lever 'mechanisms.tarif_weight'"),
    ("lever_bad_range", GOOD.replace("low = 0.0, high = 1.0", "low = 2.0, high = 1.0"),
     "levers.mechanisms.tariff_weight: low (2) must not exceed high (1)"),
    ("lever_out_of_bounds", GOOD.replace("low = 0.0, high = 1.0", "low = -5.0, high = 1.0"),
     "lever 'mechanisms.tariff_weight'"),
    ("month_lever_order", GOOD.replace('"mechanisms.tariff_weight" = { low = 0.0, high = 1.0 }',
                                       '"tariffs.0.month" = { first = "2026-01", last = "2025-09" }'),
     "first (2026-01) must not be after last (2025-09)"),
    ("month_lever_form", GOOD.replace('"mechanisms.tariff_weight" = { low = 0.0, high = 1.0 }',
                                      '"tariffs.0.month" = { first = "2026-1", last = "2026-09" }'),
     "expected a calendar month like '2025-08'"),
    ("both", GOOD.replace('"mechanisms.threat_weight"', '"mechanisms.tariff_weight"'),
     "'mechanisms.tariff_weight' is both a lever and an uncertainty"),
    ("no_objective", GOOD.replace('[objectives.p]\noutput = "p_crossed.KOR"\ndirection = "minimize"\n', ""),
     "objectives"),
    ("bad_direction", GOOD.replace('direction = "minimize"', 'direction = "lower"'), "objectives.p.direction"),
    ("missing_output", GOOD.replace('output = "p_crossed.KOR"\n', ""), "objectives.p: an output objective needs"),
    ("unknown_output", GOOD.replace('"p_crossed.KOR"', '"p_crossed.XYZ"'), "objectives.p.output"),
    ("cost_with_output", GOOD.replace('output = "p_crossed.KOR"', 'kind = "relief_cost"\noutput = "a"'),
     "a relief_cost objective takes no output"),
    ("unknown_ally", GOOD + '[objectives.c]\nkind = "relief_cost"\ndirection = "minimize"\nallies = ["PRK"]\n',
     "objectives.c.allies: unknown ally 'PRK'"),
    ("policy_not_lever", GOOD + '[policies.sq]\n"mechanisms.burden_weight" = 1.0\n',
     "policies.sq.mechanisms.burden_weight: not a lever"),
    ("policy_outside", GOOD + '[policies.sq]\n"mechanisms.tariff_weight" = 3.0\n',
     "policies.sq.mechanisms.tariff_weight: 3 is outside 0..1"),
    ("months_and_until", GOOD.replace("months = 3", 'months = 3\nuntil = "2027-12"'),
     "give either months or until"),
    ("until_before_start", GOOD.replace("months = 3", 'until = "2020-01"'), "until: 2020-01 is before the start"),
    ("fixed_key", GOOD.replace('"mechanisms.threat_weight" = { low = 0.5, high = 1.5 }',
                               '"simulation.seed" = { low = 1, high = 5, integer = true }'),
     "uncertainty 'simulation.seed': cannot vary"),
    ("add_not_a_list", GOOD + '[[add.mechanisms]]\nx = 1\n', "add.mechanisms: not a list"),
    ("add_bad_entry", GOOD + '[[add.tariffs]]\nmonth = "2026-01"\ntarget = "KOR"\nrate = 7.0\n', "add: tariffs.0.rate"),
    ("small_population", GOOD.replace("population = 2", "population = 1"), "search.population"),
    ("not_toml", "levers = [", ""),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_is_one_line_naming_file_and_key(tmp_path, name, text, message):
    f = tmp_path / f"{name}.toml"
    f.write_text(text)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["policy-search", str(f), "--out", str(out), "--workers", "0", "-q"])
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert str(f) in lines[0] and message in lines[0], lines[0]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [f.name]   # nothing half-written beside it


def test_missing_file_and_bad_options(tmp_path):
    r = CliRunner().invoke(app, ["policy-search", str(tmp_path / "nope.toml"), "--workers", "0"])
    assert r.exit_code == 2 and "no such policy-search file" in r.output
    f = tmp_path / "good.toml"
    f.write_text(GOOD)
    r = CliRunner().invoke(app, ["policy-search", str(f), "--workers", "1", "--dask", "tcp://127.0.0.1:1"])
    assert r.exit_code == 2 and "either --dask or --workers" in r.output
    r = CliRunner().invoke(app, ["policy-search", str(f), "--dask", "nonsense"])
    assert r.exit_code == 2 and "not a scheduler address" in r.output


def test_shipped_policy_file_loads():
    p = load_problem(ROOT / "scenarios" / "sweeps" / "policy_tariff_shock.toml")
    assert p.months == 30                       # 2025-07 .. 2027-12
    assert len(p.draws) == p.spec.draws
    assert p.base.tariffs[-1].label == "KOR relief" and p.base.tariffs[-1].rate == 0.25
    assert set(p.spec.objectives) == {"p_cross_kor", "cohesion", "relief_cost"}


def test_error_type():
    with pytest.raises(PolicyError):
        load_problem("does-not-exist.toml")
