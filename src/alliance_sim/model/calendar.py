"""Calendar months ("2025-08") to model steps and back.

The model steps monthly; scenario files speak in calendar months so that schedules read like a
briefing.  Step 0 is the scenario's start month; the state after step t is the end of month start+t.
"""

from __future__ import annotations

import re
from functools import lru_cache

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@lru_cache(maxsize=4096)  # pure; a sweep compiles thousands of points with the same handful of months
def parse_month(text: str) -> tuple[int, int]:
    """Parse "YYYY-MM" into (year, month); raise ValueError with the expected form otherwise."""
    m = _MONTH_RE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"expected a calendar month like '2025-08', got {text!r}")
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12 or not 1900 <= year <= 2200:
        raise ValueError(f"expected a calendar month like '2025-08', got {text!r}")
    return year, month


def month_offset(start: str, month: str) -> int:
    """Number of months from ``start`` to ``month`` (negative if before)."""
    y0, m0 = parse_month(start)
    y1, m1 = parse_month(month)
    return (y1 - y0) * 12 + (m1 - m0)


def add_months(start: str, n: int) -> str:
    """The calendar month ``n`` months after ``start``."""
    y, m = parse_month(start)
    total = y * 12 + (m - 1) + n
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def month_labels(start: str, n: int) -> list[str]:
    """Labels of the ``n`` simulated months, starting at ``start``."""
    return list(_month_labels(start, n))


@lru_cache(maxsize=64)
def _month_labels(start: str, n: int) -> tuple[str, ...]:
    return tuple(add_months(start, i) for i in range(n))
