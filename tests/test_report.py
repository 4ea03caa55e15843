"""`alliance report`: the briefing shows the run's own numbers, embeds every image as PNG, loads
nothing from outside, lists the scenario's dated events with their dates, handles compare folders,
refuses bad folders in one line writing nothing, and renders to PDF when WeasyPrint is there."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_helpers import DATED, REPLICATES, Page, add_drivers, make_compare, make_run, pdf_pages, without_drivers
from test_cli import assert_one_line_error, invoke

from alliance_sim.plots import month_tick_label
from alliance_sim.report import build, make_report
from alliance_sim.report.pdf import PdfUnavailable
from alliance_sim.rundir import compare_order, compare_runs, load_results

IN_CI = os.environ.get("CI", "").lower() == "true"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    return {"run": make_run(base), "compare": make_compare(base)}


@pytest.fixture(scope="module")
def run_page(folders):
    out = folders["run"] / "report.html"
    result = invoke("report", folders["run"])
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout
    html = out.read_text(encoding="utf-8")
    return html, Page(html)


@pytest.fixture(scope="module")
def compare_page(folders):
    paths = make_report(folders["compare"])
    html = paths[0].read_text(encoding="utf-8")
    return html, Page(html)


def shown(col: str, text: str) -> float:
    """The number a headline cell shows, read back (true minus signs, percentages)."""
    value = float(text.replace("−", "-").rstrip("%"))
    return value / 100 if col == "p_crossed_by_horizon" else value


def shown_digits(col: str, text: str) -> bool:
    """Alignment with its sign and two decimals, cohesion with two, probabilities as whole percentages."""
    pattern = {"p_crossed_by_horizon": r"\d{1,3}%"}.get(col, r"[+−]\d\.\d\d" if col.startswith("final_alignment")
                                                         else r"−?\d\.\d\d")
    return re.fullmatch(pattern, text) is not None


def check_headline(values: list[dict], summary: pd.DataFrame, scenario: str | None = None):
    """Every headline number of summary.csv is on the page, with the value and the text it must have."""
    seen = set()
    for v in values:
        if "data-col" not in v:
            continue
        ally, col = v["data-ally"], v["data-col"]
        expected = summary.loc[ally, col]
        if col == "median_first_cross_month":
            assert v["data-value"] == str(expected)
            assert v["text"] == ("never" if expected == "never" else month_tick_label(str(expected)))
        else:
            assert abs(float(v["data-value"]) - float(expected)) <= 5.1e-5, (scenario, ally, col)
            assert shown_digits(col, v["text"]), (ally, col, v["text"])
            unit = 0.01  # the last digit shown (1 percentage point, or 0.01 alignment/cohesion)
            assert abs(shown(col, v["text"]) - float(expected)) <= unit / 2 + 5.1e-5, (scenario, ally, col, v["text"])
        seen.add((ally, col))
    assert seen == {(a, c) for a in summary.index for c in summary.columns}, seen


# ------------------------------------------------------------------------------------------ content


def test_headline_numbers_are_summary_csv(folders, run_page):
    _, page = run_page
    summary = pd.read_csv(folders["run"] / "summary.csv", index_col="ally")
    check_headline(page.values, summary)
    rows = {r[0]: r for r in page.rows if r and r[0] in ("Japan", "South Korea")}
    kor = summary.loc["KOR"]
    assert rows["South Korea"][3] == f"{kor.p_crossed_by_horizon:.0%}"  # the column under its heading


def test_every_image_is_an_embedded_png(run_page):
    from PIL import Image

    _, page = run_page
    imgs = [a for t, a in page.tags if t == "img"]
    assert len(imgs) >= 3  # fan chart, crossing, decisions
    for a in imgs:
        assert a["src"].startswith("data:image/png;base64,"), a["src"][:40]
        data = base64.b64decode(a["src"].split(",", 1)[1], validate=True)
        assert data.startswith(PNG_MAGIC)
        import io

        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        with Image.open(io.BytesIO(data)) as im:
            assert im.size == (int(a["width"]), int(a["height"])) and min(im.size) > 200
            assert len(im.getcolors(1 << 20) or range(1000)) > 16  # a chart, not a blank picture
    assert {"fig-alignment", "fig-crossing", "fig-decisions"} <= page.ids


def test_nothing_is_loaded_from_outside(run_page):
    html, page = run_page
    for name in ("src", "href"):
        for url in page.attr_values(name):
            assert not re.match(r"\s*(https?:)?//", url, re.I), url
    for _, a in page.tags:  # internal links only, and every one resolves
        if "href" in a:
            assert a["href"].startswith("#") and a["href"][1:] in page.ids, a["href"]
    assert not any(t in ("script", "link", "iframe", "object", "embed") for t, _ in page.tags)
    assert "url(" not in page.style and "@import" not in page.style
    policy = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(policy) == 1
    assert "default-src 'none'" in policy[0] and "img-src data:" in policy[0]
    digest = base64.b64encode(hashlib.sha256(page.style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy[0]  # the inline stylesheet is the one the policy allows


def test_dated_events_are_listed_with_their_dates(folders, run_page):
    _, page = run_page
    rows = [r for r in page.rows if len(r) == 4 and r[1] != "Date"]
    for month, words, label in DATED:
        hits = [r for r in rows if r[1] == month_tick_label(month) and words in r[2] and r[3] == label]
        assert hits, (month, words, [r for r in rows if r[1] == month_tick_label(month)])
    dates = [pd.Period(r[1], "M") for r in rows]
    assert dates == sorted(dates)
    ds = load_results(folders["run"])  # every event the charts number has its number in the table
    marks = dict(zip(ds.attrs["event_months"], ds.attrs["event_labels"], strict=True))
    assert {"2025-08", "2025-10", "2026-01", "2026-03", "2026-06"} <= set(marks)
    numbered = {r[1]: r[0] for r in rows if r[0]}
    assert [numbered[month_tick_label(m)] for m in sorted(set(marks))] == \
        [str(n) for n in range(1, len(set(marks)) + 1)]


def test_assumptions_and_notes_in_plain_words(run_page):
    html, _ = run_page
    assert re.search(r"Not simulated \(outside Jul 2025 – Jun 2027\):\s*"
                     r"Jan 2024: US reassurance of South Korea[^;]*\(Old summit\)", html)
    assert "Japan, all other goods: 10% at the start (since Apr 2025; 10% baseline tariff), 25% from Aug 2025" in html
    assert "Elections: Jun 2026" in html
    assert "North Korean provocations: on average 1.5 events a month, felt by South Korea (100%)" in html
    assert "The US is transactional" in html and "China reacts to each ally" in html
    assert "Second paragraph of the notes." in html  # the scenario's notes, kept in the manifest
    assert "question" in html and "Report test: the tariff shock with a missile test" in html


def test_provenance(folders, run_page):
    html, _ = run_page
    manifest = json.loads((folders["run"] / "manifest.json").read_text())
    assert manifest["scenario_description"].startswith("Report test:")
    assert "Second paragraph" in manifest["scenario_notes"]
    prov = unescape(html[html.index('<section id="provenance">'):])
    for text in (manifest["scenario_hash"], str(manifest["seed"]), f"{REPLICATES:,}", manifest["command"],
                 manifest["created_utc"], manifest["versions"]["alliance_sim"], "24 (Jul 2025 – Jun 2027)"):
        assert text in prov, text
    assert "defaults have changed" not in html


def test_question_is_given_text_escaped(folders, tmp_path):
    out = tmp_path / "q.html"
    result = invoke("report", folders["run"], "--out", out, "--question", "Will Seoul <b>drift</b> by 2027?")
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Will Seoul &lt;b&gt;drift&lt;/b&gt; by 2027?" in html and "<b>drift" not in html
    assert "Derived from the scenario" not in html


def test_compare_folder(folders, compare_page):
    html, page = compare_page
    folder = folders["compare"]
    assert [d.name for d in compare_runs(folder)] == ["tariff_shock_2025", "baseline_2025"]  # summary.csv order
    assert compare_order(folder, ["baseline_2025", "tariff_shock_2025"]) == ["tariff_shock_2025", "baseline_2025"]
    heads = [a["data-scenario"] for t, a in page.tags if t == "th" and "data-scenario" in a]
    assert heads == ["tariff_shock_2025", "baseline_2025"]
    summary = pd.read_csv(folder / "summary.csv")
    cells = [a for t, a in page.tags if t == "td" and "data-scenario" in a]
    assert len(cells) == 5 * 2 * 2  # five measures x two allies x two scenarios
    values = [v for v in page.values if "data-col" in v]
    assert len(values) == 7 * 2 * 2
    for name in heads:  # each scenario's values are in its own column
        sub = summary[summary.scenario == name].set_index("ally").drop(columns="scenario")
        check_headline([v for v in values if v["scenario"] == name], sub, name)
    assert {"fig-compare-alignment", "fig-compare-crossing"} <= page.ids
    assert "Where the scenarios differ" in html and "Shared by all scenarios" in html
    assert "The US follows the dated schedules" in html and "The US is transactional" in html
    assert "How do tariff_shock_2025 and baseline_2025 differ" in html


def test_drivers_shown_only_when_present(folders, tmp_path):
    from alliance_sim.report.context import drivers as driver_facts
    from alliance_sim.report.context import gather
    from alliance_sim.report.figures import run_figures
    from alliance_sim.report.render import render_html

    report = gather(folders["run"])  # results without attribution (made before it, or stripped of it)
    assert driver_facts(without_drivers(report.first.dataset)) == {}
    report.first.drivers = {}
    report.figures = run_figures(report)
    html = render_html(report)
    assert "drivers" not in Page(html).ids and 'href="#drivers"' not in html and "Driver group" not in html
    run = tmp_path / "with-drivers"
    shutil.copytree(folders["run"], run, ignore=shutil.ignore_patterns("report.*"))
    values, drivers = add_drivers(run)
    _, html2 = build(run)
    page2 = Page(html2)
    assert {"drivers", "fig-drivers"} <= page2.ids and 'href="#drivers"' in html2
    tagged = [v for v in page2.values if "data-driver" in v and v["data-driver"] != "total"]
    assert len(tagged) == 2 * len(drivers)
    for v in tagged:  # each group's share by the horizon
        a = ["JPN", "KOR"].index(v["data-ally"])
        assert float(v["data-value"]) == pytest.approx(values[-1, a, drivers.index(v["data-driver"])], abs=1e-6)
    for ally in ("JPN", "KOR"):  # largest first, and the total is the sum of the shares
        shares = [float(v["data-value"]) for v in tagged if v["data-ally"] == ally]
        assert [abs(x) for x in shares] == sorted((abs(x) for x in shares), reverse=True)
        (total,) = [v for v in page2.values if v.get("data-driver") == "total" and v["data-ally"] == ally]
        assert float(total["data-value"]) == pytest.approx(sum(shares), abs=1e-6)


def test_output_replaced_atomically(folders, tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    out.write_text("old")
    import alliance_sim.report.render as render

    def broken(report):
        raise RuntimeError("template failed")

    monkeypatch.setattr(render, "render_html", broken)
    with pytest.raises(RuntimeError):
        make_report(folders["run"], out)
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    monkeypatch.undo()
    assert make_report(folders["run"], out) == [out]
    assert out.read_text().startswith("<!DOCTYPE html>") and sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


# ------------------------------------------------------------------------------------------ bad input


def _damaged(tmp: Path, run: Path, what: str) -> Path:
    bad = tmp / what
    shutil.copytree(run, bad)
    (bad / "report.html").unlink(missing_ok=True)
    if what == "garbage-results":
        (bad / "results.nc").write_bytes(b"not a netCDF file at all")
    elif what == "truncated-results":
        data = (bad / "results.nc").read_bytes()
        (bad / "results.nc").write_bytes(data[: len(data) // 3])
    elif what == "foreign-results":
        import xarray as xr

        xr.Dataset({"x": ("t", np.arange(3.0))}).to_netcdf(bad / "results.nc", engine="h5netcdf")
    elif what == "no-manifest":
        (bad / "manifest.json").unlink()
    elif what == "bad-manifest":
        (bad / "manifest.json").write_text("{ not json")
    return bad


@pytest.mark.parametrize("what, names", [
    ("garbage-results", "results.nc"), ("truncated-results", "results.nc"), ("foreign-results", "results.nc"),
    ("no-manifest", "manifest.json"), ("bad-manifest", "manifest.json")])
def test_damaged_run_folder_is_one_line(folders, tmp_path, what, names):
    bad = _damaged(tmp_path, folders["run"], what)
    line = assert_one_line_error(invoke("report", bad))
    assert str(bad / names) in line
    assert not (bad / "report.html").exists()
    assert not [p for p in bad.iterdir() if ".partial-" in p.name]


def test_not_a_run_folder(folders, tmp_path):
    line = assert_one_line_error(invoke("report", tmp_path / "nowhere"))
    assert "nowhere: no such folder" in line and "--out" not in line
    (tmp_path / "empty").mkdir()
    line = assert_one_line_error(invoke("report", tmp_path / "empty"))
    assert "not a run or compare folder" in line and "results.nc" in line
    assert list((tmp_path / "empty").iterdir()) == []
    runs = tmp_path / "outputs"  # a folder of run folders (no summary.csv of scenarios) is not a comparison
    runs.mkdir()
    shutil.copytree(folders["run"], runs / "one", ignore=shutil.ignore_patterns("report.*"))
    assert_one_line_error(invoke("report", runs), "not a run or compare folder")
    assert sorted(p.name for p in runs.iterdir()) == ["one"]


def test_compare_folder_missing_a_run(folders, tmp_path):
    bad = tmp_path / "cmp"
    shutil.copytree(folders["compare"], bad, ignore=shutil.ignore_patterns("report.*"))
    shutil.rmtree(bad / "baseline_2025")
    line = assert_one_line_error(invoke("report", bad))
    assert str(bad / "baseline_2025" / "results.nc") in line and "summary.csv" in line
    assert not (bad / "report.html").exists()


def test_bad_options(folders, tmp_path):
    assert_one_line_error(invoke("report", folders["run"], "--out", tmp_path / "no" / "r.html"), "no such folder")
    assert_one_line_error(invoke("report", folders["run"], "--out", tmp_path / "r.pdf"), "HTML file")
    assert_one_line_error(invoke("report", folders["run"], "--question", "  "), "--question")
    assert list(tmp_path.iterdir()) == []


def test_pdf_without_weasyprint_is_one_line(folders, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails as if not installed
    with pytest.raises(PdfUnavailable):
        make_report(folders["run"], tmp_path / "r.html", pdf=True)
    line = assert_one_line_error(invoke("report", folders["run"], "--out", tmp_path / "r.html", "--pdf"))
    assert "pip install 'alliance-sim[pdf]'" in line
    assert list(tmp_path.iterdir()) == []


def test_pdf(folders, tmp_path):
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        if IN_CI:
            pytest.fail("weasyprint must be installed in CI (.[dev] includes the pdf extra)")
        pytest.skip("weasyprint is not installed (pip install 'alliance-sim[pdf]')")
    result = invoke("report", folders["compare"], "--out", tmp_path / "cmp.html", "--pdf")
    assert result.exit_code == 0, result.output
    data = (tmp_path / "cmp.pdf").read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert pdf_pages(data) >= 1
    assert len(data) > 50_000  # the charts are in it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp.html", "cmp.pdf"]
