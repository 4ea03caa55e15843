"""Dotted-key access to the parameter tree: ``mechanisms.tariff_weight``, ``actors.KOR.export_share_us``,
``threats.nk_provocations.rate_per_month``, and list entries by position or by a stable name:
``tariffs.2.rate``, ``tariffs.JPN:country:2025-08.rate`` (target:sector:month) or by a label
without dots (``tariffs.25% letter tariff.rate``).

Used by ``--set`` on the command line, by scenario files that change one entry of a parent's list,
by sweep ``[set]`` and factors and by the EMA Workbench adapter, so a parameter is addressed — and a
bad value reported — the same way everywhere: every override is validated strictly by pydantic and
its error translated by :mod:`alliance_sim.scenario_errors`.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from alliance_sim.model.parameters import Parameters
from alliance_sim.scenario_errors import (
    META_KEYS,
    ScenarioError,
    _child_type,
    _field_options,
    _is_model,
    _unknown,
    _unwrap,
    validation_error,
)

#: The fields that name an entry of each list of tables (joined with ':'), so a key survives a reordering.
ENTRY_KEYS: dict[str, tuple[str, ...]] = {
    "tariffs": ("target", "sector", "month"),
    "demands": ("target", "month"),
    "events": ("kind", "month"),
    "rate_schedule": ("month",),
}


class OverrideError(ScenarioError, ValueError):
    """A dotted key that does not exist or a value the parameter does not accept (one-line message)."""

    def __init__(self, key: str, problem: str, path: str | None = None):
        super().__init__(path, key, problem)


# ------------------------------------------------------------------------------ list entries


def entry_name(list_field: str, entry: Any) -> str | None:
    """The stable name of one entry of a list of tables (``JPN:country:2025-08`` for a tariff)."""
    fields = ENTRY_KEYS.get(list_field)
    if not fields or not isinstance(entry, Mapping):
        return None
    return ":".join(str(entry.get(f, "")) for f in fields)


def find_entry(items: list, part: str, list_field: str, where: str, label: str | None = None) -> int:
    """Position of the entry ``part`` names in the list ``items`` at ``where``: an index, a stable name
    or a label (errors are reported under the key ``label``, default ``where``)."""
    label = label or where
    if part.isascii() and part.isdigit():
        idx = int(part)
        if idx >= len(items):
            raise OverrideError(label, f"{where} has {len(items)} entries; index {idx} is out of range")
        return idx
    hits = [i for i, e in enumerate(items)
            if entry_name(list_field, e) == part or (isinstance(e, Mapping) and e.get("label") == part)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise OverrideError(label, f"'{part}' names {len(hits)} entries of {where} (positions {hits}); "
                                   "use a position")
    if list_field not in ENTRY_KEYS:
        raise OverrideError(label, f"{where} is a list; expected an index, got {part!r}")
    names = [entry_name(list_field, e) for e in items]
    shown = ", ".join(n for n in names[:6] if n) + (", ..." if len(names) > 6 else "")
    form = ":".join(ENTRY_KEYS[list_field])
    listing = f"; its entries are {shown}" if shown else "; it is empty"
    raise OverrideError(label, f"{where} has no entry named {part!r} (name entries {form}, by label or by "
                               f"position){listing}")


# ------------------------------------------------------------------------------------ parsing


def parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML literal (``0.5``, ``-1``, ``true``, ``"2025-01"``, ``[1, 2]``,
    ``{available_from = "2025-10"}``), or the text itself as a string if it is not valid TOML."""
    s = text.strip()
    try:
        return tomllib.loads(f"v = {s}")["v"]
    except tomllib.TOMLDecodeError:
        return s


def parse_overrides(overrides: Mapping[str, Any] | Iterable[str] | None) -> dict[str, Any]:
    """``["a.b=1", ...]`` or ``{"a.b": 1}`` as an ordered dict of dotted key → value."""
    if not overrides:
        return {}
    if isinstance(overrides, Mapping):
        return {str(k).strip(): _plain(v) for k, v in overrides.items()}
    if isinstance(overrides, str):
        overrides = [overrides]
    out: dict[str, Any] = {}
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise OverrideError("--set", f"expected key=value, got {_short(item)}")
        key, _, value = item.partition("=")
        key = key.strip()
        if not key:
            raise OverrideError("--set", f"expected key=value, got {_short(item)}")
        out[key] = parse_value(value)
    return out


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _plain(v: Any) -> Any:
    """numpy scalars and tuples as plain Python values."""
    if hasattr(v, "item") and getattr(v, "shape", None) == ():
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


# ------------------------------------------------------------------------------- the raw tree


