"""The parameter reference (docs/parameters.md), generated from the pydantic tree.

Every row comes from :class:`alliance_sim.model.parameters.Parameters`: the field's description, default,
bounds (``ge``/``le``/``gt``/``lt`` metadata) and the ``unit`` and ``source`` in its
``json_schema_extra``.  ``tests/test_docs.py`` checks that docs/parameters.md equals
:func:`parameter_table_markdown`, so the docs cannot drift from the code.  Regenerate with::

    .venv/bin/python -m alliance_sim.parameter_table > docs/parameters.md
"""

from __future__ import annotations

import csv
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from alliance_sim.model import compiled as _compiled
from alliance_sim.model import parameters as P
from alliance_sim.model.compiled import stationary_stock

REGENERATE = ".venv/bin/python -m alliance_sim.parameter_table > docs/parameters.md"


@dataclass(frozen=True)
class Row:
    """One documented leaf parameter."""

    block: str
    name: str  # dotted name as in scenario files and ``--set``
    unit: str
    default: str
    range: str
    description: str
    source: str


# Parameters-level fields that are leaves (not nested blocks) carry no json_schema_extra of their own:
# their unit, source and description are stated here (and reported as missing from the code).
_TOP_LEVEL_LEAVES = {
    "ties": dict(
        name="ties.<A-B>",
        unit="tie units, -1 (hostile) .. +1 (allied)",
        range="[-1, 1]",
        description="Initial signed tie between actors A and B (symmetric; unlisted pairs start at 0). "
                    "The tie intercepts are calibrated so that these values are the equilibrium of the "
                    "start-month forces (docs/model.md, Initialization).",
        source="assumption: ordinal judgement of 2025 relations (US–JPN and US–KOR close, JPN–KOR "
               "improving since 2023, US–CHN rivalry); to calibrate",
    ),
}

BLOCK_TITLES = {
    "simulation": "Simulation",
    "actors": "Actors",
    "ties": "Ties",
    "threats": "Threat processes",
    "tariffs": "Tariff schedule entries",
    "demands": "Burden-sharing demand entries",
    "events": "Scripted event entries",
    "mechanisms": "Mechanisms",
    "population": "Population (citizens)",
    "us_policy": "US (patron) policy",
    "ally_policy": "Ally policy",
    "china_policy": "China (challenger) policy",
    "adversary_policy": "Adversary policy",
}

# How the name of an item of a mapping / list block is written.
_ITEM = {"actors": "<ID>", "threats": "<name>"}


# ------------------------------------------------------------------------------------ formatting


def _esc(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def fmt_value(value) -> str:
    """A default value as it appears in the tables (scenario-file spelling)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        if not value:
            return "{}"
        return ", ".join(f"{k} {fmt_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[" + ", ".join(fmt_value(v) for v in value) + "]"
    if isinstance(value, BaseModel):
        return type(value).__name__
    return str(value)


def fmt_range(info: FieldInfo) -> str:
    """Bounds from the field metadata: ``[0, 1]``, ``(0, 240]``, ``≥ 0``, or the allowed literals."""
    lo, hi, lo_open, hi_open = P.field_bounds(info)
    if typing.get_origin(info.annotation) is typing.Literal:
        return " / ".join(str(a) for a in typing.get_args(info.annotation))
    if lo is None and hi is None:
        return "-"
    if hi is None:
        return f"{'>' if lo_open else '≥'} {lo}"
    if lo is None:
        return f"{'<' if hi_open else '≤'} {hi}"
    return f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"


def _extra(info: FieldInfo) -> dict:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _default(info: FieldInfo):
    if info.default_factory is not None:
        return info.default_factory()
    return info.default


# ------------------------------------------------------------------------------------ the walk


def _model_in(annotation) -> type[BaseModel] | None:
    """The BaseModel class of ``Model`` or ``Model | None``, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) == 1:
            return models[0]
    return None


