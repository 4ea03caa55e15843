"""Dotted-key access to the parameter tree: ``mechanisms.tariff_weight``, ``actors.KOR.export_share_us``,
``threats.nk_provocations.rate_per_month``, ``tariffs.2.rate`` (list items by position).

Used by ``--set`` on the command line, by sweep factors and by the EMA Workbench adapter, so a
parameter is addressed the same way everywhere.  Every override is validated by pydantic.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from alliance_sim.model.parameters import Parameters


class OverrideError(ValueError):
    """A dotted key that does not exist or a value the parameter does not accept (one-line message)."""


def _children(node: Any) -> list[str]:
    if isinstance(node, BaseModel):
        return list(type(node).model_fields)
    if isinstance(node, dict):
        return [str(k) for k in node]
    if isinstance(node, list):
        return [str(i) for i in range(len(node))]
    return []


def _step(node: Any, part: str, so_far: str) -> Any:
    options = _children(node)
    if part not in options:
        hint = difflib.get_close_matches(part, options, n=1)
        where = so_far or "top level"
        suggestion = f"; did you mean '{hint[0]}'?" if hint else (f"; expected one of {options}" if options
                                                                   else "")
        raise OverrideError(f"{(so_far + '.' if so_far else '') + part}: unknown key at {where}{suggestion}")
    if isinstance(node, BaseModel):
        return getattr(node, part)
    if isinstance(node, dict):
        return node[part]
    return node[int(part)]


def get_value(params: Parameters, key: str) -> Any:
    """The value at dotted ``key``."""
    node: Any = params
    so_far = ""
    for part in key.split("."):
        node = _step(node, part, so_far)
        so_far = f"{so_far}.{part}" if so_far else part
    return node


def _set_in(data: Any, parts: list[str], value: Any) -> None:
    head = parts[0]
    if len(parts) == 1:
        if isinstance(data, list):
            data[int(head)] = value
        else:
            data[head] = value
        return
    child = data[int(head)] if isinstance(data, list) else data[head]
    _set_in(child, parts[1:], value)


def apply_overrides(params: Parameters, overrides: dict[str, Any]) -> Parameters:
    """A new, validated ``Parameters`` with each dotted key set to its value."""
    if not overrides:
        return params
    data = params.model_dump()
    for key, value in overrides.items():
        get_value(params, key)  # raises OverrideError with a suggestion if the key is unknown
        _set_in(data, key.split("."), value)
    try:
        return Parameters.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise OverrideError(f"{loc}: {err['msg']}, got {err.get('input')!r}") from None
