"""Observed data shipped with the package: polls, export shares, defence spending, dated decisions.

Why this exists: calibration and validation compare model outputs with what actually happened, and
an installed tool must be able to do that offline.  The CSV files live in
``alliance_sim/data/observed/`` (package data; ``data/observed`` at the repository root points at the
same folder) and are described in that folder's ``README.md``.

Every file is validated on load, strictly, and the first problem is raised as an
:class:`ObservedDataError` whose text is one line: ``<file>: line <n>: column '<c>': expected
<what>, got '<value>'``.  Checks: the header is exactly the documented columns; required cells are
present; numbers, years, dates, booleans and codes parse; values are in range (percentages in
[0, 100], 0-10 scores in [0, 10], shares in [0, 1]); every row names its source; keys are unique;
and within each series the time column increases down the file.

This module is pure I/O (no model imports): it returns tidy ``pandas.DataFrame`` objects, one row per
observation, with typed columns.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import io
import re
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "ObservedDataError",
    "FILES",
    "observed_dir",
    "load_opinion",
    "load_trade_shares",
    "load_defence_spending",
    "load_decisions",
    "load_alignment_record",
    "load_all",
    "opinion_series",
]

ACTORS = ("USA", "JPN", "KOR", "CHN", "PRK")
SOURCE_COLUMNS = ("source_publication", "source_title", "source_date", "source_url")


class ObservedDataError(ValueError):
    """A shipped or user-supplied observed-data file that does not validate; ``str()`` is one line."""

    def __init__(self, path: str | Path, line: int | None, column: str | None, problem: str):
        self.path = str(path)
        self.line = line
        self.column = column
        self.problem = " ".join(str(problem).split())
        parts = [self.path]
        if line is not None:
            parts.append(f"line {line}")
        if column:
            parts.append(f"column '{column}'")
        parts.append(self.problem)
        super().__init__(": ".join(parts))


# --- cell parsers: each returns the typed value or raises ValueError("expected ...") --------------

def _text(value: str) -> str:
    return value


def _int_year(value: str) -> int:
    if not re.fullmatch(r"\d{4}", value):
        raise ValueError("expected a four-digit year")
    year = int(value)
    if not 1945 <= year <= 2100:
        raise ValueError("expected a year in [1945, 2100]")
    return year


def _number(lo: float, hi: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            raise ValueError(f"expected a number in [{lo:g}, {hi:g}]") from None
        if not (lo <= x <= hi):  # also rejects nan
            raise ValueError(f"expected a number in [{lo:g}, {hi:g}]")
        return x
    return parse


def _count(value: str) -> int:
    if not re.fullmatch(r"\d+", value):
        raise ValueError("expected a non-negative whole number")
    return int(value)


def _bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise ValueError("expected 'true' or 'false'")
    return value == "true"


def _choice(options: Sequence[str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return value
    return parse


def _actors(value: str) -> str:
    """One actor code or several joined by ';' (``KOR;USA``)."""
    parts = value.split(";")
    if any(p not in ACTORS for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(f"expected actor codes from {', '.join(ACTORS)} separated by ';'")
    return value


def _partial_date(value: str) -> str:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (a real calendar date)."""
    fmt = {4: "%Y", 7: "%Y-%m", 10: "%Y-%m-%d"}.get(len(value))
    if fmt is None or not re.fullmatch(r"\d{4}(-\d{2}){0,2}", value):
        raise ValueError("expected a date YYYY, YYYY-MM or YYYY-MM-DD")
    try:
        _dt.datetime.strptime(value, fmt)
    except ValueError:
        raise ValueError("expected a real calendar date YYYY, YYYY-MM or YYYY-MM-DD") from None
    return value


def _fielded(value: str) -> str:
    """When a survey was in the field: ``YYYY``, ``YYYY-MM`` or a month range ``YYYY-MM/MM``."""
    expected = "expected YYYY, YYYY-MM or a month range YYYY-MM/MM"
    m = re.fullmatch(r"(\d{4})-(\d{2})/(\d{2})", value)
    try:
        if m:
            start, end = _partial_date(f"{m[1]}-{m[2]}"), _partial_date(f"{m[1]}-{m[3]}")
            if end < start:
                raise ValueError(expected)
            return value
        if len(value) not in (4, 7):
            raise ValueError(expected)
        return _partial_date(value)
    except ValueError:
        raise ValueError(expected) from None


def _url(value: str) -> str:
    if not re.fullmatch(r"https?://\S+", value):
        raise ValueError("expected an http(s) URL without spaces")
    return value


