"""Scenario files: TOML on disk → validated ``Parameters``, with one-line errors.

A scenario file states only what differs from the model's defaults (or from the scenario it
``extends``).  Loading goes:

1. read the file as UTF-8 TOML with ``tomllib`` (a scenario can never execute code);
2. if it has ``extends = "other.toml"`` (relative to the file's folder), load that first, recursively,
   and deep-merge: tables merge key by key, lists and scalars in the child replace the parent's;
3. merge the result onto the defaults of ``Parameters`` the same way (so ``[actors.KOR]`` changes
   Korea and keeps the other actors);
4. apply overrides (``--set key=value``) to that raw tree;
5. validate with pydantic, strictly (a string is not a number), and translate the first error into
   one line: ``<path>: <dotted.key>: <what was expected>, got <what was found>``.

Besides the fields of ``Parameters`` a file may have ``extends`` and a ``[scenario]`` table with
``name`` and ``description``.  The header comment (the ``#`` lines at the top of the file) is the
scenario's documentation; its first line is the one-line purpose shown by ``alliance list``.

The model package never imports this module: it is the I/O layer around it.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import difflib
import hashlib
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from alliance_sim.model.parameters import Parameters, field_bounds

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
]

#: Top-level keys a scenario file may have besides the fields of ``Parameters``.
META_KEYS = ("extends", "scenario")
SCENARIO_TABLE_KEYS = ("name", "description")
MAX_EXTENDS_DEPTH = 32


class ScenarioError(Exception):
    """A scenario that cannot be loaded.  ``str()`` is one line: ``<path>: <key>: <problem>``.

    Attributes: ``path`` (as given, or None), ``key`` (dotted, or ""), ``problem`` (the rest)."""

    def __init__(self, path: str | Path | None, key: str, problem: str):
        self.path = None if path is None else str(path)
        self.key = key
        self.problem = _one_line(problem)
        self.cycle = False
        parts = [p for p in (self.path, key, self.problem) if p]
        super().__init__(_one_line(": ".join(parts)))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# ------------------------------------------------------------------------------------ dataclass


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


# ------------------------------------------------------------------------------- locating files


def _scenario_dirs() -> list[Path]:
    out: list[Path] = []
    for d in (Path(__file__).resolve().parents[2] / "scenarios", Path.cwd() / "scenarios"):
        if d.is_dir() and d.resolve() not in [o.resolve() for o in out]:
            out.append(d)
    return out


def shipped_scenarios_dir() -> Path:
    """The ``scenarios/`` folder of the repository (or ``./scenarios`` when not found there)."""
    dirs = _scenario_dirs()
    return dirs[0] if dirs else Path.cwd() / "scenarios"


def resolve_scenario_path(name_or_path: str | Path) -> Path:
    """A path to a scenario file, or the bare name of a shipped one (``tariff_shock_2025``)."""
    p = Path(name_or_path)
    text = str(name_or_path)
    if p.is_file():
        return p
    if p.exists():
        raise ScenarioError(text, "", "is a directory, not a scenario file")
    if len(p.parts) == 1 and p.suffix in ("", ".toml"):
        for d in _scenario_dirs():
            cand = d / (text if p.suffix else f"{text}.toml")
            if cand.is_file():
                return cand
    names = [n for n, _ in list_scenarios()]
    hint = difflib.get_close_matches(p.stem, names, n=1)
    extra = f"; did you mean '{hint[0]}'?" if hint else (f"; shipped scenarios: {', '.join(names)}" if names
                                                         else "")
    raise ScenarioError(text, "", f"no such scenario file{extra}")


def _header_of(text: str) -> str:
    lines: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#"):
            lines.append(s[1:].removeprefix(" ").rstrip())
        elif s == "" and not lines:
            continue
        else:
            break
    return "\n".join(lines).strip("\n")


def _describe(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    try:
        meta = tomllib.loads(text).get("scenario")
        desc = meta.get("description") if isinstance(meta, dict) else None
        if isinstance(desc, str) and desc.strip():
            return _one_line(desc)
    except tomllib.TOMLDecodeError:
        pass
    header = _header_of(text)
    return header.splitlines()[0].strip() if header else ""


def list_scenarios() -> list[tuple[str, str]]:
    """(name, one-line purpose) of the shipped scenarios, sorted by name (sweep designs excluded)."""
    seen: dict[str, str] = {}
    for d in _scenario_dirs():
        for f in sorted(d.glob("*.toml")):
            if f.stem not in seen:
                seen[f.stem] = _describe(f)
    return sorted(seen.items())


# ---------------------------------------------------------------------------------- reading TOML


def _read_toml(path: Path, shown: str) -> tuple[dict, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(shown, "", "no such file") from None
    except IsADirectoryError:
        raise ScenarioError(shown, "", "is a directory, not a scenario file") from None
    except OSError as exc:
        raise ScenarioError(shown, "", f"cannot read file ({exc.strerror or exc})") from None
    if b"\x00" in raw:
        raise ScenarioError(shown, "", "not a text file (contains NUL bytes); a scenario is a UTF-8 TOML file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(shown, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                                       "a scenario is a UTF-8 TOML file") from None
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(shown, "", _toml_error(exc, text)) from None
    if not data:
        raise ScenarioError(shown, "", "empty scenario (no settings); state at least one value, or "
                                       "`extends = \"baseline_2025.toml\"` to start from a shipped scenario")
    return data, text


def _toml_error(exc: tomllib.TOMLDecodeError, text: str) -> str:
    msg = str(exc)
    lineno = getattr(exc, "lineno", None)
    if lineno is None:
        m = re.search(r"line (\d+)", msg)
        lineno = int(m.group(1)) if m else None
    reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)\s*$", "", getattr(exc, "msg", msg))
    if lineno is None:
        return f"invalid TOML: {reason}"
    lines = text.splitlines()
    src = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    where = f"line {lineno}" + (f" `{src[:80]}`" if src else "")
    hint = ""
    if re.search(r"=\s*\d{4}-\d{1,2}\s*(#.*)?$", src):
        hint = "; write calendar months as quoted strings, e.g. \"2025-08\""
    elif re.search(r"=\s*[A-Za-z][\w-]*\s*(#.*)?$", src) and not re.search(r"=\s*(true|false|inf|nan)\b", src):
        hint = "; strings must be quoted"
    return f"invalid TOML at {where}: {reason}{hint}"


# ------------------------------------------------------------------------------------- merging


def deep_merge(base: Mapping, child: Mapping) -> dict:
    """``child`` on top of ``base``: tables merge recursively; lists and scalars in the child replace."""
    out = copy.deepcopy(dict(base))
    for k, v in child.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _load_chain(path: Path, shown: str, stack: list[Path]) -> tuple[dict, str, list[Path]]:
    """Raw dict of ``path`` with its ``extends`` ancestors merged in; the file's text; the chain."""
    real = path.resolve()
    if len(stack) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(shown, "extends", f"chain deeper than {MAX_EXTENDS_DEPTH} files")
    data, text = _read_toml(path, shown)
    parent_ref = data.pop("extends", None)
    chain = [path]
    if parent_ref is None:
        return data, text, chain
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise ScenarioError(shown, "extends", f"expected a file name such as \"baseline_2025.toml\", "
                                              f"got {_show(parent_ref)}")
    parent = path.parent / parent_ref
    if not parent.exists() and parent.suffix == "":
        parent = parent.with_suffix(".toml")
    if not parent.is_file():
        raise ScenarioError(shown, "extends", f"file not found: {parent_ref!r} (looked in {path.parent}/)")
    seen = stack + [real]
    if parent.resolve() in seen:
        loop = seen[seen.index(parent.resolve()):] + [parent.resolve()]
        err = ScenarioError(shown, "extends", f"cycle {' -> '.join(p.name for p in loop)}")
        err.cycle = True
        raise err
    try:
        pdata, _, pchain = _load_chain(parent, str(parent), seen)
    except ScenarioError as exc:
        if exc.cycle:
            if not stack:  # report a cycle once, from the file that was asked for
                raise ScenarioError(shown, exc.key, exc.problem) from None
            raise
        # an error inside the parent: say which extended file it is in
        raise ScenarioError(shown, "", f"in extended file {exc}") from None
    return deep_merge(pdata, data), text, chain + pchain


