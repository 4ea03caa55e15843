"""Run and compare folders for the report's tests (small ensembles: 200 replicates, 24 months), and a
parser that reads back what the report page shows."""

from __future__ import annotations

import re
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

REPLICATES = 200
MONTHS = 24

# The tariff shock with a scripted threat, a leader change, an election, a threat-rate change and one
# event before the start (which the model does not simulate): every kind of dated entry the report lists.
SCENARIO = """\
# Report test: the tariff shock with a missile test, a new leader in Tokyo and an election in Seoul.
#
# Second paragraph of the notes.
extends = "tariff_shock_2025"

[scenario]
name = "report_test"

[actors.KOR]
elections = ["2026-06"]

[threats.nk_provocations]
rate_schedule = [{ month = "2026-01", rate_per_month = 3.0, label = "NK surge" }]

[[events]]
month = "2025-10"
kind = "threat"
targets = ["KOR", "JPN"]
magnitude = 0.3
source = "PRK"
label = "Missile test"

[[events]]
month = "2026-03"
kind = "leader"
targets = ["JPN"]
orientation = 0.7
label = "Hawk takes office"

[[events]]
month = "2024-01"
kind = "reassurance"
targets = ["KOR"]
magnitude = 0.2
label = "Old summit"
"""

# (month, words the timeline must show, label) of the entries inside the horizon
DATED = [("2025-08", "US tariff on Japan (all goods) set to 25%", "25% letter tariff"),
         ("2025-08", "US asks Japan for 3.5% of GDP on defence", "US presses toward 3.5% of GDP"),
         ("2025-10", "Threat shock to South Korea and Japan", "Missile test"),
         ("2026-01", "North Korean provocations", "NK surge"),
         ("2026-03", "New leader in Japan: hawkish", "Hawk takes office"),
         ("2026-06", "Election in South Korea", "")]


def make_run(base: Path) -> Path:
    """A run folder of the test scenario, as `alliance run` writes it."""
    import alliance_sim as al

    file = base / "report_test.toml"
    file.write_text(SCENARIO, encoding="utf-8")
    res = al.run(al.load(file), replicates=REPLICATES, months=MONTHS, keep_trajectories=10)
    return res.save(base / "run", command="alliance run report_test.toml --replicates 200 --months 24")


def make_compare(base: Path, names=("tariff_shock_2025", "baseline_2025")) -> Path:
    """A compare folder (order deliberately not alphabetical), as `alliance compare` writes it."""
    import alliance_sim as al

    cmp = al.compare(list(names), replicates=REPLICATES, months=MONTHS, keep_trajectories=10)
    return cmp.save(base / "compare", command="alliance compare " + " ".join(names))


def without_drivers(ds):
    """``ds`` without driver attribution (variables on the ``driver`` dimension and its coordinate)."""
    names = [v for v in ds.data_vars if "driver" in ds[v].dims]
    return ds.drop_vars(names + (["driver"] if "driver" in ds.coords else []))


def add_drivers(run: Path, drivers=("tariff_strain", "threat", "leader", "china_trade")) -> tuple[np.ndarray, list]:
    """Give a run folder's results a variable ``alignment_driver_mean`` (month, ally, driver) with known
    values (over the results' own driver groups if they have attribution, else over ``drivers``); return
    the values and the driver names."""
    import xarray as xr

    from alliance_sim.rundir import load_results, write_results

    ds = load_results(run)
    if "driver" in ds.dims:
        drivers = [str(d) for d in ds.driver.values]
    T, A, D = ds.sizes["month"], ds.sizes["ally"], len(drivers)
    scale = np.resize(np.array([1, -2, 0.5, 3]), D)
    values = (np.arange(T * A * D, dtype=float).reshape(T, A, D) % 7 - 3) / 100 * scale
    ds["alignment_driver_mean"] = xr.DataArray(values, dims=("month", "ally", "driver"),
                                               coords={"driver": list(drivers)},
                                               attrs={"units": "alignment units", "long_name": "test attribution"})
    write_results(ds, run / "results.nc")
    return values, list(drivers)


class Page(HTMLParser):
    """Elements of a report page: every tag with its attributes, the text of each tagged value
    (``data-col``), the table rows' cells, the ids, the links, the images and the <style> text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.values: list[dict] = []  # attrs of data-col / data-driver elements, with their "text"
        self.rows: list[list[str]] = []
        self.style = ""
        self._open: list[dict] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_style = False
        self._scenario: str | None = None  # data-scenario of the table cell being read
        self.feed(html)

    @property
    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if a.get("id")}

    def attr_values(self, name: str) -> list[str]:
        return [a[name] for _, a in self.tags if a.get(name) is not None]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "style":
            self._in_style = True
        if tag == "tr":
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._scenario = a.get("data-scenario")
        if "data-col" in a or "data-driver" in a:
            a = {**a, "text": "", "scenario": self._scenario}
            self.values.append(a)
            self._open.append(a)
        elif self._open:
            self._open.append({})

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        if self._open and tag not in ("br", "img", "meta"):
            self._open.pop()

    def handle_data(self, data):
        if self._in_style:
            self.style += data
        if self._cell is not None:
            self._cell.append(data)
        for a in self._open:
            if "text" in a:
                a["text"] += data


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF (page objects, also inside compressed object streams, as WeasyPrint writes them)."""
    chunks = [data]
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            chunks.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass
    return sum(len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", c)) for c in chunks)