def _period(value: str) -> str:
    """``YYYY`` (a calendar year) or ``YYYY-MM`` (a month)."""
    if len(value) not in (4, 7):
        raise ValueError("expected a period YYYY or YYYY-MM")
    try:
        return _partial_date(value)
    except ValueError:
        raise ValueError("expected a period YYYY or YYYY-MM") from None


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[str], Any]
    required: bool = True
    empty: Any = ""           # the value of an empty optional cell ("" for text, None for numbers)


@dataclasses.dataclass(frozen=True)
class FileSpec:
    """The schema of one CSV file: its columns, its key and the column that must increase."""

    filename: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    order: str                # increases down the file within each series
    series: tuple[str, ...]   # columns that identify a series (empty: the whole file is one series)
    strict_order: bool = True
    check: Callable[[dict[str, Any]], tuple[str, str] | None] | None = None   # cross-column rule

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _source_columns() -> tuple[Column, ...]:
    return (
        Column("uncertain", _bool),
        Column("note", _text, required=False),
        Column("source_publication", _text),
        Column("source_title", _text, required=False),
        Column("source_date", _partial_date, required=False),
        Column("source_url", _url, required=False),
    )


#: Units of ``opinion.csv`` and the range each allows.
OPINION_UNITS = {"percent": (0.0, 100.0), "score_0_10": (0.0, 10.0), "degrees_0_100": (0.0, 100.0)}
OPINION_MEASURES = ("favourable", "unfavourable", "affinity", "bad_impression", "good_impression",
                    "negative_image", "trust", "favourability_score", "thermometer")
POLLSTERS = ("pew", "genron_npo", "cabinet_office_japan", "eai", "asan", "hankook_research")
DECISION_CATEGORIES = ("align_us", "concede", "retaliate", "coerce", "induce", "accommodate_china",
                       "hedge", "reconcile", "de_escalate", "protest")
DEFENCE_MEASURES = ("sipri_milex_gdp", "official_defence_related_gdp")
#: ``alignment_record.csv``: the share of a period's months a country stood on Beijing's side (coded 0/1 by month).
#: ``tie_negative``: the share of the period's months the relation of ``country`` and ``partner`` was hostile.
RECORD_MEASURES = ("beijing_side", "tie_negative")

def _opinion_rule(row: dict[str, Any]) -> tuple[str, str] | None:
    lo, hi = OPINION_UNITS[row["unit"]]
    if not lo <= row["value"] <= hi:
        return "value", f"expected a number in [{lo:g}, {hi:g}] for unit {row['unit']}, got '{row['value']:g}'"
    if row["respondents"] == row["target"]:
        return "target", f"expected a country other than the respondents', got '{row['target']}'"
    return None


def _trade_rule(row: dict[str, Any]) -> tuple[str, str] | None:
    want = "YYYY" if row["period_type"] == "year" else "YYYY-MM"
    if len(row["period"]) != len(want):
        return "period", f"expected {want} for period_type {row['period_type']}, got '{row['period']}'"
    if row["reporter"] == row["partner"]:
        return "partner", f"expected a partner other than the reporter, got '{row['partner']}'"
    return None


def _decision_rule(row: dict[str, Any]) -> tuple[str, str] | None:
    if not re.fullmatch(r"[a-z0-9_]+", row["id"]):
        return "id", f"expected a lower-case slug [a-z0-9_], got '{row['id']}'"
    want = "YYYY-MM-DD" if row["date_precision"] == "day" else "YYYY-MM"
    if len(row["date"]) != len(want):
        return "date", f"expected {want} for date_precision {row['date_precision']}, got '{row['date']}'"
    if (row["votes_for"] is None) != (row["votes_against"] is None):
        return "votes_against", "expected votes_for and votes_against both given or both empty"
    return None


def _record_rule(row: dict[str, Any]) -> tuple[str, str] | None:
    if row["measure"] == "tie_negative" and not row["partner"]:
        return "partner", "expected the other country of the relation for measure tie_negative, got an empty cell"
    if row["measure"] == "beijing_side" and row["partner"]:
        return "partner", f"expected an empty cell for measure beijing_side, got '{row['partner']}'"
    if row["partner"] == row["country"]:
        return "partner", f"expected a country other than '{row['country']}', got '{row['partner']}'"
    return None


