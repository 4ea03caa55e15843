"""The shipped observed data: every file parses, every row is sourced, values are in range, keys are
unique, series are ordered, a few facts are anchored to the record, and bad files get one-line errors."""

from __future__ import annotations

import csv
import shutil
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from alliance_sim import observed
from alliance_sim.observed import FILES, ObservedDataError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    return observed.load_all()


def test_every_file_parses_and_is_not_empty(data):
    assert set(data) == set(FILES)
    for name, df in data.items():
        assert len(df) > 0, name
        assert list(df.columns[: len(FILES[name].names)]) == list(FILES[name].names)


def test_every_row_has_a_source_and_a_boolean_uncertain_flag(data):
    for name, df in data.items():
        pub = df["source_publication"].str.strip()
        assert (pub != "").all(), f"{name}: rows without a source_publication"
        assert df["uncertain"].dtype == bool, name
        # no row cites a machine path instead of a publication
        for col in ("source_publication", "source_title", "source_url", "note"):
            assert not df[col].str.contains(r"(?:/work/|\.md\b|context/)", regex=True).any(), (name, col)


def test_uncertain_rows_say_why(data):
    for name, df in data.items():
        unexplained = df[df["uncertain"] & (df["note"].str.strip() == "")]
        assert unexplained.empty, f"{name}: uncertain rows without a note: {unexplained.index.tolist()}"


def test_values_are_in_range(data):
    op = data["opinion"]
    pct = op[op.unit == "percent"]["value"]
    assert pct.between(0, 100).all() and len(pct) > 50
    assert op[op.unit == "score_0_10"]["value"].between(0, 10).all()
    shares = data["trade_shares"]["share"]
    assert shares.between(0, 1).all()
    # shares of one reporter in one period cannot add up to more than the whole
    tot = data["trade_shares"].groupby(["reporter", "period", "period_type"])["share"].sum()
    assert (tot <= 1).all()
    assert data["defence_spending"]["value"].between(0, 100).all()
    assert data["defence_spending"]["value"].max() < 10   # % of GDP for JPN/KOR, not a fraction or a count


def test_keys_are_unique_and_series_are_ordered(data):
    for name, df in data.items():
        spec = FILES[name]
        key = df[list(spec.key)].astype(str)
        assert not key.duplicated().any(), name
        groups = df.groupby(list(spec.series), sort=False) if spec.series else [((), df)]
        for _, g in groups:
            t = g["start"] if name == "trade_shares" else g[spec.order]
            assert t.is_monotonic_increasing, (name, g.iloc[0][list(spec.series)].tolist())


def test_years_cover_the_calibration_window(data):
    pew_us = data["opinion"].query("pollster == 'pew' and target == 'USA' and measure == 'favourable'")
    for country in ("JPN", "KOR"):
        years = set(pew_us[pew_us.respondents == country].year)
        assert {2010, 2015, 2017, 2020, 2022, 2023} <= years, country
    co = data["opinion"].query("pollster == 'cabinet_office_japan'")
    assert {2021, 2023, 2024, 2025} <= set(co[co.target == "USA"].year)
    trade = data["trade_shares"].query("period_type == 'year'")
    for reporter in ("JPN", "KOR"):
        for partner in ("USA", "CHN"):
            years = set(trade[(trade.reporter == reporter) & (trade.partner == partner)].period)
            assert {"2024", "2025"} & years, (reporter, partner)


