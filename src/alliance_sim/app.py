"""Browser dashboard with Mesa's SolaraViz: sliders for the main levers, live fan charts of alignment.

Run it with ``solara run src/alliance_sim/app.py`` (needs the ``viz`` extra: ``pip install -e '.[viz]'``).
Each Mesa step advances every replicate of the ensemble by a month, so the charts show the whole
distribution (median and 90 % band) building up, not a single world.  For teaching: move the US tariff
on Korea or the rate of North Korean provocations and press play.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import solara  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from mesa.visualization import SolaraViz, make_plot_component  # noqa: E402

from alliance_sim.model.model import AllianceModel  # noqa: E402
from alliance_sim.model.parameters import Parameters, RateStep, TariffStep  # noqa: E402

ALLY_COLOURS = {"JPN": "tab:red", "KOR": "tab:blue"}


class DashboardModel(AllianceModel):
    """The alliance model with a handful of slider-friendly keyword arguments (a small ensemble)."""

    def __init__(self, replicates: int = 300, months: int = 36, kor_tariff: float = 0.25,
                 jpn_tariff: float = 0.25, nk_rate: float = 1.5, kor_leader: float = -0.3,
                 jpn_leader: float = 0.0, china_inducement: float = -3.0, rng: int = 20250711):
        p = Parameters()
        p.simulation.months = int(months)
        p.population.size_per_ally = 0  # aggregate opinion keeps the dashboard responsive
        p.tariffs = [TariffStep(month="2025-04", target=a, rate=0.10) for a in ("JPN", "KOR")] + [
            TariffStep(month="2025-08", target="KOR", rate=float(kor_tariff), label="US tariff"),
            TariffStep(month="2025-08", target="JPN", rate=float(jpn_tariff)),
        ]
        p.threats["nk_provocations"].rate_schedule = [RateStep(month="2025-08", rate_per_month=float(nk_rate))]
        p.actors["KOR"].leader_orientation = float(kor_leader)
        p.actors["JPN"].leader_orientation = float(jpn_leader)
        p.china_policy.induce_base_utility = float(china_inducement)
        self.history: list[dict[str, np.ndarray]] = []
        super().__init__(p, replicate_ids=np.arange(int(replicates)), seed=int(rng))
        self._remember()

    def _remember(self) -> None:
        q = np.quantile(self.state.alignment, [0.05, 0.5, 0.95], axis=0)  # (3, A)
        self.history.append({"q": q, "cohesion": np.quantile(self.state.cohesion, [0.05, 0.5, 0.95])})

    def step(self) -> None:
        if self.finished:
            self.running = False
            return
        super().step()
        self._remember()


def alignment_fan(model: DashboardModel) -> Figure:
    """Median and 90 % band of each ally's alignment so far, with Beijing's side shaded."""
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    months = np.arange(len(model.history))
    qs = np.stack([h["q"] for h in model.history])  # (t, 3, A)
    for a, name in enumerate(model.compiled.allies):
        colour = ALLY_COLOURS.get(name)
        ax.fill_between(months, qs[:, 0, a], qs[:, 2, a], alpha=0.2, color=colour)
        ax.plot(months, qs[:, 1, a], color=colour, lw=2, label=f"{name} median")
    ax.axhspan(-1, 0, color="0.9", zorder=0)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.text(0.01, 0.04, "Beijing's side", transform=ax.transAxes, color="0.35", fontsize=8)
    ax.set_ylim(-1, 1)
    ax.set_xlim(0, max(model.compiled.months, 1))
    ax.set_xlabel(f"months since {model.compiled.month_labels[0]}")
    ax.set_ylabel("alignment (−1 Beijing … +1 Washington)")
    ax.set_title(f"Alignment, {model.state.replicates} replicates: median and 90 % band")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


@solara.component
def AlignmentFan(model):
    """SolaraViz component: redraws the fan chart at every step."""
    from mesa.visualization.utils import update_counter

    update_counter.get()  # re-render when the model steps
    solara.FigureMatplotlib(alignment_fan(model))


model_params = {
    "replicates": {"type": "SliderInt", "value": 300, "label": "Replicates", "min": 50, "max": 5000, "step": 50},
    "months": {"type": "SliderInt", "value": 36, "label": "Months", "min": 6, "max": 120, "step": 6},
    "kor_tariff": {"type": "SliderFloat", "value": 0.25, "label": "US tariff on Korea from Aug 2025",
                   "min": 0.0, "max": 0.6, "step": 0.05},
    "jpn_tariff": {"type": "SliderFloat", "value": 0.25, "label": "US tariff on Japan from Aug 2025",
                   "min": 0.0, "max": 0.6, "step": 0.05},
    "nk_rate": {"type": "SliderFloat", "value": 1.5, "label": "North Korean provocations / month",
                "min": 0.0, "max": 8.0, "step": 0.5},
    "kor_leader": {"type": "SliderFloat", "value": -0.3, "label": "Seoul's leader (−1 conciliatory … +1 hawk)",
                   "min": -1.0, "max": 1.0, "step": 0.1},
    "jpn_leader": {"type": "SliderFloat", "value": 0.0, "label": "Tokyo's leader (−1 conciliatory … +1 hawk)",
                   "min": -1.0, "max": 1.0, "step": 0.1},
    "china_inducement": {"type": "SliderFloat", "value": -3.0, "label": "China's appetite for inducement",
                         "min": -6.0, "max": 0.0, "step": 0.5},
}


def make_page(model: DashboardModel | None = None):
    """The SolaraViz page (a function so tests can build it without a server)."""
    model = model if model is not None else DashboardModel()
    crossing = make_plot_component({"share_crossed_JPN": "tab:red", "share_crossed_KOR": "tab:blue"})
    cohesion = make_plot_component("cohesion_median")
    return SolaraViz(model, components=[AlignmentFan, crossing, cohesion], model_params=model_params,
                     name="alliance-sim: US–Japan–South Korea alignment")


page = make_page()