def _container_item_model(annotation) -> tuple[str, type[BaseModel]] | None:
    """('dict', Model) for dict[str, Model], ('list', Model) for list[Model], else None."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and len(args) == 2 and _model_in(args[1]) is not None:
        return "dict", _model_in(args[1])
    if origin is list and len(args) == 1 and _model_in(args[0]) is not None:
        return "list", _model_in(args[0])
    return None


_DICT_KEY_NAMES = {"sector_shares": "<sector>", "targets": "<ID>"}


def model_rows(model: type[BaseModel], prefix: str, block: str) -> list[Row]:
    """Rows of every leaf field of ``model`` (recursively), named ``prefix.field``."""
    rows: list[Row] = []
    for fname, info in model.model_fields.items():
        name = f"{prefix}.{fname}" if prefix else fname
        nested = _model_in(info.annotation)
        container = _container_item_model(info.annotation)
        if container is not None:
            kind, item = container
            sub = f"{name}[i]" if kind == "list" else f"{name}.<key>"
            rows.extend(model_rows(item, sub, block))
            continue
        if nested is not None and info.annotation is nested:
            # A required nested block (e.g. ``public``): its leaves carry the documentation.
            rows.extend(model_rows(nested, name, block))
            continue
        extra = _extra(info)
        if typing.get_origin(info.annotation) is dict:
            name = f"{name}.{_DICT_KEY_NAMES.get(fname, '<key>')}"
        rows.append(Row(block=block, name=name, unit=extra.get("unit", ""), default=fmt_value(_default(info)),
                        range=fmt_range(info), description=info.description or "",
                        source=extra.get("source", "")))
        if nested is not None:  # optional nested block (e.g. ``bargaining_chip``): row, then its leaves
            rows.extend(model_rows(nested, name, block))
    return rows


def block_rows(block: str) -> list[Row]:
    """Rows of one top-level block of :class:`Parameters`."""
    info = P.Parameters.model_fields[block]
    if block in _TOP_LEVEL_LEAVES:
        d = _TOP_LEVEL_LEAVES[block]
        return [Row(block=block, name=d["name"], unit=d["unit"], default="see table below",
                    range=d["range"], description=d["description"], source=d["source"])]
    container = _container_item_model(info.annotation)
    if container is not None:
        kind, item = container
        prefix = f"{block}[i]" if kind == "list" else f"{block}.{_ITEM.get(block, '<key>')}"
        return model_rows(item, prefix, block)
    nested = _model_in(info.annotation)
    return model_rows(nested, block, block)


def all_rows() -> list[Row]:
    """Every documented leaf parameter, block by block in the order of :class:`Parameters`."""
    rows: list[Row] = []
    for block in P.Parameters.model_fields:
        rows.extend(block_rows(block))
    return rows


# ------------------------------------------------------------------------------------ rendering


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_esc(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _rows_table(rows: list[Row]) -> str:
    return _table(["name", "unit", "default", "range", "description", "source / rationale"],
                  [[f"`{r.name}`", r.unit, r.default, r.range, r.description, r.source] for r in rows])


def _flat_values(obj: BaseModel | None, model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Leaf values of one instance, keyed by the field path below the actor (``public.favorable_us_share``)."""
    out: dict[str, str] = {}
    for fname, info in model.model_fields.items():
        key = f"{prefix}{fname}"
        value = getattr(obj, fname) if obj is not None else None
        nested = _model_in(info.annotation)
        if nested is not None and info.annotation is nested:
            out.update(_flat_values(value, nested, f"{key}."))
            continue
        out[key] = fmt_value(value) if obj is not None else "-"
        if nested is not None:
            out.update(_flat_values(value, nested, f"{key}."))
    return out


def actor_defaults_table() -> str:
    actors = P.default_actors()
    flat = {name: _flat_values(a, P.Actor) for name, a in actors.items()}
    keys = [k for k in next(iter(flat.values())) if any(flat[n][k] != "-" for n in actors)]
    return _table(["field"] + [f"`{n}`" for n in actors], [[f"`{k}`"] + [flat[n][k] for n in actors] for k in keys])


