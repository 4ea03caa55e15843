"""Memory of a breach of trust (step.trust_scar_update, step.remembered_reliability_target): analytic cases, and
hysteresis in a run where a tariff is imposed for a year and lifted.

The scar keeps ``trust_persistent_share`` of the worst recent loss of perceived reliability (logit units) and
heals at ``trust_heal_rate`` a month; it binds only where it exceeds today's loss, so it changes nothing while a
shock lasts and keeps reliability below the start after the shock is lifted.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import trajectory

from alliance_sim.model.calendar import add_months
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import Parameters, TariffStep
from alliance_sim.model.step import remembered_reliability_target, trust_scar_update

LATENT0 = 1.2


def test_the_scar_keeps_a_share_of_the_worst_loss_and_heals_geometrically():
    scar = trust_scar_update(0.0, 0.05, 0.3, LATENT0, LATENT0 - 1.0)  # a loss of 1 logit unit
    assert scar == pytest.approx(0.3)
    scar = trust_scar_update(scar, 0.05, 0.3, LATENT0, LATENT0 - 0.5)  # a smaller loss: the worst is kept
    assert scar == pytest.approx(0.3 * 0.95)
    for _ in range(10):  # the shock is over: only healing
        scar = trust_scar_update(scar, 0.05, 0.3, LATENT0, LATENT0 + 0.2)
    assert scar == pytest.approx(0.3 * 0.95**11)
    assert trust_scar_update(0.0, 0.05, 0.0, LATENT0, LATENT0 - 1.0) == 0.0  # share 0: no memory


def test_the_scar_binds_only_once_the_shock_eases():
    assert remembered_reliability_target(LATENT0 - 1.0, LATENT0, 0.3) == LATENT0 - 1.0  # during the shock
    assert remembered_reliability_target(LATENT0, LATENT0, 0.3) == pytest.approx(LATENT0 - 0.3)  # lifted
    assert remembered_reliability_target(LATENT0 - 0.1, LATENT0, 0.3) == pytest.approx(LATENT0 - 0.3)  # eased
    assert remembered_reliability_target(LATENT0 + 0.4, LATENT0, 0.3) == pytest.approx(LATENT0 + 0.1)  # better
    assert remembered_reliability_target(LATENT0 + 0.4, LATENT0, 0.0) == LATENT0 + 0.4  # no scar, no change


START, MONTHS, R = "2025-07", 48, 24


def _reliability(share: float) -> np.ndarray:
    """Korea's reliability (replicates, months + 1) when a 25 % tariff is imposed at month 2 and lifted at 14."""
    p = Parameters()
    p.population.size_per_ally = 0
    p.us_policy.mode = "scripted"
    p.mechanisms.trust_persistent_share = share
    p.tariffs = [TariffStep(month=add_months(START, 2), target="KOR", rate=0.25),
                 TariffStep(month=add_months(START, 14), target="KOR", rate=0.0)]
    m = AllianceModel(p, replicate_ids=np.arange(R), months=MONTHS, collect=False, attribution=False)
    kor = m.compiled.allies.index("KOR")
    return trajectory(m, lambda s: s.reliability[:, kor])


def test_a_lifted_tariff_leaves_trust_below_the_start_only_with_memory():
    """Common random numbers: the same replicates with and without memory.  Identical while the tariff lasts
    (the scar never binds during the shock); after the lift, the memoryless ally returns to its start and the
    remembering one stays below it by more than the noise, the gap closing as the scar heals."""
    with_memory, without = _reliability(0.3), _reliability(0.0)
    start = without[:, 0]
    assert np.array_equal(with_memory[:, :15], without[:, :15])
    assert np.abs(without[:, -1] - start).max() < 0.01  # no memory: back where it started
    gap_early = (without[:, 20] - with_memory[:, 20])
    gap_late = (without[:, -1] - with_memory[:, -1])
    assert gap_early.min() > 0.01 and gap_late.min() > 0.0  # 0.014 at month 20 (reliability, a probability)
    assert gap_late.mean() < 0.8 * gap_early.mean()  # healing
