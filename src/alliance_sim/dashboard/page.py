"""The Solara page: scenario picker, seed, sliders with their values and units, Step / Reset, the
charts and the agents' log.  ``Page`` is what Solara serves; everything a visitor changes lives in
that visitor's own :class:`~alliance_sim.dashboard.session.Session` (component state, not a module
global), so visitors never share a model.
"""

from __future__ import annotations

import functools
import html
import os

import solara

from alliance_sim.dashboard import figures
from alliance_sim.dashboard.session import Session, Settings
from alliance_sim.plots import actor_name
from alliance_sim.scenario import list_scenarios, load_scenario

SCENARIO_ENV = "ALLIANCE_DASHBOARD_SCENARIO"  # set by `alliance dashboard SCENARIO`
DEFAULT_SCENARIO = "tariff_shock_2025"
DEFAULT_REPLICATES = 1000
THREAT_NAMES = {"nk_provocations": "North Korean provocations", "china_grey_zone": "Chinese grey-zone activity",
                "russia_nk_cooperation": "Russia–North Korea cooperation"}


def start_scenario() -> str:
    return os.environ.get(SCENARIO_ENV) or DEFAULT_SCENARIO


@functools.cache
def shipped() -> dict[str, str]:
    """Shipped scenario -> one-line purpose (read once: parsing every file on each render is slow)."""
    return dict(list_scenarios())


def scenario_choices(current: str) -> list[str]:
    """The shipped scenarios, plus the one given on the command line if it is a file."""
    names = list(shipped())
    return names if current in names else [current, *names]


def new_session(name: str) -> Session:
    return Session(load_scenario(name), Settings(replicates=DEFAULT_REPLICATES))


@solara.component
def Labelled(text: str, value: str):
    """A slider's caption on its own line, with the current value and unit in bold."""
    Html(f"{html.escape(text)}: <b>{html.escape(value)}</b>", style="font-size: 13px; margin-bottom: -14px")


@solara.component
def Slider(kind, css_class: str, **kwargs):
    """A slider without an inline label (captions go above: inline ones squeeze the track), inside a
    box with a CSS class the browser test can find."""
    with solara.Column(classes=[css_class], gap="0px"):
        kind("", thumb_label=False, **kwargs)


@solara.component
def Controls(session: Session, name: str, generation: int, refresh, on_scenario):
    """The settings.  ``generation`` (the session's, new with every change of settings) is passed so the
    captions re-render then and only then: reacton compares callbacks by code, so new closures alone
    do not re-render it, and a Step need not."""
    st = session.settings
    params = session.scenario.params
    with solara.Card("Scenario", margin=0, elevation=1):
        solara.Select(label="Scenario", values=scenario_choices(name), value=name, on_value=on_scenario,
                      classes=["scenario-picker"])
        Html(f"<i>{html.escape(_describe(name))}</i>", style="font-size: 12px")

        def set_seed(v):
            session.change(seed=int(v))
            refresh()

        solara.InputInt("Seed", value=int(session.params.simulation.seed), on_value=set_seed,
                        classes=["seed-input"])
        Labelled("Replicates", f"{st.replicates:,} worlds")

        def set_reps(v):
            session.change(replicates=int(v))
            refresh()

        Slider(solara.SliderInt, "slider-replicates", value=st.replicates, min=100, max=5000, step=100,
               on_value=set_reps)
    with solara.Card("US tariffs", margin=0, elevation=1):
        for ally in params.allies:
            pp = st.extra_tariff.get(ally, 0.0)
            Labelled(f"On {actor_name(ally)}, added to the scenario's schedule", f"{pp:+.0f} percentage points")

            def set_tariff(v, ally=ally):
                session.change(extra_tariff={**session.settings.extra_tariff, ally: float(v)})
                refresh()

            Slider(solara.SliderFloat, f"slider-tariff-{ally}", value=pp, min=-25, max=50, step=5,
                   on_value=set_tariff)
    with solara.Card("Threats", margin=0, elevation=1):
        for proc_name, proc in params.threats.items():
            k = st.threat_scale.get(proc_name, 1.0)
            Labelled(THREAT_NAMES.get(proc_name, proc_name.replace("_", " ")),
                     f"×{k:.2f} → {proc.rate_per_month * k:.2f} events / month")

            def set_threat(v, proc_name=proc_name):
                session.change(threat_scale={**session.settings.threat_scale, proc_name: float(v)})
                refresh()

            Slider(solara.SliderFloat, f"slider-threat-{proc_name}", value=k, min=0, max=4, step=0.25,
                   on_value=set_threat)
    with solara.Card("Leaders and China", margin=0, elevation=1):
        for ally in params.allies:
            v = st.leader.get(ally, params.actors[ally].leader_orientation)
            Labelled(f"{actor_name(ally)}'s leader at the start (−1 conciliatory … +1 hawk)", f"{v:+.1f}")

            def set_leader(x, ally=ally):
                session.change(leader={**session.settings.leader, ally: float(x)})
                refresh()

            Slider(solara.SliderFloat, f"slider-leader-{ally}", value=v, min=-1, max=1, step=0.1,
                   on_value=set_leader)
        pol = params.china_policy
        induce = pol.induce_base_utility if st.induce is None else st.induce
        coerce = pol.coerce_base_utility if st.coerce is None else st.coerce
        Labelled("China's appetite for inducement", f"{induce:+.1f} (logit utility)")

        def set_induce(v):
            session.change(induce=float(v))
            refresh()

        Slider(solara.SliderFloat, "slider-induce", value=induce, min=-8, max=2, step=0.5, on_value=set_induce)
        Labelled("China's appetite for coercion", f"{coerce:+.1f} (logit utility)")

        def set_coerce(v):
            session.change(coerce=float(v))
            refresh()

        Slider(solara.SliderFloat, "slider-coerce", value=coerce, min=-8, max=2, step=0.5, on_value=set_coerce)


