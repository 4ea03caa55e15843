"""Scenario files: TOML on disk → validated ``Parameters``, with one-line errors.

A scenario file states only what differs from the model's defaults (or from the scenario it
``extends``).  Loading goes, one module per step:

1. find the file (a path, or a shipped scenario's name) and read it as UTF-8 TOML with ``tomllib``
   (a scenario can never execute code) — :mod:`alliance_sim.scenario_files`;
2. if it has ``extends = "other.toml"`` (beside the file, or a shipped scenario's name), load that
   first, recursively, and deep-merge: tables merge key by key, lists and scalars in the child replace
   the parent's, a table for a list changes the entries it names — :mod:`alliance_sim.scenario_merge`;
3. merge the result onto the defaults of ``Parameters`` the same way (so ``[actors.KOR]`` changes
   Korea and keeps the other actors);
4. apply overrides (``--set key=value``) to that raw tree — :mod:`alliance_sim.overrides`;
5. validate with pydantic, strictly (a string is not a number), and translate the first error into
   one line: ``<path>: <dotted.key>: <what was expected>, got <what was found>`` —
   :mod:`alliance_sim.scenario_errors`.

Besides the fields of ``Parameters`` a file may have ``extends``, a ``[scenario]`` table with
``name`` and ``description``, and ``[initial_conditions]`` (``source = "observed"``: the allies' start
export shares, defence spending and polls from the shipped observed data of the scenario's year —
:mod:`alliance_sim.scenario_initial`).  The header comment (the ``#`` lines at the top of the file) is the
scenario's documentation; its first line is the one-line purpose shown by ``alliance list``.
Writing parameters back as TOML is :mod:`alliance_sim.scenario_toml`.

The model package never imports this module: it is the I/O layer around it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alliance_sim.model.parameters import Parameters
from alliance_sim.overrides import OverrideError, parse_overrides, parse_value, record_override, set_in_tree
from alliance_sim.scenario_errors import META_KEYS, ScenarioError, _one_line, _show, _unknown, validation_error
from alliance_sim.scenario_files import header_of, list_scenarios, resolve_scenario_path, shipped_scenarios_dir
from alliance_sim.scenario_initial import FIELDS as INITIAL_FIELDS
from alliance_sim.scenario_initial import KEY as INITIAL_KEY
from alliance_sim.scenario_initial import resolve_initial_conditions
from alliance_sim.scenario_merge import deep_merge, load_chain, merge
from alliance_sim.scenario_toml import scenario_to_toml

__all__ = [
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "resolve_scenario_path",
    "list_scenarios",
    "shipped_scenarios_dir",
    "scenario_to_toml",
    "parse_overrides",
    "parse_value",
    "params_hash",
    "deep_merge",
    "META_KEYS",
]

SCENARIO_TABLE_KEYS = ("name", "description")


@dataclasses.dataclass
class Scenario:
    """A loaded, validated scenario."""

    name: str  # file stem (or [scenario].name)
    path: Path | None
    params: Parameters
    description: str = ""  # one-line purpose: first line of the header comment
    header: str = ""  # the whole header comment, without the '#' markers
    resolved: dict = dataclasses.field(default_factory=dict)  # file-level merge after extends + overrides
    hash: str = ""  # sha256 of the canonical JSON of params.model_dump()
    extends_chain: list[Path] = dataclasses.field(default_factory=list)  # this file first, then parents
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)  # dotted key -> value applied
    # [initial_conditions] as resolved: ally -> field -> {value, year, source} (empty without the table)
    initial_conditions: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def event_marks(self) -> list[tuple[str, str]]:
        """(calendar month, label) of the labelled schedule entries and events within the horizon."""
        from alliance_sim.model.compiled import compile_parameters

        c = compile_parameters(self.params)
        return [(c.month_labels[k], label) for k, label in c.event_marks]

    def to_toml(self) -> str:
        """The fully resolved parameters as TOML (with this scenario's header)."""
        return scenario_to_toml(self.params, header=self.header)


def params_hash(params: Parameters) -> str:
    """sha256 of the canonical JSON of the parameters (stable across runs and machines).

    Keys keep their order (actor order defines array indices, so it is part of the identity)."""
    text = json.dumps(params.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=True,
                      allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


# -------------------------------------------------------------------------------------- loading


def _check_meta(data: dict, shown: str) -> dict:
    meta = data.get("scenario", {})
    if not isinstance(meta, dict):
        raise ScenarioError(shown, "scenario", f"expected a table with name/description, got {_show(meta)}")
    for k, v in meta.items():
        if k not in SCENARIO_TABLE_KEYS:
            raise _unknown(shown, f"scenario.{k}", k, list(SCENARIO_TABLE_KEYS))
        if not isinstance(v, str):
            raise ScenarioError(shown, f"scenario.{k}", f"expected a string, got {_show(v)}")
    return meta


def _defined_in(key: str, chain: list[Path]) -> Path | None:
    """The extended file that sets ``key`` when the file asked for does not (None otherwise)."""
    def has(data: Any, parts: list[str]) -> bool:
        for part in parts:
            if isinstance(data, list) and part.isdigit() and int(part) < len(data):
                data = data[int(part)]
            elif isinstance(data, dict) and part in data:
                data = data[part]
            else:
                return False
        return True

    parts = key.split(".")
    for depth, file in enumerate(chain):
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        if has(data, parts) or (parts and has(data, parts[:1]) and isinstance(data.get(parts[0]), list)):
            return file if depth > 0 else None
    return None


def default_tree() -> dict:
    """The defaults of ``Parameters`` as a raw tree (``None`` values left out, as TOML has no null)."""
    return Parameters().model_dump(mode="python", exclude_none=True)


def build_params(raw: Mapping, shown: str | None = None, override_keys: Iterable[str] = ()) -> Parameters:
    """Validate a raw scenario tree (without ``extends``/``scenario``) merged onto the defaults."""
    try:
        return Parameters.model_validate(deep_merge(default_tree(), raw), strict=True)
    except ValidationError as exc:
        raise validation_error(exc, shown, override_keys) from None


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | Iterable[str] = ()) -> Scenario:
    """Load, merge (``extends``), override and validate a scenario file.

    ``path`` is a file path or the bare name of a shipped scenario.  ``overrides`` are
    ``"dotted.key=value"`` strings (value parsed as a TOML literal) or a dict.  Raises
    :class:`ScenarioError` (one line, starting with the path as given) on any problem."""
    file = resolve_scenario_path(path)
    shown = str(path) if Path(path).is_file() else str(file)
    try:
        over = parse_overrides(overrides)
    except ScenarioError as exc:
        raise ScenarioError(shown, exc.key, exc.problem) from None
    merged, text, chain = load_chain(file, shown, [])
    meta = _check_meta(merged, shown)
    written = {k: v for k, v in merged.items() if k not in ("scenario", INITIAL_KEY)}
    full = merge(default_tree(), written, shown)
    initial = {}
    if INITIAL_KEY in merged:  # start from the observed data of the scenario's year (scenario_initial.py)
        initial = resolve_initial_conditions(merged[INITIAL_KEY], full, shown)
        for ally, fields in initial.items():
            for field, used in fields.items():
                parts = ["actors", ally] + list(INITIAL_FIELDS[field][0])
                node = written
                for part in parts[:-1]:
                    node = node.setdefault(part, {})
                node[parts[-1]] = used["value"]
    positional = []
    for key, value in over.items():
        try:
            positional.append(set_in_tree(full, key, value, label=f"--set {key}"))
        except OverrideError as exc:
            label = exc.key if exc.key.startswith("--set") else f"--set {exc.key}"
            raise ScenarioError(shown, label, exc.problem) from None
    resolved = copy.deepcopy(written)
    for key in positional:
        record_override(resolved, full, key.split("."))
    try:
        params = Parameters.model_validate(full, strict=True)
    except ValidationError as exc:
        err = validation_error(exc, shown, positional)
        origin = _defined_in(err.key, chain) if err.key and "(set by --set)" not in err.problem else None
        if origin is not None:
            err = ScenarioError(shown, err.key, f"{err.problem} (from extended file {origin})")
        raise err from None
    header = header_of(text)
    description = meta.get("description") or (header.splitlines()[0].strip() if header else "")
    return Scenario(name=meta.get("name") or file.stem, path=file, params=params,
                    description=_one_line(description), header=header, resolved=resolved,
                    hash=params_hash(params), extends_chain=chain, overrides=over, initial_conditions=initial)


