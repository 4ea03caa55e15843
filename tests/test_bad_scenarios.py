"""Every file of the bad-scenario corpus fails with a clear one-line error naming the problem.

The corpus lives in ``tests/bad_scenarios/``; ``expected.toml`` there maps each file to a substring
its error must contain.  The CLI tests reuse the same table (exit code 2, no traceback, nothing written).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from alliance_sim.scenario import ScenarioError, load_scenario

CORPUS = Path(__file__).parent / "bad_scenarios"
EXPECTED: dict[str, str] = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))["expected"]


def test_corpus_is_complete_and_large():
    files = {p.name for p in CORPUS.glob("*.toml")} - {"expected.toml"}
    assert files == set(EXPECTED), "every corpus file needs an expected substring, and vice versa"
    assert len(files) >= 25


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_scenario_is_rejected_with_one_line(name):
    path = CORPUS / name
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    msg = str(info.value)
    assert "\n" not in msg and "\r" not in msg
    assert msg.startswith(f"{path}: "), msg
    assert EXPECTED[name] in msg, msg
    assert "Traceback" not in msg and "pydantic" not in msg.lower() and "errors.pydantic.dev" not in msg
    assert len(msg) < 400, msg


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_relative_path_is_kept_as_given(name, monkeypatch):
    monkeypatch.chdir(CORPUS.parent)
    given = f"bad_scenarios/{name}"
    with pytest.raises(ScenarioError) as info:
        load_scenario(given)
    assert str(info.value).startswith(f"{given}: ")