def test_anchored_facts_match_the_record(data):
    d = data["decisions"].set_index("id")
    act = d.loc["special_act_passed"]
    assert act.date == pd.Timestamp("2026-03-12")
    assert (act.votes_for, act.votes_against) == (226, 8)
    assert act.actor == "KOR" and act.category == "concede"
    assert d.loc["snapback_threat"].date == pd.Timestamp("2026-01-26")
    assert d.loc["three_nos"].date == pd.Timestamp("2017-10-30")
    assert d.loc["three_nos"].category == "accommodate_china"
    assert d.loc["thaad_decision"].date == pd.Timestamp("2016-07-08")
    assert d.loc["gsomia_termination_notice"].date == pd.Timestamp("2019-08-22")
    assert d.loc["gsomia_suspension"].date == pd.Timestamp("2019-11-22")
    assert d.loc["camp_david_summit"].date == pd.Timestamp("2023-08-18")
    assert d.loc["west_sea_resolution"].votes_for == 252
    # the notice comes before its suspension, the snapback before the Act that answered it
    assert d.loc["gsomia_termination_notice"].date < d.loc["gsomia_suspension"].date
    assert d.loc["snapback_threat"].date < d.loc["special_act_passed"].date

    kr_us = observed.opinion_series("pew", "KOR", "USA")
    assert kr_us[2020] == 59 and kr_us[2022] == 89
    jp_us = observed.opinion_series("pew", "JPN", "USA")
    assert jp_us[2020] == 41 and jp_us[2019] == 68
    assert kr_us[2024] == 77 and kr_us[2025] < kr_us[2024]   # Trump's return: 16 points down
    kr_cn = observed.opinion_series("pew", "KOR", "CHN", "unfavourable")
    assert kr_cn[2015] < 50 < kr_cn[2017]          # the THAAD retaliation turned Korean opinion
    assert kr_cn.loc[2020:].min() >= 70            # 'around 70 %' and above since 2020
    jp_kr = observed.opinion_series("cabinet_office_japan", "JPN", "KOR", "affinity")
    assert jp_kr.idxmin() == 2019                  # the export-control and GSOMIA year
    co_us = observed.opinion_series("cabinet_office_japan", "JPN", "USA", "affinity")
    assert co_us[2025] < co_us[2024]

    t = data["trade_shares"].set_index(["reporter", "partner", "period_type", "period"])["share"]
    assert t[("KOR", "CHN", "year", "2018")] == pytest.approx(0.268)
    assert t[("KOR", "CHN", "year", "2025")] > t[("KOR", "USA", "year", "2025")]
    assert t[("JPN", "USA", "year", "2024")] == pytest.approx(0.199)
    # the May 2025 trade-diversion signal: the US share fell below China's
    assert t[("KOR", "USA", "partial_month", "2025-05")] < t[("KOR", "CHN", "partial_month", "2025-05")]

    m = data["defence_spending"].set_index(["country", "measure", "year"])["value"]
    assert m[("JPN", "sipri_milex_gdp", 2024)] == pytest.approx(1.4)
    assert m[("KOR", "sipri_milex_gdp", 2022)] > m[("JPN", "sipri_milex_gdp", 2022)]


def test_opinion_series_can_drop_uncertain_points():
    all_points = observed.opinion_series("pew", "JPN", "USA")
    firm = observed.opinion_series("pew", "JPN", "USA", include_uncertain=False)
    assert set(firm.index) < set(all_points.index)
    assert 2025 in all_points.index and 2025 not in firm.index
    assert observed.opinion_series("pew", "JPN", "USA", "trust").empty


def test_files_ship_inside_the_package_and_the_root_folder_points_at_them():
    pkg = observed.observed_dir()
    assert pkg.is_dir() and "alliance_sim" in pkg.parts
    for spec in FILES.values():
        assert (pkg / spec.filename).is_file()
    assert (pkg / "README.md").is_file()
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert {"data/observed/*.csv", "data/observed/*.md"} <= set(package_data["alliance_sim"])
    root = REPO / "data" / "observed"
    if root.exists():  # a source checkout
        assert root.resolve() == pkg.resolve()
    total = sum(p.stat().st_size for p in pkg.iterdir() if p.is_file())
    print(f"observed data: {total} bytes")
    assert total < 1_000_000


def test_readme_documents_every_file_and_column():
    text = (observed.observed_dir() / "README.md").read_text(encoding="utf-8")
    for spec in FILES.values():
        assert spec.filename in text
        for name in spec.names:
            assert f"`{name}`" in text, (spec.filename, name)


# --- bad files: one line naming the file, the line, the column and what was expected -------------

def _copy(tmp_path: Path) -> Path:
    for spec in FILES.values():
        shutil.copy(observed.observed_dir() / spec.filename, tmp_path / spec.filename)
    return tmp_path


