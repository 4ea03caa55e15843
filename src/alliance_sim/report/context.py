"""What a report says, gathered from a run folder (``alliance run``) or a compare folder
(``alliance compare``): the question, each scenario's assumptions and timeline, the headline figures,
the figures as embedded PNGs, driver attribution when the results carry it, and provenance.

Everything is read from the folder, nothing from the scenario files on disk (they may have changed
since the run): the parameters are rebuilt from the manifest's resolved scenario on today's defaults and
checked against the scenario hash the run recorded, so a report says when they no longer match.
A folder that is not a run or compare folder, or a damaged file, is a one-line :class:`ReportError`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alliance_sim.plots import actor_name, month_tick_label
from alliance_sim.report.assumptions import DatedEvent, Topic, assumptions, timeline
from alliance_sim.rundir import MANIFEST, RESULTS, SUMMARY, RunDirError, compare_runs, load_results

ReportError = RunDirError  # one line naming the file and what was expected (the CLI's bad-input error)

#: Driver attribution in results.nc (month, ally, driver): each driver group's mean share of the change of the
#: ally's alignment since the start; the shares add up to the change (docs/model.md, driver attribution).
DRIVER_VARIABLE = "alignment_driver_mean"

EXPECTED = "expected a folder written by `alliance run` (results.nc, manifest.json) or `alliance compare`"


@dataclass(frozen=True)
class Headline:
    """One ally's headline figures (the columns of summary.csv)."""

    ally: str
    median: float
    p05: float
    p95: float
    p_crossed: float
    first_cross: str  # calendar month "2026-03" or "never"
    final_cohesion: float
    min_cohesion: float

    @property
    def name(self) -> str:
        return actor_name(self.ally)

    @property
    def first_cross_label(self) -> str:
        return "never" if self.first_cross == "never" else month_tick_label(self.first_cross)


@dataclass(frozen=True)
class Driver:
    """One driver group's mean share of an ally's change of alignment since the start: by the horizon, and
    where it was largest (its sign kept)."""

    name: str
    label: str
    final: float
    peak: float
    peak_month: str


@dataclass
class Run:
    """One run folder's facts."""

    label: str
    folder: Path
    dataset: xr.Dataset
    manifest: dict[str, Any]
    description: str
    notes: str
    topics: list[Topic]
    events: list[DatedEvent]
    event_numbers: dict[str, int]  # calendar month -> number of its mark on the plots
    headline: list[Headline]
    params_match: bool  # the parameters rebuilt from the manifest have the run's scenario hash
    drivers: dict[str, list[Driver]] = field(default_factory=dict)  # ally -> drivers, largest first

    @property
    def by_ally(self) -> dict[str, Headline]:
        return {h.ally: h for h in self.headline}

    @property
    def start(self) -> str:
        return str(self.dataset.month.values[0])

    @property
    def horizon(self) -> str:
        return str(self.dataset.month.values[-1])

    @property
    def replicates(self) -> int:
        return int(self.manifest.get("replicates") or self.dataset.attrs.get("replicates", 0))

    @property
    def scenario(self) -> str:
        return str(self.manifest.get("scenario") or self.label)


@dataclass
class Report:
    """Everything the template shows."""

    kind: str  # "run" or "compare"
    folder: Path
    runs: list[Run]
    question: str
    question_given: bool
    figures: list[Any] = field(default_factory=list)  # report.figures.Figure, filled by the renderer's caller
    generated_utc: str = ""
    version: str = ""

    @property
    def first(self) -> Run:
        return self.runs[0]

    @property
    def allies(self) -> list[str]:
        return [h.ally for h in self.first.headline]

    @property
    def has_drivers(self) -> bool:
        return any(r.drivers for r in self.runs)

    @property
    def topic_rows(self) -> list[tuple[str, list[list[str]], bool]]:
        """(topic, each run's sentences, the same in every run?) in the first run's order: a comparison
        shows the differences side by side and what all share once."""
        titles = list(dict.fromkeys(t.title for r in self.runs for t in r.topics))
        rows = []
        for title in titles:
            items = [next((t.items for t in r.topics if t.title == title), []) for r in self.runs]
            rows.append((title, items, all(i == items[0] for i in items)))
        return rows

    @property
    def mc_margin(self) -> float:
        """Largest 95 % Monte Carlo half-width of a probability with the smallest number of replicates."""
        n = min(r.replicates for r in self.runs) or 1
        return 1.96 * math.sqrt(0.25 / n)