FILES: dict[str, FileSpec] = {
    "opinion": FileSpec(
        "opinion.csv",
        (
            Column("pollster", _choice(POLLSTERS)),
            Column("respondents", _choice(ACTORS)),
            Column("target", _choice(ACTORS)),
            Column("measure", _choice(OPINION_MEASURES)),
            Column("year", _int_year),
            Column("fielded", _fielded, required=False),
            Column("value", _number(0.0, 100.0)),
            Column("unit", _choice(tuple(OPINION_UNITS))),
            *_source_columns(),
        ),
        key=("pollster", "respondents", "target", "measure", "year"),
        order="year",
        series=("pollster", "respondents", "target", "measure"),
        check=_opinion_rule,
    ),
    "trade_shares": FileSpec(
        "trade_shares.csv",
        (
            Column("reporter", _choice(ACTORS)),
            Column("partner", _choice(ACTORS)),
            Column("period", _period),
            Column("period_type", _choice(("year", "month", "partial_month"))),
            Column("share", _number(0.0, 1.0)),
            Column("basis", _text),
            *_source_columns(),
        ),
        key=("reporter", "partner", "period_type", "period"),
        order="period",
        series=("reporter", "partner", "period_type"),
        check=_trade_rule,
    ),
    "defence_spending": FileSpec(
        "defence_spending.csv",
        (
            Column("country", _choice(ACTORS)),
            Column("year", _int_year),
            Column("measure", _choice(DEFENCE_MEASURES)),
            Column("value", _number(0.0, 100.0)),
            *_source_columns(),
        ),
        key=("country", "measure", "year"),
        order="year",
        series=("country", "measure"),
    ),
    "decisions": FileSpec(
        "decisions.csv",
        (
            Column("id", _text),
            Column("date", _partial_date),
            Column("date_precision", _choice(("day", "month"))),
            Column("actor", _actors),
            Column("target", _actors, required=False),
            Column("category", _choice(DECISION_CATEGORIES)),
            Column("description", _text),
            Column("votes_for", _count, required=False, empty=None),
            Column("votes_against", _count, required=False, empty=None),
            *_source_columns(),
        ),
        key=("id",),
        order="date",
        series=(),
        strict_order=False,   # several decisions may fall on one day
        check=_decision_rule,
    ),
    "alignment_record": FileSpec(
        "alignment_record.csv",
        (
            Column("country", _choice(ACTORS)),
            Column("partner", _choice(ACTORS), required=False),
            Column("period", _fielded),   # YYYY, YYYY-MM or months of one year YYYY-MM/MM
            Column("measure", _choice(RECORD_MEASURES)),
            Column("value", _number(0.0, 1.0)),
            Column("evidence", _text),
            *_source_columns(),
        ),
        key=("country", "partner", "measure", "period"),
        order="period",
        series=("country", "partner", "measure"),
        check=_record_rule,
    ),
}


def observed_dir() -> Path:
    """The folder of shipped observed-data files inside the installed package."""
    return Path(str(resources.files("alliance_sim").joinpath("data", "observed")))


