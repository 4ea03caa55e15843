"""Error translation for scenarios and overrides: a pydantic error becomes one line
``<path>: <dotted.key>: <what was expected>, got <what was found>``.

Every source of a parameter value — a scenario file, ``--set``, a sweep's ``[set]`` or factor — goes
through :func:`validation_error`, so the same bad value gets the same message wherever it comes from.
Values are shown short (``_show``), never as a dump of the parameter tree.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from alliance_sim.model.parameters import Parameters, field_bounds

#: Top-level keys a scenario file may have besides the fields of ``Parameters``.
META_KEYS = ("extends", "scenario", "initial_conditions", "add")
#: Longest message part kept (a message is one line of reasonable length).
MAX_PROBLEM = 300


class ScenarioError(Exception):
    """A scenario that cannot be loaded.  ``str()`` is one line: ``<path>: <key>: <problem>``.

    Attributes: ``path`` (as given, or None), ``key`` (dotted, or ""), ``problem`` (the rest)."""

    def __init__(self, path: str | Path | None, key: str, problem: str):
        self.path = None if path is None else str(path)
        self.key = key
        self.problem = _one_line(problem)
        if len(self.problem) > MAX_PROBLEM:
            self.problem = self.problem[:MAX_PROBLEM - 3] + "..."
        self.cycle = False
        parts = [p for p in (self.path, key, self.problem) if p]
        super().__init__(_one_line(": ".join(parts)))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())




# ------------------------------------------------------------------------------ the type tree


def _unwrap(tp: Any) -> Any:
    """Strip ``X | None`` to ``X``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _child_type(tp: Any, part: str) -> tuple[Any, Any] | None:
    """(type of the child ``part`` of a node of type ``tp``, its FieldInfo or None); None if unknown."""
    tp = _unwrap(tp)
    if _is_model(tp):
        info = tp.model_fields.get(part)
        return (info.annotation, info) if info is not None else None
    origin = typing.get_origin(tp)
    if origin is dict:
        return typing.get_args(tp)[1], None
    if origin is list:
        return typing.get_args(tp)[0], None
    return None


def _field_options(tp: Any) -> list[str]:
    tp = _unwrap(tp)
    return list(tp.model_fields) if _is_model(tp) else []


def _unknown(shown: str | None, key: str, part: str, options: list[str]) -> ScenarioError:
    hint = difflib.get_close_matches(part, options, n=1)
    sug = f"; did you mean '{hint[0]}'?" if hint else (f"; expected one of {', '.join(options)}" if options else "")
    return ScenarioError(shown, key, f"unknown key{sug}")


# ----------------------------------------------------------------------------- error translation


def _show(v: Any) -> str:
    if isinstance(v, str):
        return repr(v) if len(v) <= 60 else repr(v[:57] + "...")
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:g}"
    if isinstance(v, int):
        return f"{v:_}" if abs(v) >= 10**6 else str(v)
    if isinstance(v, dict):
        return "a table" if v else "an empty table"
    if isinstance(v, list):
        return "a list" if v else "an empty list"
    if isinstance(v, (_dt.date, _dt.datetime, _dt.time)):
        return f"the TOML date {v.isoformat()}"
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _walk(loc: tuple) -> tuple[Any, Any] | None:
    """(type, FieldInfo) at a pydantic error location; None where the location leaves the tree."""
    tp: Any = Parameters
    info = None
    for part in loc:
        child = _child_type(tp, str(part))
        if child is None:
            return None
        tp, info = child
    return tp, info


_bounds = field_bounds


_LIST_INDEX = re.compile(r"\[(\d+)\]")
_RANGE_WORDS = {"greater_than_equal": "at least", "less_than_equal": "at most",
                "greater_than": "greater than", "less_than": "less than"}


def _translate(err: dict) -> tuple[str, str]:
    """(dotted key, problem) of one pydantic error."""
    loc = tuple(p for p in err.get("loc", ()) if p != "[key]")
    typ = err.get("type", "")
    inp = err.get("input")
    msg = err.get("msg", "")
    key = ".".join(str(p) for p in loc)
    got = _show(inp)
    if typ == "extra_forbidden":
        parent = _walk(loc[:-1])
        options = _field_options(parent[0]) if parent else []
        if not loc[:-1]:
            options = options + list(META_KEYS)
        return key, str(_unknown(None, "", str(loc[-1]), options))
    if typ in _RANGE_WORDS:
        found = _walk(loc)
        lo, hi, lo_s, hi_s = _bounds(found[1] if found else None)
        if lo is not None and hi is not None:
            text = f"between {_show(lo)} and {_show(hi)}"
            if lo_s:
                text = f"greater than {_show(lo)} and at most {_show(hi)}"
            if hi_s:
                text = f"at least {_show(lo)} and less than {_show(hi)}"
            return key, f"must be {text}, got {got}"
        bound = next(iter(err.get("ctx", {}).values()), "?")
        return key, f"must be {_RANGE_WORDS[typ]} {_show(bound)}, got {got}"
    if typ in ("float_type", "float_parsing", "finite_number"):
        if isinstance(inp, bool):
            return key, f"expected a number, got {got} (true/false is not a number)"
        return key, f"expected a number, got {got}"
    if typ in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return key, f"expected a whole number, got {repr(inp) if isinstance(inp, float) else got}"
    if typ in ("string_type", "string_unicode"):
        if isinstance(inp, (_dt.date, _dt.datetime)):
            return key, f"expected a string, got {got}; write calendar months as quoted \"YYYY-MM\""
        return key, f"expected a string, got {got}"
    if typ in ("bool_type", "bool_parsing"):
        return key, f"expected true or false, got {got}"
    if typ == "literal_error":
        return key, f"expected one of {err.get('ctx', {}).get('expected', '')}, got {got}"
    if typ in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return key, f"expected a table, got {got}"
    if typ in ("list_type", "tuple_type", "sequence_type", "iterable_type"):
        return key, f"expected a list, got {got}"
    if typ == "missing":
        return key, "required key is missing"
    if typ in ("value_error", "assertion_error"):
        text = _LIST_INDEX.sub(r".\1", re.sub(r"^(Value|Assertion) error, ", "", msg))
        # model validators often name the key themselves ("tariffs.0.target: ...", "sector_shares.x must")
        m = re.match(r"^([A-Za-z_][\w.\-]*): (.*)$", text)
        if m:
            sub = m.group(1)
            return (sub if not key or sub.startswith(key + ".") or sub == key else f"{key}.{sub}"), m.group(2)
        return key, text
    return key, f"{msg[:1].lower() + msg[1:] if msg else 'invalid value'}, got {got}"


def validation_error(exc: ValidationError, shown: str | None, override_keys: Iterable[str] = (),
                     via: str = "--set") -> ScenarioError:
    """The first error of ``exc`` as one line; ``(set by <via>)`` when it is about an overridden key
    (``override_keys`` in positional form, e.g. ``tariffs.1.rate``)."""
    errs = exc.errors(include_url=False)
    key, problem = _translate(errs[0])
    if via and any(key == k or key.startswith(k + ".") or k.startswith(key + ".") for k in override_keys if key):
        problem += f" (set by {via})"
    if len(errs) > 1:
        problem += f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})"
    return ScenarioError(shown, key, problem)