# ------------------------------------------------------------------------------------------ gathering


def gather(folder: str | Path, question: str | None = None) -> Report:
    """Read a run or compare folder into a :class:`Report` (figures not drawn yet)."""
    from alliance_sim import __version__

    if question is not None and not question.strip():
        raise ReportError("--question: expected the question in words, got an empty text")
    kind, dirs = classify(folder)
    runs = [read_run(d, d.name) for d in dirs]
    given = question is not None
    text = " ".join(question.split()) if given else derive_question(kind, runs)
    return Report(kind=kind, folder=Path(folder), runs=runs, question=text, question_given=given,
                  generated_utc=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), version=__version__)


def classify(folder: str | Path) -> tuple[str, list[Path]]:
    """("run", [folder]) or ("compare", its run folders in order); a :class:`ReportError` for anything else.

    A compare folder is one with a summary.csv that has a ``scenario`` column (as `alliance compare` writes
    it) beside run folders; a plain folder of runs (such as ``outputs/``) is not one."""
    import pandas as pd

    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such folder; {EXPECTED}")
    if (folder / RESULTS).exists():
        return "run", [folder]
    summary = folder / SUMMARY
    try:
        listed = list(dict.fromkeys(pd.read_csv(summary)["scenario"].astype(str))) if summary.is_file() else []
    except (OSError, KeyError, ValueError):
        raise ReportError(f"{summary}: expected the summary.csv of `alliance compare`, with a scenario column") \
            from None
    if not listed:
        raise ReportError(f"{folder}: not a run or compare folder (no {RESULTS}, no {SUMMARY} of scenarios); "
                          f"{EXPECTED}")
    dirs = compare_runs(folder)
    missing = [name for name in listed if name not in {d.name for d in dirs}]
    if missing:
        raise ReportError(f"{folder / missing[0] / RESULTS}: no such file; {summary} lists scenario "
                          f"{missing[0]!r}, expected its run folder here")
    return "compare", [d for d in dirs if d.name in listed]


def read_run(folder: Path, label: str) -> Run:
    """One run folder: results.nc (checked), manifest.json, the scenario's assumptions rebuilt from it."""
    ds = load_results(folder / RESULTS)  # a one-line RunDirError naming the file if damaged or foreign
    manifest = read_manifest(folder / MANIFEST)
    params, match = rebuild_params(manifest, folder / MANIFEST)
    description, notes = scenario_words(manifest)
    overrides = manifest.get("overrides") or {}
    return Run(label=label, folder=folder, dataset=ds, manifest=manifest, description=description, notes=notes,
               topics=assumptions(params, overrides if isinstance(overrides, dict) else {}),
               events=timeline(params), event_numbers=event_numbers(ds), headline=headline(ds),
               params_match=match, drivers=drivers(ds))