def _read_rows(path: Path, spec: FileSpec) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ObservedDataError(path, None, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ObservedDataError(path, None, None, f"cannot read as UTF-8 text ({exc})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, list[str]]] = []
    start = 1                 # the line a record starts on (a quoted cell may span lines)
    try:
        for record in reader:
            records.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ObservedDataError(path, reader.line_num, None, f"expected valid CSV, got {exc}") from None
    if not records:
        raise ObservedDataError(path, 1, None, f"expected a header row {','.join(spec.names)}, got an empty file")
    header = [h.strip() for h in records[0][1]]
    missing = [c for c in spec.names if c not in header]
    if missing:
        raise ObservedDataError(path, 1, missing[0], f"expected the column in the header "
                                f"({','.join(spec.names)}), got it missing")
    unknown = [h for h in header if h not in spec.names]
    if unknown:
        raise ObservedDataError(path, 1, unknown[0], f"expected only the columns {','.join(spec.names)}, "
                                "got an unknown column")
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise ObservedDataError(path, 1, dup, "expected each column once, got it twice")
    rows = []
    for line, record in records[1:]:
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise ObservedDataError(path, line, None,
                                    f"expected {len(header)} fields, got {len(record)}")
        rows.append((line, {h: cell.strip() for h, cell in zip(header, record, strict=True)}))
    if not rows:
        raise ObservedDataError(path, 2, None, "expected at least one data row, got none")
    return rows


def _load(name: str, directory: str | Path | None) -> pd.DataFrame:
    spec = FILES[name]
    path = Path(directory) / spec.filename if directory is not None else observed_dir() / spec.filename
    label = str(path)
    rows = _read_rows(path, spec)
    parsed: list[dict[str, Any]] = []
    seen: dict[tuple, int] = {}
    last: dict[tuple, tuple[Any, int]] = {}
    for line, raw in rows:
        out: dict[str, Any] = {}
        for col in spec.columns:
            cell = raw[col.name]
            if cell == "":
                if col.required:
                    raise ObservedDataError(label, line, col.name, "expected a value, got an empty cell")
                out[col.name] = col.empty
                continue
            try:
                out[col.name] = col.parse(cell)
            except ValueError as exc:
                raise ObservedDataError(label, line, col.name, f"{exc}, got '{cell}'") from None
        if spec.check is not None and (broken := spec.check(out)) is not None:
            raise ObservedDataError(label, line, *broken)
        key = tuple(out[k] for k in spec.key)
        if key in seen:
            shown = ", ".join(f"{k}={v}" for k, v in zip(spec.key, key, strict=True))
            raise ObservedDataError(label, line, spec.key[-1],
                                    f"expected a unique key, got ({shown}) again (first on line {seen[key]})")
        seen[key] = line
        series = tuple(out[k] for k in spec.series)
        t = _sort_key(out[spec.order])
        if series in last:
            prev, prev_line = last[series]
            if t < prev or (spec.strict_order and t == prev):
                what = (" within " + ", ".join(f"{k}={v}" for k, v in zip(spec.series, series, strict=True))
                        if series else "")
                raise ObservedDataError(label, line, spec.order,
                                        f"expected {spec.order} to increase down the file{what}, got "
                                        f"'{raw[spec.order]}' after line {prev_line}")
        last[series] = (t, line)
        parsed.append(out)
    return _frame(name, parsed)


def _sort_key(value: Any) -> Any:
    """Order ``YYYY`` < ``YYYY-MM`` < ``YYYY-MM-DD`` strings as dates (a month sorts at its first day)."""
    if isinstance(value, str):
        return (value + "-01-01")[:10] if len(value) == 4 else (value + "-01")[:10]
    return value


def _frame(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    spec = FILES[name]
    df = pd.DataFrame(rows, columns=list(spec.names))
    if name == "opinion":
        df = df.astype({"year": "int64", "value": "float64"})
    elif name == "trade_shares":
        df["share"] = df["share"].astype("float64")
        df["start"] = pd.to_datetime(df["period"].map(_sort_key))
    elif name == "defence_spending":
        df = df.astype({"year": "int64", "value": "float64"})
    elif name == "alignment_record":
        df["value"] = df["value"].astype("float64")
    elif name == "decisions":
        df["date"] = pd.to_datetime(df["date"].map(_sort_key))
        for col in ("votes_for", "votes_against"):
            df[col] = df[col].astype("Int64")
    df["uncertain"] = df["uncertain"].astype(bool)
    return df


def load_opinion(directory: str | Path | None = None) -> pd.DataFrame:
    """Poll results: one row per (pollster, respondents, target, measure, year); ``value`` in ``unit``."""
    return _load("opinion", directory)


def load_trade_shares(directory: str | Path | None = None) -> pd.DataFrame:
    """Shares of the reporter's goods exports going to the partner (``share`` in [0, 1])."""
    return _load("trade_shares", directory)


def load_defence_spending(directory: str | Path | None = None) -> pd.DataFrame:
    """Defence spending as % of GDP by country, year and measure (SIPRI or official)."""
    return _load("defence_spending", directory)


def load_decisions(directory: str | Path | None = None) -> pd.DataFrame:
    """Dated observed decisions (``date`` is a timestamp; month-precision dates sit at the 1st)."""
    return _load("decisions", directory)


def load_alignment_record(directory: str | Path | None = None) -> pd.DataFrame:
    """Which side each ally stood on, by period, coded from the record (``value``: share of months on Beijing's
    side), each row with the decisions that show it."""
    return _load("alignment_record", directory)


_LOADERS = {
    "opinion": load_opinion,
    "trade_shares": load_trade_shares,
    "defence_spending": load_defence_spending,
    "decisions": load_decisions,
    "alignment_record": load_alignment_record,
}


def load_all(directory: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Every observed-data file, validated, keyed by name (``opinion``, ``trade_shares``, ...)."""
    return {name: loader(directory) for name, loader in _LOADERS.items()}


def opinion_series(pollster: str, respondents: str, target: str, measure: str = "favourable", *,
                   include_uncertain: bool = True, directory: str | Path | None = None) -> pd.Series:
    """One poll series as a ``pandas.Series`` of values indexed by year (empty if nothing matches)."""
    df = load_opinion(directory)
    sel = df[(df.pollster == pollster) & (df.respondents == respondents) & (df.target == target)
             & (df.measure == measure)]
    if not include_uncertain:
        sel = sel[~sel.uncertain]
    return pd.Series(sel["value"].to_numpy(), index=pd.Index(sel["year"].to_numpy(), name="year"),
                     name=f"{pollster}:{respondents}->{target}:{measure}")
