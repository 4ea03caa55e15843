"""``[initial_conditions]``: start a scenario from the observed data of its year, not the 2024/25 defaults.

Why: a scenario of 2016 that started from 2024's export shares and 2025's polls would test the model on
the wrong world.  A scenario file may say::

    [initial_conditions]
    source = "observed"        # the shipped files of alliance_sim/data/observed/
    year = 2016                # optional; default: the year of simulation.start
    [initial_conditions.JPN]
    favorable_china_share = 0.148   # optional per-field values for what the files lack (cite a source)

and every ally's start fields below are then set from the observed files (``alliance_sim.observed``):

=========================  ======================================================================
field                      observation
=========================  ======================================================================
export_share_us            trade_shares.csv: the ally's yearly goods-export share to the US
export_share_china         trade_shares.csv: the same to China
defense_spending_gdp       defence_spending.csv: SIPRI military expenditure, % of GDP
public.favorable_us_share  opinion.csv: Pew, % with a favourable view of the US (as a fraction)
public.favorable_china_share  opinion.csv: Pew, % favourable to China
=========================  ======================================================================

The value of ``year`` is used where it exists; otherwise the latest earlier year, at most
:data:`MAX_GAP_YEARS` before (never a later year: the start must not know the future).  Values given in
``[initial_conditions.<ALLY>]`` win over the files; the resolved values win over ``actors.*`` of the
file and of the files it extends, and ``--set`` wins over everything.  What was used (value, year,
source) is returned so that the scenario records it.  Any problem is the project's one-line
:class:`~alliance_sim.scenario_errors.ScenarioError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alliance_sim.observed import ObservedDataError
from alliance_sim.scenario_errors import ScenarioError, _show, _unknown

KEY = "initial_conditions"
SOURCES = ("observed",)
#: How many years before the requested one an observation may be taken from when the year itself is missing.
MAX_GAP_YEARS = 2
#: field → (path in the actor's table, observed file, partner/target).
FIELDS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "export_share_us": (("export_share_us",), "trade", "USA"),
    "export_share_china": (("export_share_china",), "trade", "CHN"),
    "defense_spending_gdp": (("defense_spending_gdp",), "defence", ""),
    "favorable_us_share": (("public", "favorable_us_share"), "opinion", "USA"),
    "favorable_china_share": (("public", "favorable_china_share"), "opinion", "CHN"),
}
_TOP_KEYS = ("source", "year")


def _series(kind: str, ally: str, partner: str, directory=None) -> list[tuple[int, float, str]]:
    """(year, value, source) of one observed series, sorted by year."""
    from alliance_sim import observed

    if kind == "trade":
        df = observed.load_trade_shares(directory)
        df = df[(df.reporter == ally) & (df.partner == partner) & (df.period_type == "year")]
        rows = [(int(r.period), float(r.share), r) for r in df.itertuples(index=False)]
    elif kind == "defence":
        df = observed.load_defence_spending(directory)
        df = df[(df.country == ally) & (df.measure == "sipri_milex_gdp")]
        rows = [(int(r.year), float(r.value), r) for r in df.itertuples(index=False)]
    else:
        df = observed.load_opinion(directory)
        df = df[(df.pollster == "pew") & (df.respondents == ally) & (df.target == partner)
                & (df.measure == "favourable")]
        rows = [(int(r.year), float(r.value) / 100.0, r) for r in df.itertuples(index=False)]
    out = []
    for year, value, r in rows:
        src = r.source_publication + (f", {r.source_date}" if r.source_date else "")
        out.append((year, value, src))
    return sorted(out)


def _start_year(tree: Mapping) -> int:
    start = str(tree.get("simulation", {}).get("start", ""))
    try:
        return int(start[:4])
    except ValueError:
        return 0


def resolve_initial_conditions(spec: Any, tree: dict, shown: str, directory=None) -> dict[str, dict[str, Any]]:
    """Set the allies' start fields of the raw scenario ``tree`` (in place) from the observed data, as
    ``spec`` (the ``[initial_conditions]`` table) asks; return ``{ally: {field: {value, year, source}}}``."""
    if not isinstance(spec, Mapping):
        raise ScenarioError(shown, KEY, f"expected a table with source = \"observed\", got {_show(spec)}")
    actors = tree.get("actors", {})
    allies = [a for a, t in actors.items() if isinstance(t, Mapping) and t.get("role") == "ally"]
    for k in spec:
        if k not in _TOP_KEYS and k not in allies:
            raise _unknown(shown, f"{KEY}.{k}", str(k), list(_TOP_KEYS) + allies)
    source = spec.get("source")
    if source not in SOURCES:
        raise ScenarioError(shown, f"{KEY}.source", f"expected one of {', '.join(repr(s) for s in SOURCES)}, "
                                                    f"got {_show(source)}")
    year = spec.get("year", _start_year(tree))
    if isinstance(year, bool) or not isinstance(year, int) or not 1945 <= year <= 2100:
        raise ScenarioError(shown, f"{KEY}.year", f"expected a four-digit year, got {_show(year)}")
    used: dict[str, dict[str, Any]] = {}
    for ally in allies:
        given = spec.get(ally, {})
        if not isinstance(given, Mapping):
            raise ScenarioError(shown, f"{KEY}.{ally}", f"expected a table of start values, got {_show(given)}")
        for k, v in given.items():
            if k not in FIELDS:
                raise _unknown(shown, f"{KEY}.{ally}.{k}", str(k), list(FIELDS))
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ScenarioError(shown, f"{KEY}.{ally}.{k}", f"expected a number, got {_show(v)}")
        used[ally] = {}
        for field, (path, kind, partner) in FIELDS.items():
            if field in given:
                value, got_year, src = float(given[field]), year, f"{shown}: {KEY}.{ally}.{field}"
            else:
                try:
                    series = _series(kind, ally, partner, directory)
                except ObservedDataError as exc:
                    raise ScenarioError(shown, KEY, f"observed data: {exc}") from None
                before = [s for s in series if s[0] <= year]
                if not before or year - before[-1][0] > MAX_GAP_YEARS:
                    have = ", ".join(str(s[0]) for s in series) or "none"
                    raise ScenarioError(shown, f"{KEY}.year", f"no observed {field} for {ally} in {year} or the "
                                        f"{MAX_GAP_YEARS} years before (observed years: {have}); give "
                                        f"{KEY}.{ally}.{field} with its source")
                got_year, value, src = before[-1]
            node = actors.setdefault(ally, {})
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
            used[ally][field] = {"value": value, "year": got_year, "source": src}
    return used
