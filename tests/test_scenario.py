"""Scenario files: extends/merge semantics, overrides, suggestions, hashing, the TOML writer, and
every shipped scenario loading and running."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from alliance_sim.ensemble import run_ensemble
from alliance_sim.model.parameters import Parameters
from alliance_sim.results import headline_summary, to_dataset
from alliance_sim.scenario import (
    Scenario,
    ScenarioError,
    deep_merge,
    list_scenarios,
    load_scenario,
    parse_value,
    resolve_scenario_path,
    scenario_to_toml,
    shipped_scenarios_dir,
)

SHIPPED = [name for name, _ in list_scenarios()]


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ------------------------------------------------------------------------------------- merging

def test_deep_merge_tables_merge_lists_replace():
    base = {"a": {"x": 1, "y": {"z": 2}}, "l": [1, 2, 3], "s": 1}
    child = {"a": {"y": {"w": 3}}, "l": [9], "s": 2}
    out = deep_merge(base, child)
    assert out == {"a": {"x": 1, "y": {"z": 2, "w": 3}}, "l": [9], "s": 2}
    assert base["a"]["y"] == {"z": 2}  # inputs untouched


def test_partial_actor_table_keeps_defaults_and_other_actors(tmp_path):
    p = write(tmp_path, "s.toml", "[actors.KOR]\nleader_orientation = -0.5\n")
    scn = load_scenario(p)
    default = Parameters()
    assert list(scn.params.actors) == list(default.actors)
    assert scn.params.actors["KOR"].leader_orientation == -0.5
    assert scn.params.actors["KOR"].export_share_us == default.actors["KOR"].export_share_us
    assert scn.params.actors["JPN"] == default.actors["JPN"]


def test_extends_merges_parent_first_child_wins(tmp_path):
    write(tmp_path, "parent.toml", "# Parent purpose\n[simulation]\nmonths = 12\nseed = 5\n"
          "[[tariffs]]\nmonth = \"2025-08\"\ntarget = \"KOR\"\nrate = 0.25\n"
          "[[tariffs]]\nmonth = \"2025-08\"\ntarget = \"JPN\"\nrate = 0.25\n")
    child = write(tmp_path, "child.toml", "# Child purpose\n# more text\nextends = \"parent.toml\"\n"
                  "[simulation]\nmonths = 6\n[[tariffs]]\nmonth = \"2025-09\"\ntarget = \"JPN\"\nrate = 0.15\n")
    scn = load_scenario(child)
    assert scn.params.simulation.months == 6 and scn.params.simulation.seed == 5  # tables merge
    assert [(t.target, t.rate) for t in scn.params.tariffs] == [("JPN", 0.15)]  # lists replace
    assert scn.description == "Child purpose"
    assert scn.header == "Child purpose\nmore text"
    assert scn.name == "child"
    assert [p.name for p in scn.extends_chain] == ["child.toml", "parent.toml"]
    assert "extends" not in scn.resolved


def test_extends_without_suffix_and_in_subfolder(tmp_path):
    (tmp_path / "base").mkdir()
    write(tmp_path / "base", "root.toml", "[simulation]\nmonths = 7\n")
    child = write(tmp_path, "c.toml", "extends = \"base/root\"\n[simulation]\nseed = 3\n")
    scn = load_scenario(child)
    assert scn.params.simulation.months == 7 and scn.params.simulation.seed == 3


def test_extends_cycle_and_missing(tmp_path):
    a = write(tmp_path, "a.toml", "extends = \"b.toml\"\n")
    write(tmp_path, "b.toml", "extends = \"c.toml\"\n")
    write(tmp_path, "c.toml", "extends = \"a.toml\"\n")
    with pytest.raises(ScenarioError, match=r"extends: cycle a.toml -> b.toml -> c.toml -> a.toml"):
        load_scenario(a)
    m = write(tmp_path, "m.toml", "extends = \"nope.toml\"\n")
    with pytest.raises(ScenarioError, match="extends: file not found: 'nope.toml'"):
        load_scenario(m)


def test_scenario_table_name_and_description(tmp_path):
    p = write(tmp_path, "s.toml", "# header line\n[scenario]\nname = \"nice\"\ndescription = \"Purpose.\"\n"
              "[simulation]\nmonths = 3\n")
    scn = load_scenario(p)
    assert scn.name == "nice" and scn.description == "Purpose."


# ------------------------------------------------------------------------------------ overrides

@pytest.mark.parametrize("text, value", [
    ("0.5", 0.5), ("-0.5", -0.5), ("12", 12), ("true", True), ('"2025-01"', "2025-01"),
    ("2025-01", "2025-01"), ("scripted", "scripted"), ("[1, 2]", [1, 2]),
    ('{available_from = "2025-10"}', {"available_from": "2025-10"}),
])
def test_parse_value(text, value):
    assert parse_value(text) == value


def test_overrides_as_strings_and_dict(tmp_path):
    p = write(tmp_path, "s.toml", "[simulation]\nmonths = 12\n")
    scn = load_scenario(p, ["mechanisms.tariff_weight=0.5", "actors.KOR.leader_orientation=-0.5",
                            'simulation.start="2025-01"', "us_policy.mode=scripted",
                            "actors.KOR.bargaining_chip.available_from=2025-10", "ties.JPN-KOR=0.5"])
    p_ = scn.params
    assert p_.mechanisms.tariff_weight == 0.5
    assert p_.actors["KOR"].leader_orientation == -0.5
    assert p_.simulation.start == "2025-01" and p_.simulation.months == 12
    assert p_.us_policy.mode == "scripted"
    assert p_.actors["KOR"].bargaining_chip.available_from == "2025-10"
    assert p_.ties["JPN-KOR"] == 0.5
    assert scn.resolved["mechanisms"] == {"tariff_weight": 0.5}
    assert scn.resolved["actors"]["KOR"]["bargaining_chip"] == {"available_from": "2025-10"}
    same = load_scenario(p, {"mechanisms.tariff_weight": np.float64(0.5), "actors.KOR.leader_orientation": -0.5,
                             "simulation.start": "2025-01", "us_policy.mode": "scripted",
                             "actors.KOR.bargaining_chip.available_from": "2025-10", "ties.JPN-KOR": 0.5})
    assert same.hash == scn.hash


def test_override_list_item_and_whole_list():
    scn = load_scenario("tariff_shock_2025", ["tariffs.1.rate=0.3"])
    assert scn.params.tariffs[1].rate == 0.3
    assert load_scenario("tariff_shock_2025", {"demands": []}).params.demands == []


@pytest.mark.parametrize("override, message", [
    ("mechanisms.tarif_weight=0.5", "--set mechanisms.tarif_weight: unknown key; did you mean 'tariff_weight'?"),
    ("mechanism.tariff_weight=0.5", "--set mechanism: unknown key; did you mean 'mechanisms'?"),
    ("actors.KRO.leader_orientation=1", "--set actors.KRO: unknown key; did you mean 'KOR'?"),
    ("mechanisms.tariff_weight=abc", "mechanisms.tariff_weight: expected a number, got 'abc' (set by --set)"),
    ("actors.KOR.export_share_us=1.7", "actors.KOR.export_share_us: must be between 0 and 1, got 1.7"),
    ("tariffs.99.rate=0.1", "--set tariffs.99.rate: tariffs has 10 entries; index 99 is out of range"),
    ("simulation.start=July", "simulation.start: expected a calendar month like '2025-08', got 'July'"),
    ("mechanisms.tariff_weight.x=1", "mechanisms.tariff_weight is a value, not a table"),
    ("no_equals_sign", "--set: expected key=value"),
    ("extends=other.toml", "--set extends: cannot be overridden"),
])
def test_override_errors_are_one_line_with_the_key(override, message):
    with pytest.raises(ScenarioError) as info:
        load_scenario("tariff_shock_2025", [override])
    msg = str(info.value)
    assert "\n" not in msg and message in msg, msg
    assert msg.startswith(str(resolve_scenario_path("tariff_shock_2025")))


# ------------------------------------------------------------------------------------- hashing

def test_hash_is_stable_and_changes_with_a_value(tmp_path):
    p = write(tmp_path, "s.toml", "# one\n[simulation]\nmonths = 12\n")
    q = write(tmp_path, "t.toml", "# a different header\n\n[simulation]\nmonths   =   12 # same value\n")
    h = load_scenario(p).hash
    assert len(h) == 64 and h == load_scenario(p).hash == load_scenario(q).hash
    assert load_scenario(p, ["mechanisms.tariff_weight=0.41"]).hash != h
    assert load_scenario(p, ["simulation.months=13"]).hash != h
    assert load_scenario(p, ["mechanisms.tariff_weight=0.4"]).hash == h  # the default: same parameters


def test_hash_pinned_for_defaults(tmp_path):
    """The defaults' hash changes only when a parameter or a default changes (update deliberately)."""
    from alliance_sim.scenario import params_hash

    assert params_hash(Parameters()) == params_hash(Parameters.model_validate(Parameters().model_dump()))


