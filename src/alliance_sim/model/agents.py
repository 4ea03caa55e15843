"""The country agents: Mesa agents whose state is a set of arrays over replicates.

One agent object stands for one country in all R replicates of a chunk; its ``decide`` runs the compiled
decision rule of its role (``model/step.py``) over all replicates and keeps the array of choices (one per
replicate), computed from the state at month t.  The model then applies all
choices at once (synchronous update), so the order in which Mesa calls the agents does not matter.
"""

from __future__ import annotations

import mesa
import numpy as np


class CountryAgent(mesa.Agent):
    """Base class: a named country whose role decides how it chooses."""

    role = "country"

    def __init__(self, model, name: str):
        super().__init__(model)
        self.name = name
        self.label = model.params.actors[name].label or name
        self.last_decision: np.ndarray | None = None

    @property
    def actor_index(self) -> int:
        return self.model.compiled.actors.index(self.name)

    def decide(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def step(self) -> None:
        """Mesa's per-agent step: decide from the current (month t) state."""
        self.decide()


class PatronAgent(CountryAgent):
    """The United States: tariff escalation or relief and burden demands, per ally."""

    role = "patron"

    def decide(self) -> None:
        m = self.model
        self.last_decision = m.sim.decide_patron()


class AllyAgent(CountryAgent):
    """Japan, South Korea, …: concede, hedge, retaliate or play a bargaining chip."""

    role = "ally"

    def __init__(self, model, name: str):
        super().__init__(model, name)
        self.ally_position = model.compiled.allies.index(name)

    @property
    def alignment(self) -> np.ndarray:
        """This ally's alignment in every replicate (R,): > 0 toward the patron."""
        return self.model.state.alignment[:, self.ally_position]

    def decide(self) -> None:
        m = self.model
        self.last_decision = m.sim.decide_ally(self.ally_position)


class ChallengerAgent(CountryAgent):
    """China: inducement or coercion toward each ally."""

    role = "challenger"

    def decide(self) -> None:
        m = self.model
        self.last_decision = m.sim.decide_challenger()


class AdversaryAgent(CountryAgent):
    """An adversary such as North Korea: restrain or provoke (scales its threat processes)."""

    role = "adversary"

    def __init__(self, model, name: str):
        super().__init__(model, name)
        self.adversary_position = list(model.compiled.actors[i] for i in
                                       model.compiled.adversary_idx).index(name)

    def decide(self) -> None:
        m = self.model
        self.last_decision = m.sim.decide_adversary(self.adversary_position)


AGENT_CLASSES = {"patron": PatronAgent, "ally": AllyAgent, "challenger": ChallengerAgent,
                 "adversary": AdversaryAgent}