def ties_defaults_table() -> str:
    return _table(["pair", "initial tie"], [[f"`ties.{k}`", fmt_value(v)] for k, v in P.default_ties().items()])


def threat_defaults_table() -> str:
    rows = []
    for name, proc in P.default_threats().items():
        rows.append([f"`threats.{name}`", proc.source, fmt_value(proc.rate_per_month),
                     fmt_value(proc.mean_magnitude), fmt_value(proc.targets)])
    return _table(["process", "source", "rate_per_month", "mean_magnitude", "targets (perception weight)"], rows)


def stationary_threat_table() -> str:
    """Start-month perceived threat implied by the default processes (the equilibrium-start stock)."""
    params = P.Parameters()
    c = _compiled.compile_parameters(params, months=1)
    stock = stationary_stock(c.proc_rate[0], c.proc_magnitude, c.proc_weights, c.proc_source, len(c.sources),
                             c.retention)
    total = -np.expm1(-stock.sum(axis=-1))  # perceived threat 1 − e^−stock, docs/model.md §7.2
    header = ["actor"] + [f"stock from {s}" for s in c.sources] + ["perceived threat P"]
    rows = [[f"`{a}`"] + [f"{stock[i, k]:.3f}" for k in range(len(c.sources))] + [f"{total[i]:.3f}"]
            for i, a in enumerate(c.actors)]
    return _table(header, rows)


def group_sensitivity_table() -> str:
    names = {"tariff": _compiled.GROUP_TARIFF_SENSITIVITY, "threat": _compiled.GROUP_THREAT_SENSITIVITY,
             "coercion backlash": _compiled.GROUP_BACKLASH_SENSITIVITY,
             "inducement appeal": _compiled.GROUP_APPEAL_SENSITIVITY}
    rows = [[f"`{g}`"] + [fmt_value(float(arr[k])) for arr in names.values()]
            for k, g in enumerate(_compiled.GROUPS)]
    return _table(["group"] + [f"{n} sensitivity s_g" for n in names], rows)


def options_table() -> str:
    opts = {"patron (per ally)": _compiled.US_OPTIONS, "ally": _compiled.ALLY_OPTIONS,
            "challenger (per ally)": _compiled.CHINA_OPTIONS, "adversary": _compiled.ADVERSARY_OPTIONS}
    return _table(["agent", "options (index: name)"],
                  [[k, ", ".join(f"{i}: {o}" for i, o in enumerate(v))] for k, v in opts.items()])


POSTERIORS = Path(__file__).resolve().parents[2] / "calibrations" / "posteriors"


def _num(x: str) -> str:
    return f"{float(x):.3g}"