def set_in_tree(raw: dict, key: str, value: Any, label: str | None = None) -> str:
    """Set dotted ``key`` in a raw parameter tree (unknown keys: OverrideError with a suggestion);
    return the key in positional form (list entries as indices), as pydantic reports errors."""
    parts = key.split(".")
    label = label or key
    if any(p.strip() == "" for p in parts):
        raise OverrideError(label, "malformed key (empty part)")
    if parts[0] in META_KEYS:
        raise OverrideError(label, "cannot be overridden; only parameters can")
    node: Any = raw
    tp: Any = Parameters
    so_far: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(so_far) or "top level"
        child = _child_type(tp, part)
        if isinstance(node, list):
            idx = find_entry(node, part, so_far[-1] if so_far else "", where, label)
            child = _child_type(tp, "0")
            if last:
                node[idx] = value
                so_far.append(str(idx))
                return ".".join(so_far)
            node, tp = node[idx], (child[0] if child else Any)
            so_far.append(str(idx))
            continue
        if not isinstance(node, dict):
            raise OverrideError(label, f"{where} is a value, not a table")
        dotted = ".".join(so_far + [part])
        if _is_model(_unwrap(tp)) and child is None:
            err = _unknown(None, dotted, part, _field_options(tp))
            raise OverrideError(dotted, err.problem)
        value_tp = _unwrap(child[0]) if child else None
        if part not in node or node[part] is None:
            if not _is_model(_unwrap(tp)) and _is_model(value_tp) and not last:
                # e.g. actors.KRO.export_share_us: a new actor or threat is written as a whole table
                err = _unknown(None, dotted, part, [str(k) for k in node])
                raise OverrideError(dotted, err.problem)
            if not last:
                node[part] = [] if _is_list_type(value_tp) else {}
        if last:
            node[part] = value
            so_far.append(part)
            return ".".join(so_far)
        node, tp = node[part], (child[0] if child else Any)
        so_far.append(part)
    return ".".join(so_far)


def _is_list_type(tp: Any) -> bool:
    import typing

    return typing.get_origin(tp) is list


def patch_list(items: list, patch: Mapping, list_field: str, where: str) -> list:
    """A copy of ``items`` with entries named by ``patch``'s keys (position, stable name or label)
    merged with the tables given: how a child scenario changes one entry of a parent's list."""
    if not all(isinstance(v, Mapping) for v in patch.values()):
        raise OverrideError(where, f"expected a list, got a table; write [[{where}]] entries, or "
                                   f"[{where}.\"<entry name>\"] tables to change single entries")
    out = copy.deepcopy(items)
    for name, change in patch.items():
        idx = find_entry(out, str(name), list_field, where)
        if not isinstance(change, Mapping) or not isinstance(out[idx], Mapping):
            raise OverrideError(f"{where}.{name}", "expected a table of the entry's fields to change")
        out[idx] = {**out[idx], **copy.deepcopy(dict(change))}
    return out


def record_override(resolved: dict, full: dict, parts: list[str]) -> None:
    """Copy the overridden value at positional ``parts`` from the full tree into the file-level tree
    (a list on the way is copied whole)."""
    node: Any = resolved
    src: Any = full
    for i, part in enumerate(parts):
        step = int(part) if isinstance(src, list) else part
        if i == len(parts) - 1 or isinstance(src[step], list):
            node[part] = copy.deepcopy(src[step])
            return
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node, src = node[part], src[step]


# ------------------------------------------------------------------------------- on Parameters


def get_value(params: Parameters, key: str) -> Any:
    """The value at dotted ``key`` (list entries by position or stable name)."""
    node: Any = params
    so_far: list[str] = []
    for part in key.split("."):
        where = ".".join(so_far) or "top level"
        dotted = ".".join(so_far + [part])
        if isinstance(node, BaseModel):
            if part not in type(node).model_fields:
                raise OverrideError(dotted, _unknown(None, dotted, part, list(type(node).model_fields)).problem)
            node = getattr(node, part)
        elif isinstance(node, dict):
            if part not in node:
                raise OverrideError(dotted, _unknown(None, dotted, part, [str(k) for k in node]).problem)
            node = node[part]
        elif isinstance(node, list):
            items = [e.model_dump() if isinstance(e, BaseModel) else e for e in node]
            node = node[find_entry(items, part, so_far[-1] if so_far else "", where)]
        else:
            raise OverrideError(dotted, f"{where} is a value, not a table")
        so_far.append(part)
    return node


def apply_overrides(params: Parameters, overrides: dict[str, Any], *, via: str = "--set",
                    source: str | None = None) -> Parameters:
    """A new ``Parameters`` with each dotted key set to its value, validated strictly (as a scenario
    file is): the same key and value give the same one-line error from a file, --set or a sweep."""
    if not overrides:
        return params
    data = params.model_dump()
    positional = []
    for key, value in overrides.items():
        positional.append(set_in_tree(data, str(key), _plain(value)))
    try:
        return Parameters.model_validate(data, strict=True)
    except ValidationError as exc:
        err = validation_error(exc, source, positional, via=via)
        raise OverrideError(err.key, err.problem, source) from None
