"""The shipped observations that the model's observables can be compared with, dated by month.

Why: ``observed.py`` returns the files as they are (polls by survey year, trade by year or month);
the plots and :func:`alliance_sim.results.observed_comparison` need them as points on the model's
monthly axis, for the four observables of the observation model (``alliance_sim.observation``):

==================  ===================================================================
quantity            observations used
==================  ===================================================================
favourable_us       Pew "favourable" view of the US, by the ally's public (percent → fraction)
favourable_china    Pew "favourable" view of China
export_share_us     the ally's goods exports to the US / total (year, month, part-month)
export_share_china  the same to China
==================  ===================================================================

A poll is dated at the last month it was in the field (``fielded``: ``2024-01/05`` → ``2024-05``); where
the field period is not recorded, at June of the survey year (Pew's spring surveys run from about
February to May; marked ``month_assumed``).  A yearly export share covers the twelve months of its year;
a monthly or part-month share its month.
"""

from __future__ import annotations

import pandas as pd

from alliance_sim import observed

QUANTITIES = ("favourable_us", "favourable_china", "export_share_us", "export_share_china")
_TARGET = {"USA": "us", "CHN": "china"}
COLUMNS = ["quantity", "ally", "period", "period_type", "month", "months", "value", "uncertain",
           "month_assumed", "source"]


def _poll_month(year: int, fielded: str) -> tuple[str, bool]:
    if fielded:
        if "/" in fielded:
            ym, last = fielded.split("/")
            return f"{ym[:4]}-{last}", False
        if len(fielded) == 7:
            return fielded, False
    return f"{year}-06", True


def _year_months(year: str) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(1, 13)]


def observed_points(allies=("JPN", "KOR"), directory=None) -> pd.DataFrame:
    """One row per observation of an observable: ``month`` (YYYY-MM, where the point is drawn), ``months``
    (the months it covers: one, or twelve for a yearly share), ``value`` as a fraction and its source."""
    rows = []
    polls = observed.load_opinion(directory)
    sel = polls[(polls.pollster == "pew") & (polls.measure == "favourable") & polls.target.isin(list(_TARGET))
                & polls.respondents.isin(list(allies))]
    for r in sel.itertuples(index=False):
        month, assumed = _poll_month(int(r.year), r.fielded)
        rows.append({"quantity": f"favourable_{_TARGET[r.target]}", "ally": r.respondents, "period": str(r.year),
                     "period_type": "poll", "month": month, "months": (month,), "value": r.value / 100.0,
                     "uncertain": bool(r.uncertain), "month_assumed": assumed,
                     "source": f"Pew Research Center ({r.source_publication}, {r.source_date or r.year})"})
    trade = observed.load_trade_shares(directory)
    sel = trade[trade.reporter.isin(list(allies)) & trade.partner.isin(list(_TARGET))]
    for r in sel.itertuples(index=False):
        months = tuple(_year_months(r.period)) if r.period_type == "year" else (r.period,)
        rows.append({"quantity": f"export_share_{_TARGET[r.partner]}", "ally": r.reporter, "period": r.period,
                     "period_type": r.period_type, "month": f"{r.period}-07" if r.period_type == "year" else r.period,
                     "months": months, "value": float(r.share), "uncertain": bool(r.uncertain),
                     "month_assumed": False, "source": f"{r.source_publication} ({r.source_date or r.period})"})
    return pd.DataFrame(rows, columns=COLUMNS)


def within(points: pd.DataFrame, month_labels) -> pd.DataFrame:
    """The points whose whole period lies inside the run's months."""
    have = set(str(m) for m in month_labels)
    keep = points["months"].map(lambda ms: all(m in have for m in ms))
    return points[keep].reset_index(drop=True)