def _describe(name: str) -> str:
    return shipped().get(name, "a scenario file")


@solara.component
def Page():
    name, set_name = solara.use_state(start_scenario())
    session = solara.use_memo(lambda: new_session(start_scenario()), [])
    version, set_version = solara.use_state(0)

    def refresh():
        set_version(lambda v: v + 1)

    def on_scenario(new: str):
        session.load(load_scenario(new))
        set_name(new)
        refresh()

    def step(months: int = 1):
        session.advance(months)
        refresh()

    def reset():
        session.reset()
        refresh()

    charts = solara.use_memo(lambda: (figures.Overview(session), figures.Network(session)),
                             [session.generation, name])
    images = solara.use_memo(lambda: (charts[0].png(), charts[1].png()), [version, session.generation, name])
    solara.Title("alliance-sim dashboard")
    c = session.model.compiled
    with solara.Row(style={"align-items": "flex-start", "flex-wrap": "nowrap"}, gap="12px"):
        with solara.Column(style={"flex": "0 0 330px", "max-height": "100vh", "overflow-y": "auto"},
                           classes=["controls"]):
            Controls(session, name, session.generation, refresh, on_scenario)
        with solara.Column(style={"flex": "1 1 auto", "min-width": "0", "padding-top": "8px"}):
            Html("<b>alliance-sim</b>: will Japan and South Korea stay with Washington? "
                 f"{html.escape(session.scenario.name)}, {session.model.state.replicates:,} simulated worlds",
                 style="font-size: 18px")
            with solara.Row(style={"align-items": "center"}):
                solara.Button("Step one month", on_click=lambda: step(1), color="primary",
                              disabled=session.finished, classes=["step-button"])
                solara.Button("+6 months", on_click=lambda: step(6), disabled=session.finished,
                              classes=["step6-button"])
                solara.Button("Reset", on_click=reset, classes=["reset-button"])
                solara.Text(f"{figures.month_tick_label(session.month_label())} — month {session.month} of "
                            f"{c.months}; last model step {session.step_seconds * 1000:.0f} ms",
                            classes=["status-line"])
            with solara.Row(style={"align-items": "flex-start"}):
                with solara.Column(style={"flex": "3 1 640px"}, classes=["overview-chart"]):
                    solara.Image(images[0], width="100%")
                with solara.Column(style={"flex": "1 1 280px"}, classes=["network-chart"]):
                    solara.Image(images[1], width="100%")
            with solara.Row(style={"align-items": "flex-start"}):
                with solara.Column(style={"flex": "1 1 360px"}, classes=["event-list"]):
                    events = figures.event_key(session)
                    Html("<b>Dated events</b> (numbered on the charts)"
                         + (_list([f"{when}: {what}" for _, when, what in events], ordered=True) if events
                            else "<p>none within the horizon</p>"))
                with solara.Column(style={"flex": "2 1 520px"}, classes=["decision-log"]):
                    if session.log:
                        decided = figures.month_tick_label(session.month_label(session.month - 1))
                        Html(f"<b>What the agents decided in {decided}</b> (share of runs; why: the largest "
                             "utility terms of the most common choice against holding, median over the runs that "
                             "made it)" + _list([e.text() for e in session.log]))
                    else:
                        Html("<b>Agents' decisions</b>: press <i>Step one month</i>.")


def _list(items: list[str], ordered: bool = False) -> str:
    tag = "ol" if ordered else "ul"
    return (f'<{tag} style="padding-left: 20px; margin-top: 4px">'
            + "".join(f'<li style="margin-bottom: 3px">{html.escape(x)}</li>' for x in items) + f"</{tag}>")


@solara.component
def Html(markup: str, style: str = "font-size: 14px"):
    """Trusted markup built here (every piece of text escaped); solara.Markdown would load KaTeX from
    a CDN, which solara-assets does not ship."""
    solara.HTML(tag="div", unsafe_innerHTML=markup, style=style)
