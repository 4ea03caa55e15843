"""The report page: Jinja2 templates (autoescaped) around the gathered facts, with the stylesheet inline
and a Content-Security-Policy that lets the page load nothing but its own inline style (by hash) and
``data:`` images: no scripts, fonts, frames or remote requests of any kind."""

from __future__ import annotations

import base64
import hashlib

import jinja2

from alliance_sim.plots import actor_name, month_tick_label

TEMPLATES = "templates"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("alliance_sim.report", TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "html.j2", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(signed=signed, pct=pct, num=num, points=points, month=month_tick_label, actor=actor_name)
    return env


def signed(value: float, digits: int = 2) -> str:
    """+0.39 / −0.02 (a true minus sign); a value that rounds to zero is +0.00, not −0.00."""
    if round(value, digits) == 0:
        value = 0.0
    return f"{value:+.{digits}f}".replace("-", "−")


def pct(value: float) -> str:
    """0.11 -> '11%' (as the CLI's table prints it)."""
    return f"{value:.0%}"


def points(diff: float) -> str:
    """A difference of probabilities in percentage points: +8 points / −3 points / ±0 points."""
    k = round(100 * diff)
    return "±0 points" if k == 0 else f"{k:+d} points".replace("-", "−")


def num(value: float, digits: int = 2) -> str:
    if round(value, digits) == 0:
        value = 0.0
    return f"{value:.{digits}f}".replace("-", "−")


def csp(style: str) -> str:
    """The page's policy: nothing by default; the one inline stylesheet (by its sha256) and data: images."""
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; base-uri 'none'; "
            "form-action 'none'")


def render_html(report) -> str:
    """The whole page as one HTML string."""
    env = environment()
    style = env.loader.get_source(env, "report.css")[0].strip()
    return env.get_template("report.html.j2").render(r=report, style=style, csp=csp(style))