def read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ReportError(f"{path}: no such file; expected the manifest.json that `alliance run` writes beside "
                          f"{RESULTS}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:120]
        raise ReportError(f"{path}: damaged manifest, not JSON ({detail}); expected the manifest.json of "
                          "`alliance run`") from None
    if not isinstance(data, dict) or not isinstance(data.get("resolved_scenario"), dict):
        raise ReportError(f"{path}: resolved_scenario: expected a table of the scenario's parameters, as "
                          "`alliance run` writes")
    return data


def rebuild_params(manifest: dict[str, Any], path: Path):
    """The run's parameters from the manifest's resolved scenario (merged onto today's defaults), and
    whether their hash is the one the run recorded (False: the defaults changed since the run)."""
    from alliance_sim.scenario import ScenarioError, build_params, params_hash

    try:
        params = build_params(manifest["resolved_scenario"], f"{path}: resolved_scenario")
    except ScenarioError as exc:
        raise ReportError(f"{path}: resolved_scenario is not a valid scenario ({exc})") from None
    return params, params_hash(params) == manifest.get("scenario_hash")


def scenario_words(manifest: dict[str, Any]) -> tuple[str, str]:
    """The scenario's one-line purpose and its notes (the file's header comment): from the manifest, or
    for runs made before the manifest carried them, from the scenario file if it is still there."""
    description = str(manifest.get("scenario_description") or "")
    notes = str(manifest.get("scenario_notes") or "")
    if not (description or notes) and manifest.get("scenario_path"):
        from alliance_sim.scenario_files import header_of

        try:
            header = header_of(Path(manifest["scenario_path"]).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            header = ""
        notes = header
        description = header.splitlines()[0].strip() if header else ""
    return description, notes


def headline(ds: xr.Dataset) -> list[Headline]:
    from alliance_sim.results import headline_summary

    table = headline_summary(ds)
    return [Headline(ally=str(ally), median=r.final_alignment_median, p05=r.final_alignment_p05,
                     p95=r.final_alignment_p95, p_crossed=r.p_crossed_by_horizon,
                     first_cross=str(r.median_first_cross_month), final_cohesion=r.final_cohesion_median,
                     min_cohesion=r.min_cohesion_median) for ally, r in table.iterrows()]


def event_numbers(ds: xr.Dataset) -> dict[str, int]:
    """Calendar month -> the number its dashed line carries on the plots (:func:`plots.event_marks`)."""
    from alliance_sim.plots import event_marks

    months = [str(m) for m in ds.month.values]
    return {months[k]: n for n, (k, _) in enumerate(event_marks(ds), start=1)}


def drivers(ds: xr.Dataset) -> dict[str, list[Driver]]:
    """Per ally, each driver group's share of the change of alignment by the horizon and at its largest,
    largest at the horizon first; empty when the results have no driver attribution."""
    if DRIVER_VARIABLE not in ds:
        return {}
    da = ds[DRIVER_VARIABLE]
    if set(da.dims) != {"month", "ally", "driver"}:
        raise ReportError(f"{DRIVER_VARIABLE}: expected dimensions (month, ally, driver), got {tuple(da.dims)}")
    from alliance_sim import plots

    labels = getattr(plots, "DRIVER_LABELS", {})
    months = [str(m) for m in da.month.values]
    out = {}
    for ally in da.ally.values:
        sub = da.sel(ally=ally).transpose("month", "driver").values.astype(float)
        rows = []
        for j, d in enumerate(str(x) for x in da.driver.values):
            k = int(np.nanargmax(np.abs(sub[:, j]))) if np.isfinite(sub[:, j]).any() else len(months) - 1
            rows.append(Driver(d, labels.get(d, d.replace("_", " ")), float(sub[-1, j]), float(sub[k, j]), months[k]))
        out[str(ally)] = sorted(rows, key=lambda r: -abs(r.final))
    return out


def derive_question(kind: str, runs: list[Run]) -> str:
    """The analyst's question when none was given: the brief's question asked of the scenario, quoting its
    description (of a comparison: of the scenarios, whose descriptions head their sections)."""
    first = runs[0]
    allies = [actor_name(h.ally) for h in first.headline]
    who = allies[0] if len(allies) == 1 else ", ".join(allies[:-1]) + " or " + allies[-1]
    by = month_tick_label(first.horizon)
    if kind == "compare":
        names = [r.label for r in runs]
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        return (f"How do {listed} differ in the chance that {who} crosses to Beijing's side by {by}, "
                "and in what they do to trilateral cohesion?")
    purpose = first.description.strip().rstrip(".")
    under = f"{first.scenario} (“{purpose}”)" if purpose else first.scenario
    return (f"Under {under}, how likely is {who} to cross to Beijing's side by {by}, and how does trilateral "
            "cohesion hold up?")