# ------------------------------------------------------------------------------------ overrides


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
            raise ScenarioError(None, "--set", f"expected key=value, got {item!r}")
        key, _, value = item.partition("=")
        key = key.strip()
        if not key:
            raise ScenarioError(None, "--set", f"expected key=value, got {item!r}")
        out[key] = parse_value(value)
    return out


def _plain(v: Any) -> Any:
    """numpy scalars and tuples as plain Python values."""
    if hasattr(v, "item") and getattr(v, "shape", None) == ():
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


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


def _apply_override(raw: dict, key: str, value: Any, shown: str | None) -> None:
    """Set dotted ``key`` in the raw tree (unknown keys → ScenarioError with a suggestion)."""
    parts = key.split(".")
    label = f"--set {key}"
    if any(p == "" for p in parts):
        raise ScenarioError(shown, label, "malformed key (empty part)")
    if parts[0] in META_KEYS:
        raise ScenarioError(shown, label, "cannot be overridden; only parameters can")
    node: Any = raw
    tp: Any = Parameters
    so_far: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(so_far) or "top level"
        child = _child_type(tp, part)
        if isinstance(node, list):
            if not part.isdigit():
                raise ScenarioError(shown, label, f"{where} is a list; expected an index, got {part!r}")
            idx = int(part)
            if idx >= len(node):
                raise ScenarioError(shown, label, f"{where} has {len(node)} entries; index {idx} is out of range")
            if last:
                node[idx] = value
                return
            node, tp = node[idx], (child[0] if child else Any)
            so_far.append(part)
            continue
        if not isinstance(node, dict):
            raise ScenarioError(shown, label, f"{where} is a value, not a table")
        dotted = ".".join(so_far + [part])
        if _is_model(_unwrap(tp)) and child is None:
            raise _unknown(shown, f"--set {dotted}", part, _field_options(tp))
        value_tp = _unwrap(child[0]) if child else None
        if part not in node or node[part] is None:
            if not _is_model(_unwrap(tp)) and _is_model(value_tp) and not last:
                # e.g. actors.KRO.export_share_us: a new actor or threat is written as a whole table
                raise _unknown(shown, f"--set {dotted}", part, [str(k) for k in node])
            if not last:
                node[part] = [] if typing.get_origin(value_tp) is list else {}
        if last:
            node[part] = value
            return
        node, tp = node[part], (child[0] if child else Any)
        so_far.append(part)


