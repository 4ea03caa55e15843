"""Finding and reading scenario files: shipped names, the ``scenarios/`` folders, header comments, and
TOML read defensively (bytes first: NUL bytes, non-UTF-8 text and TOML syntax are one-line errors).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path

from alliance_sim.scenario_errors import ScenarioError, _one_line

#: Sub-folders of ``scenarios/`` whose files are shipped scenarios too, named ``<folder>/<name>``
#: (``history/thaad_2016``, ``forecast_2028/opcon_agreed``).  ``sweeps/`` holds sweep designs, not scenarios.
SUBFOLDERS = ("history", "forecast_2028")


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
    """A path to a scenario file, or the name of a shipped one (``tariff_shock_2025``, ``history/thaad_2016``)."""
    p = Path(name_or_path)
    text = str(name_or_path)
    if p.is_file():
        return p
    if p.exists():
        raise ScenarioError(text, "", "is a directory, not a scenario file")
    if (len(p.parts) == 1 or (len(p.parts) == 2 and p.parts[0] in SUBFOLDERS)) and p.suffix in ("", ".toml"):
        for d in _scenario_dirs():
            cand = d / (text if p.suffix else f"{text}.toml")
            if cand.is_file():
                return cand
    names = [n for n, _ in list_scenarios()]
    hint = difflib.get_close_matches(p.stem, names, n=1) or difflib.get_close_matches(text, names, n=1)
    extra = f"; did you mean '{hint[0]}'?" if hint else (f"; shipped scenarios: {', '.join(names)}" if names
                                                         else "")
    raise ScenarioError(text, "", f"no such scenario file{extra}")


def header_of(text: str) -> str:
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
    header = header_of(text)
    return header.splitlines()[0].strip() if header else ""


def list_scenarios() -> list[tuple[str, str]]:
    """(name, one-line purpose) of the shipped scenarios, sorted by name, the historical ones as
    ``history/<name>`` (sweep designs excluded)."""
    seen: dict[str, str] = {}
    for d in _scenario_dirs():
        for f in sorted(d.glob("*.toml")):
            if f.stem not in seen:
                seen[f.stem] = _describe(f)
        for sub in SUBFOLDERS:
            for f in sorted((d / sub).glob("*.toml")):
                seen.setdefault(f"{sub}/{f.stem}", _describe(f))
    return sorted(seen.items())


def read_text(path: Path, shown: str, what: str = "scenario") -> str:
    """A file's text, decoded defensively: a missing file, a folder, NUL bytes or non-UTF-8 bytes are
    one-line errors (``what`` names the kind of file expected)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(shown, "", "no such file") from None
    except IsADirectoryError:
        raise ScenarioError(shown, "", f"is a directory, not a {what} file") from None
    except OSError as exc:
        raise ScenarioError(shown, "", f"cannot read file ({exc.strerror or exc})") from None
    if b"\x00" in raw:
        raise ScenarioError(shown, "", f"not a text file (contains NUL bytes); a {what} is a UTF-8 TOML file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(shown, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                                       f"a {what} is a UTF-8 TOML file") from None
    return text.removeprefix("\ufeff")


def read_toml(path: Path, shown: str, what: str = "scenario") -> tuple[dict, str]:
    """(the parsed TOML, its text) of a file; every problem is a one-line :class:`ScenarioError`."""
    text = read_text(path, shown, what)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(shown, "", _toml_error(exc, text)) from None
    return data, text


def read_spec_toml(path: str | Path, what: str, error: type[Exception], kind: str | None = None) -> dict:
    """The parsed TOML of a sweep, policy-search or calibration file; a missing or unreadable file is a
    one-line ``error`` ("<path>: no such <kind> file", or read_toml's message)."""
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: no such {kind or what} file")
    try:
        data, _ = read_toml(path, str(path), what=what)
    except ScenarioError as exc:
        raise error(str(exc)) from None
    return data


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


