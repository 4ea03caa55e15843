"""AllianceModel is a first-class Mesa model on the compiled step: Mesa agents that decide, a DataCollector
that records every step, and Mesa's SolaraViz accepting it."""

from __future__ import annotations

import mesa
import numpy as np

from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import Parameters


def _model(R: int = 64) -> AllianceModel:
    p = Parameters()
    p.population.size_per_ally = 10
    p.simulation.months = 6
    return AllianceModel(p, replicate_ids=np.arange(R), seed=3)


def test_agents_are_mesa_agents_whose_decisions_the_step_applies():
    m = _model()
    assert isinstance(m, mesa.Model)
    roles = sorted(a.role for a in m.agents)
    assert roles == ["ally", "ally", "challenger", "patron"] and all(isinstance(a, mesa.Agent) for a in m.agents)
    m.step()
    ally = m.agent("KOR")
    # The choices the agent made are the ones the compiled state holds as last month's.
    np.testing.assert_array_equal(ally.last_decision, m.state.ally_last[:, ally.ally_position])
    assert len(set(ally.last_decision.tolist())) > 1  # replicates differ: the choice is really per replicate


def test_datacollector_records_each_step_and_solaraviz_accepts_the_model():
    m = _model()
    for _ in range(3):
        m.step()
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == 4 and list(df["month"][:2]) == [m.compiled.month_labels[0], m.compiled.month_labels[1]]
    np.testing.assert_allclose(df["alignment_median_KOR"].iloc[-1], np.median(m.state.alignment[:, 1]))
    from mesa.visualization import SolaraViz, make_plot_component

    page = SolaraViz(m, components=[make_plot_component("cohesion_median")], name="alliance")
    assert page is not None