def _record_override(resolved: dict, full: dict, parts: list[str]) -> None:
    """Copy the overridden value at ``parts`` from the full tree into the file-level tree (a list on
    the way is copied whole, since list entries have no identity beyond their position)."""
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
        return key, f"expected a number, got {got}"
    if typ in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return key, f"expected a whole number, got {got}"
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


def _validation_error(exc: ValidationError, shown: str | None, override_keys: Iterable[str]) -> ScenarioError:
    errs = exc.errors(include_url=False)
    key, problem = _translate(errs[0])
    if any(key == k or key.startswith(k + ".") or k.startswith(key + ".") for k in override_keys if key):
        problem += " (set by --set)"
    if len(errs) > 1:
        problem += f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})"
    return ScenarioError(shown, key, problem)


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
        raise _validation_error(exc, shown, override_keys) from None


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
    merged, text, chain = _load_chain(file, shown, [])
    meta = _check_meta(merged, shown)
    written = {k: v for k, v in merged.items() if k != "scenario"}
    full = deep_merge(default_tree(), written)
    for key, value in over.items():
        _apply_override(full, key, value, shown)
    resolved = copy.deepcopy(written)
    for key in over:
        _record_override(resolved, full, key.split("."))
    try:
        params = Parameters.model_validate(full, strict=True)
    except ValidationError as exc:
        err = _validation_error(exc, shown, over)
        origin = _defined_in(err.key, chain) if err.key and "(set by --set)" not in err.problem else None
        if origin is not None:
            err = ScenarioError(shown, err.key, f"{err.problem} (from extended file {origin})")
        raise err from None
    header = _header_of(text)
    description = meta.get("description") or (header.splitlines()[0].strip() if header else "")
    return Scenario(name=meta.get("name") or file.stem, path=file, params=params,
                    description=_one_line(description), header=header, resolved=resolved,
                    hash=params_hash(params), extends_chain=chain, overrides=over)


# ---------------------------------------------------------------------------------- TOML writer

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
