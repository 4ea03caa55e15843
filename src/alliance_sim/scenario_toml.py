"""Writing parameters as TOML (``alliance check``, ``Scenario.to_toml``): a document that loads back to
the same parameters.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from alliance_sim.model.parameters import Parameters

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: Any) -> str:
    k = str(k)
    return k if _BARE_KEY.match(k) else json.dumps(k)


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (_dt.date, _dt.datetime, _dt.time)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_scalar(x)}" for k, x in v.items() if x is not None) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_table_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, Mapping) for x in v)


def _emit(table: Mapping, prefix: list[str], out: list[str]) -> None:
    scalars = [(k, v) for k, v in table.items()
               if v is not None and not isinstance(v, Mapping) and not _is_table_list(v)]
    subtables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    arrays = [(k, v) for k, v in table.items() if _is_table_list(v)]
    if prefix and (scalars or not (subtables or arrays)):
        out.append("")
        out.append(f"[{'.'.join(_key(p) for p in prefix)}]")
    for k, v in scalars:
        out.append(f"{_key(k)} = {_scalar(v)}")
    for k, v in subtables:
        _emit(v, prefix + [str(k)], out)
    for k, items in arrays:
        name = ".".join(_key(p) for p in prefix + [str(k)])
        for item in items:
            out.append("")
            out.append(f"[[{name}]]")
            for ik, iv in item.items():
                if iv is not None:
                    out.append(f"{_key(ik)} = {_scalar(iv)}")


def scenario_to_toml(params: Parameters | Mapping, header: str = "") -> str:
    """The parameters as a TOML document that loads back to the same parameters.

    ``None`` values (TOML has no null) are left out, which restores the default ``None``."""
    data = params.model_dump(mode="python") if isinstance(params, BaseModel) else dict(params)
    out: list[str] = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    _emit(data, [], out)
    return "\n".join(out).lstrip("\n") + "\n"