def _edit(path: Path, line: int, column: str, value: str) -> None:
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    rows[line - 1][rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


@pytest.mark.parametrize(
    ("name", "line", "column", "value", "expected"),
    [
        ("trade_shares", 3, "share", "1.5", "expected a number in [0, 1], got '1.5'"),
        ("trade_shares", 3, "share", "", "expected a value, got an empty cell"),
        ("trade_shares", 3, "period", "2018-13", "expected a period YYYY or YYYY-MM"),
        ("opinion", 2, "value", "abc", "expected a number in [0, 100]"),
        ("opinion", 2, "value", "120", "expected a number in [0, 100]"),
        ("opinion", 2, "unit", "percentage", "expected one of percent, score_0_10, degrees_0_100"),
        ("opinion", 2, "uncertain", "maybe", "expected 'true' or 'false', got 'maybe'"),
        ("opinion", 2, "source_publication", "", "expected a value, got an empty cell"),
        ("opinion", 2, "source_url", "www.example.com", "expected an http(s) URL"),
        ("opinion", 3, "year", "2000", "expected a unique key"),
        ("opinion", 3, "year", "1999", "expected year to increase down the file"),
        ("defence_spending", 2, "country", "JP", "expected one of USA, JPN, KOR, CHN, PRK"),
        ("decisions", 2, "date", "2016-02-30", "expected a real calendar date"),
        ("decisions", 3, "date", "2015-01-01", "expected date to increase down the file"),
        ("decisions", 2, "actor", "KOR;KOR", "expected actor codes"),
        ("decisions", 2, "category", "surrender", "expected one of align_us, concede"),
    ],
)
def test_bad_cells_give_one_line_errors(tmp_path, name, line, column, value, expected):
    d = _copy(tmp_path)
    path = d / FILES[name].filename
    _edit(path, line, column, value)
    loader = getattr(observed, f"load_{name}")
    with pytest.raises(ObservedDataError) as info:
        loader(d)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: line {line}: column '{column}': ")
    assert expected in msg
    assert (info.value.line, info.value.column) == (line, column)


def test_structural_problems_give_one_line_errors(tmp_path):
    d = _copy(tmp_path)
    path = d / "defence_spending.csv"
    text = path.read_text(encoding="utf-8").splitlines()

    path.write_text("\n".join([text[0].replace(",note,", ",notes,")] + text[1:]) + "\n", encoding="utf-8")
    with pytest.raises(ObservedDataError, match=r"line 1: column 'note': expected the column in the header"):
        observed.load_defence_spending(d)

    path.write_text("\n".join([text[0] + ",extra"] + [r + "," for r in text[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(ObservedDataError, match=r"column 'extra': expected only the columns"):
        observed.load_defence_spending(d)

    path.write_text("\n".join(text[:2] + [text[2] + ",spare"]) + "\n", encoding="utf-8")
    with pytest.raises(ObservedDataError, match=r"line 3: expected 10 fields, got 11"):
        observed.load_defence_spending(d)

    path.write_text(text[0] + "\n", encoding="utf-8")
    with pytest.raises(ObservedDataError, match=r"expected at least one data row"):
        observed.load_defence_spending(d)

    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ObservedDataError, match=r"cannot read as UTF-8"):
        observed.load_defence_spending(d)

    path.unlink()
    with pytest.raises(ObservedDataError, match=r"defence_spending.csv: no such file"):
        observed.load_all(d)


def test_cross_column_rules(tmp_path):
    d = _copy(tmp_path)
    op = d / "opinion.csv"
    rows = list(csv.reader(op.read_text(encoding="utf-8").splitlines()))
    asan = next(i for i, r in enumerate(rows) if r[0] == "asan") + 1
    _edit(op, asan, "value", "50")   # 50 on a 0-10 scale
    with pytest.raises(ObservedDataError, match=rf"line {asan}: column 'value': expected a number in \[0, 10\] "
                                                 "for unit score_0_10"):
        observed.load_opinion(d)

    dec = d / "decisions.csv"
    rows = list(csv.reader(dec.read_text(encoding="utf-8").splitlines()))
    act = next(i for i, r in enumerate(rows) if r[0] == "special_act_passed") + 1
    _edit(dec, act, "votes_against", "")
    with pytest.raises(ObservedDataError, match=r"expected votes_for and votes_against both given"):
        observed.load_decisions(d)
    _edit(dec, act, "votes_against", "8")
    _edit(dec, act, "date_precision", "month")
    with pytest.raises(ObservedDataError, match=r"column 'date': expected YYYY-MM for date_precision month"):
        observed.load_decisions(d)
