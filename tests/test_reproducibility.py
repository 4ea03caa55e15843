"""Bit-for-bit reproducibility: the trajectory of replicate r depends only on (parameters, seed, r).

Running replicates 0..63 in one ``AllianceModel`` or in chunks, in any order of ids, or in another
Python process must give identical arrays every month (ties, alignment, citizens' opinions, threat,
reliability and every agent's decisions).  The scenario switches on every stochastic part: citizens,
tie noise, threat events, an adversary that provokes, transactional US, behavioural China, an
election and a bargaining chip.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import Actor, BargainingChip, Parameters, ScriptedEvent, TariffStep

MONTHS = 12
N_REP = 64
SEED = 424242
KEYS = ("ties", "alignment", "op_us", "op_cn", "threat", "reliability", "stance", "tariff", "exports_cn",
        "us", "ally", "china", "adversary")


def rich_params() -> Parameters:
    p = Parameters()
    p.population.size_per_ally = 20
    p.actors["KOR"].elections = ["2025-12"]
    p.actors["KOR"].bargaining_chip = BargainingChip(base_utility=-1.0)
    p.actors["PRK"] = Actor(label="North Korea", role="adversary")
    p.tariffs = [TariffStep(month="2025-08", target="JPN", rate=0.15),
                 TariffStep(month="2025-08", target="KOR", rate=0.25),
                 TariffStep(month="2025-09", target="KOR", sector="autos", rate=0.25)]
    p.events = [ScriptedEvent(month="2025-10", kind="threat", targets=["KOR"], magnitude=0.3, source="PRK")]
    return Parameters.model_validate(p.model_dump())


def trajectory(params: Parameters, ids, seed: int = SEED, months: int = MONTHS) -> dict[str, np.ndarray]:
    """Arrays (months + 1, len(ids), ...) of the recorded quantities, in the order of ``ids``."""
    m = AllianceModel(params, replicate_ids=np.asarray(ids), seed=seed, months=months, collect=False)
    out: dict[str, list] = {k: [] for k in KEYS}

    R, A, D = len(ids), m.compiled.n_allies, len(m.compiled.adversary_idx)
    none = {"us": (R, A), "ally": (R, A), "china": (R, A), "adversary": (R, D)}  # before any decision

    def record():
        s, d = m.state, m.last_decisions
        for k in KEYS[:9]:
            out[k].append(getattr(s, k).copy())
        for k in KEYS[9:]:
            out[k].append(np.full(none[k], -1, dtype=np.int8) if d is None else getattr(d, k).copy())

    record()
    for _ in range(months):
        m.step()
        record()
    return {k: np.stack(v) for k, v in out.items()}


def _stitch(parts):
    """Concatenate chunk trajectories along the replicate axis."""
    return {k: np.concatenate([p[k] for p in parts], axis=1) for k in KEYS}


@pytest.fixture(scope="module")
def params():
    return rich_params()


@pytest.fixture(scope="module")
def whole(params):
    return trajectory(params, np.arange(N_REP))


def _assert_identical(a, b, order=None):
    for k in KEYS:
        x = a[k] if order is None else a[k][:, order]
        assert x.shape == b[k].shape, k
        assert np.array_equal(x, b[k]), f"{k} differs"
        assert x.tobytes() == b[k].tobytes(), f"{k} differs in its bits"


def test_the_scenario_exercises_every_decision(whole):
    # Otherwise the test below could pass only because nothing stochastic happened.
    assert len(np.unique(whole["ally"][1:])) >= 3
    assert len(np.unique(whole["us"][1:])) >= 2 and len(np.unique(whole["china"][1:])) >= 2
    assert len(np.unique(whole["adversary"][1:])) == 2
    assert whole["ties"][-1].std(axis=0).max() > 0.01


@pytest.mark.parametrize("chunks", [
    [range(0, 10), range(10, 41), range(41, 64)],
    [range(0, 1), range(1, 63), range(63, 64)],
    [range(i, i + 8) for i in range(0, 64, 8)],
], ids=["three", "singletons-at-ends", "eights"])
def test_chunking_gives_identical_states_every_month(params, whole, chunks):
    _assert_identical(whole, _stitch([trajectory(params, np.arange(c.start, c.stop)) for c in chunks]))


def test_reverse_and_shuffled_order_give_identical_per_replicate_states(params, whole):
    rev = np.arange(N_REP)[::-1]
    _assert_identical(whole, trajectory(params, rev), order=rev)
    perm = np.random.default_rng(3).permutation(N_REP)
    parts = [perm[:20], perm[20:21], perm[21:]]
    _assert_identical(whole, _stitch([trajectory(params, p) for p in parts]), order=np.concatenate(parts))


def test_ids_beyond_the_chunk_do_not_matter(params, whole):
    # Replicates 5 and 40 run alongside 1000 and 9999 are still replicates 5 and 40.
    ids = np.array([5, 9999, 40, 1000])
    t = trajectory(params, ids)
    sub = {k: t[k][:, [0, 2]] for k in KEYS}
    _assert_identical(whole, sub, order=[5, 40])


def test_same_result_in_a_separate_process(params, whole, tmp_path):
    out = tmp_path / "chunk.npz"
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        sys.path.insert(0, {str(__file__.rsplit('/', 1)[0])!r})
        from test_reproducibility import rich_params, trajectory
        t = trajectory(rich_params(), np.arange(41, 10, -1))
        np.savez({str(out)!r}, **t)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    other = dict(np.load(out))
    ids = np.arange(41, 10, -1)
    _assert_identical(whole, other, order=ids)


def test_same_seed_identical_different_seed_different(params, whole):
    again = trajectory(params, np.arange(N_REP))
    _assert_identical(whole, again)
    other = trajectory(params, np.arange(N_REP), seed=SEED + 1)
    assert np.array_equal(other["ties"][0], whole["ties"][0])  # the start is deterministic ...
    assert not np.array_equal(other["op_us"][0], whole["op_us"][0])  # ... except the citizens drawn
    for k in ("ties", "op_us", "threat"):
        assert not np.array_equal(other[k][-1], whole[k][-1]), k
        # Not just different: replicate by replicate, nothing coincides at the horizon.
        assert np.mean(other[k][-1] == whole[k][-1]) < 0.5, k
    assert not np.array_equal(other["ally"], whole["ally"])


def test_collecting_data_does_not_change_the_trajectory(params):
    a = AllianceModel(params, replicate_ids=np.arange(16), seed=SEED, months=6, collect=True)
    b = AllianceModel(params, replicate_ids=np.arange(16), seed=SEED, months=6, collect=False)
    for _ in range(6):
        a.step()
        b.step()
    assert np.array_equal(a.state.ties, b.state.ties) and np.array_equal(a.state.op_us, b.state.op_us)
    df = a.datacollector.get_model_vars_dataframe()
    assert len(df) == 7