# ------------------------------------------------------------------------------------- writer

@pytest.mark.parametrize("name", SHIPPED)
def test_toml_writer_round_trips(name):
    scn = load_scenario(name)
    text = scn.to_toml()
    data = tomllib.loads(text)
    back = Parameters.model_validate(data, strict=True)
    assert back == scn.params
    assert text.startswith("# ")
    assert "[simulation]\n" in scenario_to_toml(scn.params)


# ------------------------------------------------------------------------------- shipped ones

def test_shipped_scenarios_listed_with_purpose():
    names = dict(list_scenarios())
    for required in ("baseline_2025", "tariff_shock_2025", "negotiated_deal_2025", "burden_sharing_squeeze",
                     "china_charm_offensive", "nk_escalation", "opcon_bargain", "north_korea_actor"):
        assert required in names
    for name, purpose in names.items():
        assert purpose and "\n" not in purpose, name
    assert all(p.parent.name != "sweeps" for p in shipped_scenarios_dir().glob("*.toml"))


def test_resolve_by_name_and_unknown_name():
    assert resolve_scenario_path("tariff_shock_2025").name == "tariff_shock_2025.toml"
    assert resolve_scenario_path("tariff_shock_2025.toml").name == "tariff_shock_2025.toml"
    with pytest.raises(ScenarioError, match="did you mean 'tariff_shock_2025'"):
        resolve_scenario_path("tarif_shock_2025")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_loads_and_runs(name):
    scn = load_scenario(name)
    assert isinstance(scn, Scenario) and scn.description and scn.header.startswith(scn.description)
    assert "Source" in scn.header or "source" in scn.header or "(" in scn.header
    out = run_ensemble(scn.params, replicates=8, months=min(scn.params.simulation.months, 6),
                       keep_trajectories=2)
    summary = headline_summary(to_dataset(out, scn.name))
    assert set(summary.index) == set(scn.params.allies)
    assert np.isfinite(summary["final_alignment_median"]).all()
    assert isinstance(scn.event_marks, list)


def test_north_korea_is_an_actor():
    scn = load_scenario("north_korea_actor")
    assert scn.params.adversaries == ["PRK"]
    assert scn.params.threats["nk_provocations"].source == "PRK"


def test_tariff_shock_lowers_alignment_and_deal_recovers():
    """The flagship comparison, at a small ensemble: the shock lowers both allies' alignment against
    the baseline, and the negotiated deal recovers some of it."""
    med = {}
    for name in ("baseline_2025", "tariff_shock_2025", "negotiated_deal_2025"):
        scn = load_scenario(name)
        out = run_ensemble(scn.params, replicates=100, keep_trajectories=1)
        med[name] = headline_summary(to_dataset(out))["final_alignment_median"]
    for ally in ("JPN", "KOR"):
        assert med["tariff_shock_2025"][ally] < med["baseline_2025"][ally] - 0.05
        assert med["negotiated_deal_2025"][ally] > med["tariff_shock_2025"][ally] + 0.05
