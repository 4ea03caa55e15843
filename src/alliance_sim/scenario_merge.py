"""``extends`` and merging: a scenario file on top of the one it extends, on top of the defaults.

Tables merge key by key; a list or scalar in the child replaces the parent's — except that a *table*
given for a list changes single entries, named by position, stable name or label (see
:mod:`alliance_sim.overrides`)::

    extends = "tariff_shock_2025"          # a file beside this one, or a shipped scenario's name

    [tariffs."JPN:country:2025-08"]        # only the 25 % letter tariff on Japan changes
    rate = 0.30

and ``[[add.<list>]]`` entries are appended to the inherited list (a branch adds an event or a tariff
without restating the parent's)::

    [[add.events]]
    month = "2026-11"
    kind = "reassurance"
    targets = ["KOR"]
    magnitude = 0.1
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alliance_sim.overrides import OverrideError, patch_list
from alliance_sim.scenario_errors import ScenarioError, _show
from alliance_sim.scenario_files import read_toml, resolve_scenario_path

MAX_EXTENDS_DEPTH = 32
#: The table whose arrays are appended to the inherited lists (``[[add.events]]``).
ADD_KEY = "add"


def deep_merge(base: Mapping, child: Mapping, _path: str = "") -> dict:
    """``child`` on top of ``base``: tables merge recursively; lists and scalars in the child replace;
    a table in the child for a list in the base changes the entries it names (:func:`patch_list`)."""
    out = copy.deepcopy(dict(base))
    for k, v in child.items():
        where = f"{_path}.{k}" if _path else str(k)
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v, where)
        elif isinstance(v, Mapping) and isinstance(out.get(k), list):
            out[k] = patch_list(out[k], v, str(k), where)
        else:
            out[k] = copy.deepcopy(v)
    return out


def merge(base: Mapping, child: Mapping, shown: str) -> dict:
    """:func:`deep_merge` with its errors as a :class:`ScenarioError` of the file ``shown``."""
    try:
        return deep_merge(base, child)
    except OverrideError as exc:
        raise ScenarioError(shown, exc.key, exc.problem) from None


def _parent_file(path: Path, ref: str) -> Path | None:
    """The file ``extends = ref`` means: beside ``path`` (``.toml`` optional), else a shipped scenario."""
    local = path.parent / ref
    if not local.exists() and local.suffix == "":
        local = local.with_suffix(".toml")
    if local.is_file():
        return local
    if "/" not in ref and "\\" not in ref:
        try:
            return resolve_scenario_path(ref)
        except ScenarioError:
            return None
    return None


def load_chain(path: Path, shown: str, stack: list[Path]) -> tuple[dict, str, list[Path]]:
    """Raw dict of ``path`` with its ``extends`` ancestors merged in; the file's text; the chain."""
    real = path.resolve()
    if len(stack) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(shown, "extends", f"chain deeper than {MAX_EXTENDS_DEPTH} files")
    data, text = read_toml(path, shown)
    if not data:
        raise ScenarioError(shown, "", "empty scenario (no settings); state at least one value, or "
                                       "`extends = \"baseline_2025.toml\"` to start from a shipped scenario")
    parent_ref = data.pop("extends", None)
    additions = data.pop(ADD_KEY, None)
    chain = [path]
    if parent_ref is None:
        return _append_entries(data, additions, shown), text, chain
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise ScenarioError(shown, "extends", f"expected a file name such as \"baseline_2025.toml\" or a "
                                              f"shipped scenario's name, got {_show(parent_ref)}")
    parent = _parent_file(path, parent_ref)
    if parent is None:
        raise ScenarioError(shown, "extends", f"file not found: {parent_ref!r} (looked in {path.parent}/ and "
                                              "the shipped scenarios)")
    seen = stack + [real]
    if parent.resolve() in seen:
        loop = seen[seen.index(parent.resolve()):] + [parent.resolve()]
        err = ScenarioError(shown, "extends", f"cycle {' -> '.join(p.name for p in loop)}")
        err.cycle = True
        raise err
    try:
        pdata, _, pchain = load_chain(parent, str(parent), seen)
    except ScenarioError as exc:
        if exc.cycle:
            if not stack:  # report a cycle once, from the file that was asked for
                raise ScenarioError(shown, exc.key, exc.problem) from None
            raise
        # an error inside the parent: say which extended file it is in
        raise ScenarioError(shown, "", f"in extended file {exc}") from None
    return _append_entries(merge(pdata, data, shown), additions, shown), text, chain + pchain


def _append_entries(merged: dict, additions: Any, shown: str) -> dict:
    """``merged`` with the ``[[add.<list>]]`` entries of the file appended to each inherited list (the
    defaults' list where no file in the chain sets one)."""
    if additions is None:
        return merged
    if not isinstance(additions, Mapping):
        raise ScenarioError(shown, ADD_KEY, f"expected tables of entries such as [[add.events]], got "
                                            f"{_show(additions)}")
    from alliance_sim.scenario import default_tree

    lists = {k: v for k, v in default_tree().items() if isinstance(v, list)}
    out = dict(merged)
    for field, entries in additions.items():
        if field not in lists:
            hint = ", ".join(sorted(lists))
            raise ScenarioError(shown, f"{ADD_KEY}.{field}", f"expected a list of the scenario ({hint}), got "
                                                             f"{field!r}")
        if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
            raise ScenarioError(shown, f"{ADD_KEY}.{field}", f"expected [[{ADD_KEY}.{field}]] entries (tables), got "
                                                             f"{_show(entries)}")
        base = out.get(field, lists[field])
        out[field] = copy.deepcopy(list(base)) + copy.deepcopy(entries)
    return out