def posterior_table() -> str:
    """Calibrated parameters: each shipped calibration's posterior (calibrations/posteriors/<name>.csv, the
    ``posterior_summary.csv`` of ``alliance calibrate``) beside its prior and the default.  Empty outside a
    source checkout (the summaries are not package data)."""
    if not POSTERIORS.is_dir():
        return ""
    defaults = {r.name: r.default for r in all_rows()}
    rows = []
    for path in sorted(POSTERIORS.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                rows.append([f"`{r['parameter']}`", defaults.get(r["parameter"], "the scenario's"),
                             f"`calibrations/{path.stem}.toml`", r["prior"],
                             f"[{_num(r['prior_p05'])}, {_num(r['prior_p95'])}]",
                             f"{_num(r['posterior_median'])} [{_num(r['posterior_p05'])}, {_num(r['posterior_p95'])}]",
                             f"{float(r['posterior_mean']):.3g}", f"{float(r['interval_ratio']):.2f}"])
    if not rows:
        return ""
    return _table(["parameter", "default", "calibration", "prior", "prior 90 %", "posterior median [90 %]",
                   "posterior mean", "width ratio"], rows)


def parameter_table_markdown() -> str:
    """docs/parameters.md: one table per block, default values, and the constant tables of compiled.py."""
    parts = [
        "# Parameter reference",
        "",
        "<!-- Generated by alliance_sim.parameter_table; do not edit by hand. Regenerate with:",
        f"     {REGENERATE} -->",
        "",
        "Every parameter of a scenario, generated from the pydantic tree "
        "`alliance_sim.model.parameters.Parameters`, so this page cannot drift from the code "
        "(`tests/test_docs.py` checks it). Names are the dotted paths used in scenario files and `--set`: "
        "`<ID>` is an actor id (`USA`, `CHN`, `JPN`, `KOR`, …), `<name>` a threat-process name, `[i]` an "
        "entry of a list, `<key>`/`<sector>` a key of a mapping. Rates and shares are fractions "
        "(0.25 = 25 %); defence figures are percent of GDP; \"logit units\" are additive terms inside "
        "`tanh` (ties) or inside a logit choice (decisions). \"assumption\" marks a value chosen for "
        "plausibility, not estimated: those are the parameters most in need of calibration "
        "(docs/model.md, Limitations). Sources are expanded in docs/model.md, Input data.",
        "",
    ]
    for block in P.Parameters.model_fields:
        parts += [f"## {BLOCK_TITLES.get(block, block)} (`{block}`)", ""]
        doc = (P.Parameters.model_fields[block].annotation.__doc__ or "") if block not in _TOP_LEVEL_LEAVES else ""
        container = _container_item_model(P.Parameters.model_fields[block].annotation)
        if container is not None:
            doc = container[1].__doc__ or ""
        if doc:
            parts += [" ".join(doc.split()), ""]
        parts += [_rows_table(block_rows(block)), ""]
        if block == "actors":
            parts += ["### Default actors", "",
                      "Values of the default actors (`alliance_sim.model.parameters.default_actors`); a scenario "
                      "that lists `[actors.<ID>]` replaces the whole actor. Ally-only fields are ignored for "
                      "the patron and the challenger.", "", actor_defaults_table(), ""]
        elif block == "ties":
            parts += ["### Default ties", "", ties_defaults_table(), ""]
        elif block == "threats":
            parts += ["### Default threat processes", "", threat_defaults_table(), "",
                      "### Start-month threat stock at the defaults", "",
                      "The stock starts at its stationary level Σ_k w_ki·λ_k·m_k / (1 − ρ), "
                      "ρ = 2^(−1 / `mechanisms.threat_half_life_months`); perceived threat "
                      "P_i = 1 − exp(−Σ_s H_is).", "", stationary_threat_table(), ""]
        elif block == "population":
            parts += ["### Citizen group sensitivities (constants)", "",
                      "Not parameters: constants in `alliance_sim.model.compiled` (`GROUPS`, "
                      "`GROUP_*_SENSITIVITY`), multiplying each common shock by the citizen's group. "
                      "Group shares are `population.share_exporters`, `population.share_security_minded`, "
                      "`population.share_nationalists`; the rest are `general`. Source: assumption "
                      "(exporters feel tariffs and value Chinese market access, security-minded citizens "
                      "feel threat, nationalists react to slights and coercion).", "",
                      group_sensitivity_table(), ""]
        elif block == "adversary_policy":
            parts += ["## Decision options (constants)", "",
                      "Option indices as recorded in the decision outputs (`alliance_sim.model.compiled`).", "",
                      options_table(), ""]
    posteriors = posterior_table()
    if posteriors:
        parts += ["## Calibrated parameters", "",
                  "Posteriors of the shipped calibrations (docs/calibration.md), from "
                  "`calibrations/posteriors/<name>.csv` (the `posterior_summary.csv` that `alliance calibrate` "
                  "writes). The defaults above are not replaced: a run uses a posterior only when asked "
                  "(`alliance run SCENARIO --posterior DIR/posterior.nc`). Width ratio: posterior 90 % interval "
                  "over the prior's (1 = the data say nothing).", "", posteriors, ""]
    return "\n".join(parts).rstrip() + "\n"


def main() -> None:
    import sys

    sys.stdout.write(parameter_table_markdown())


if __name__ == "__main__":
    main()
