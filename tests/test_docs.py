"""The documentation cannot drift from the code: docs/parameters.md is generated from the parameter tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from alliance_sim.parameter_table import REGENERATE, all_rows, parameter_table_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_parameters_md_matches_code():
    path = ROOT / "docs" / "parameters.md"
    assert path.exists(), f"docs/parameters.md is missing; generate it with: {REGENERATE}"
    assert path.read_text(encoding="utf-8") == parameter_table_markdown(), (
        f"docs/parameters.md is out of date with alliance_sim.model.parameters; regenerate it with: {REGENERATE}")


ROWS = all_rows()


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_every_parameter_has_unit_and_source(row):
    assert row.unit.strip(), f"{row.name}: no unit (json_schema_extra['unit'] in alliance_sim.model.parameters)"
    assert row.source.strip(), (f"{row.name}: no source or rationale (json_schema_extra['source'] in "
                                "alliance_sim.model.parameters)")


def test_table_covers_every_block():
    from alliance_sim.model.parameters import Parameters

    blocks = {r.block for r in ROWS}
    assert blocks == set(Parameters.model_fields)
    names = [r.name for r in ROWS]
    assert len(names) == len(set(names)), "duplicate parameter names in the table"
    for expected in ("mechanisms.tariff_weight", "actors.<ID>.export_share_us",
                     "actors.<ID>.public.favorable_us_share", "threats.<name>.rate_schedule[i].rate_per_month",
                     "tariffs[i].rate", "population.size_per_ally", "ties.<A-B>"):
        assert expected in names


def test_model_md_names_exist():
    """Every parameter name written in docs/model.md (prose and equations) is a real parameter."""
    import re

    path = ROOT / "docs" / "model.md"
    if not path.exists():
        pytest.skip("docs/model.md not written yet")
    text = path.read_text(encoding="utf-8")
    leaves = {r.name for r in ROWS}
    blocks = ("simulation", "mechanisms", "population", "us_policy", "ally_policy", "china_policy",
              "adversary_policy")
    pattern = r"(?<![\w.])((?:" + "|".join(blocks) + r")\.[a-z_]+)"
    quoted = set(re.findall(pattern, text))
    # Actor fields, written with a placeholder (`actors.<ID>.x`, `actors.<a>.x`) or a real id (`actors.JPN.x`).
    for _id, field_path in re.findall(r"(?<![\w.])actors\.(<[A-Za-z]+>|[A-Z]{2,})\.([a-z_.]+)", text):
        quoted.add(f"actors.<ID>.{field_path.rstrip('.')}")
    actor_leaves = {name for name in leaves if name.startswith("actors.")}
    actor_leaves |= {name.rsplit(".", 1)[0] for name in actor_leaves}  # `sector_shares`, `bargaining_chip`

    def known(q: str) -> bool:
        parent = q.rsplit(".", 1)[0]
        return q in leaves or q in actor_leaves or any(n.startswith(parent + ".<") for n in leaves)

    missing = sorted(q for q in quoted if not known(q))
    assert not missing, f"docs/model.md names parameters that do not exist: {missing}"


def test_every_shipped_posterior_names_a_parameter_and_its_calibration_file():
    import csv

    from alliance_sim.parameter_table import POSTERIORS

    known = {r.name for r in ROWS}
    files = sorted(POSTERIORS.glob("*.csv"))
    assert files, "no posterior summaries in calibrations/posteriors/"
    for path in files:
        assert (ROOT / "calibrations" / f"{path.stem}.toml").is_file(), f"{path.name}: no calibration file"
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows, f"{path.name}: empty"
        for r in rows:
            # a model parameter, or a value of the calibration's scenario (an event addressed by its label)
            assert r["parameter"] in known or r["parameter"].startswith("events."), \
                f"{path.name}: unknown parameter {r['parameter']}"
            lo, med, hi = float(r["posterior_p05"]), float(r["posterior_median"]), float(r["posterior_p95"])
            assert lo <= med <= hi, f"{path.name}: {r['parameter']} interval out of order"
