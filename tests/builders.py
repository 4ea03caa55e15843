"""Parameter sets shared by several test modules."""

import numpy as np

from alliance_sim.model.parameters import Actor, Parameters, ThreatProcess


def with_north_korea(p: Parameters) -> Parameters:
    """``p`` with North Korea as an adversary agent that causes the `nk_provocations` process."""
    p.actors["PRK"] = Actor(label="North Korea", role="adversary", provocation_rate_multiplier=4.0)
    p.ties = {**p.ties, "PRK-KOR": -0.7, "PRK-JPN": -0.5, "PRK-USA": -0.8, "PRK-CHN": 0.4}
    p.threats["nk_provocations"] = ThreatProcess(source="PRK", rate_per_month=1.5, mean_magnitude=0.05,
                                                 targets={"KOR": 1.0, "JPN": 0.8, "USA": 0.2})
    p.adversary_policy.provoke_base_utility = 0.0
    return p


def trajectory(model, read) -> np.ndarray:
    """(replicates, months + 1): ``read(model.state)`` at the start and after every step to the horizon."""
    out = [np.array(read(model.state), copy=True)]
    while not model.finished:
        model.step()
        out.append(np.array(read(model.state), copy=True))
    return np.stack(out, axis=1)
