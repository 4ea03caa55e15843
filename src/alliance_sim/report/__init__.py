"""``alliance report FOLDER``: a self-contained HTML briefing of one page (and a PDF of it) from a run or
compare folder: the question, the scenario's assumptions and dated events in plain words, the headline
figures, the charts (embedded PNG), driver attribution when the results have it, and provenance.

* :mod:`.context` gathers the facts from the folder,
* :mod:`.assumptions` puts a scenario's parameters into words,
* :mod:`.figures` draws the charts as ``data:`` PNGs,
* :mod:`.render` fills the Jinja2 templates (``templates/``),
* :mod:`.pdf` turns the page into PDF with WeasyPrint (optional extra ``pdf``).

Outputs are written atomically (a temporary file renamed into place), and only after everything,
PDF included, has been rendered: a failure leaves nothing half-written.
"""

from __future__ import annotations

from pathlib import Path

from alliance_sim.report.context import Report, ReportError, classify, gather

__all__ = ["Report", "ReportError", "build", "make_report", "DEFAULT_NAME"]

DEFAULT_NAME = "report.html"


def build(folder: str | Path, question: str | None = None) -> tuple[Report, str]:
    """The gathered report (figures drawn) and its HTML."""
    from alliance_sim.report.figures import compare_figures, run_figures
    from alliance_sim.report.render import render_html

    report = gather(folder, question)
    report.figures = compare_figures(report) if report.kind == "compare" else run_figures(report)
    return report, render_html(report)


def make_report(folder: str | Path, out: str | Path | None = None, *, pdf: bool = False,
                question: str | None = None) -> list[Path]:
    """Write ``report.html`` (default: inside ``folder``; or ``out``) and, with ``pdf``, the PDF beside it
    (same name, ``.pdf``).  Returns the paths written."""
    from alliance_sim.writer import atomic_file

    folder = Path(folder)
    classify(folder)  # the folder first: a missing one is not a bad --out
    html_path = Path(out) if out is not None else folder / DEFAULT_NAME
    if html_path.suffix.lower() == ".pdf":
        raise ReportError(f"--out: {html_path}: expected the HTML file's name (e.g. report.html); --pdf writes "
                          "the PDF beside it")
    if html_path.is_dir():
        raise ReportError(f"--out: {html_path} is a folder; expected a file name such as {html_path / DEFAULT_NAME}")
    if not html_path.parent.is_dir():
        raise ReportError(f"--out: {html_path.parent}: no such folder")
    if pdf:
        from alliance_sim.report.pdf import weasyprint

        weasyprint()  # before any work: say how to install it
    _, html = build(folder, question)
    outputs = {html_path: html.encode("utf-8")}
    if pdf:
        from alliance_sim.report.pdf import html_to_pdf

        outputs[html_path.with_suffix(".pdf")] = html_to_pdf(html)
    written = []
    for path, data in outputs.items():
        with atomic_file(path, need_bytes=len(data) + 2**16) as tmp:
            tmp.write_bytes(data)
        written.append(path)
    return written
