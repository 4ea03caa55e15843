"""The counter-based RNG (alliance_sim.model.rng): range, uniformity, independence from the set of
replicates drawn together, and the derived samplers (Poisson by inversion, logit choice)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from alliance_sim.model import rng

SEED = 20250711


def _u(ids, month=3, stream=rng.STREAM_TIE_NOISE, n=8, seed=SEED):
    return rng.uniforms(rng.replicate_keys(seed, np.asarray(ids)), month, stream, n)


def test_uniforms_shape_and_open_interval():
    u = _u(np.arange(5000), n=40)
    assert u.shape == (5000, 40)
    assert u.dtype == np.float64
    # (bits + 0.5) * 2**-53 can be neither 0 nor 1; log(u) and log(1-u) must stay finite.
    assert u.min() > 0.0 and u.max() < 1.0
    assert np.isfinite(np.log(u)).all() and np.isfinite(np.log1p(-u)).all()


def test_uniforms_are_uniform_chi_square_and_ks():
    u = _u(np.arange(4000), n=50).ravel()  # 200 000 draws, fixed seed: the test is deterministic
    counts, _ = np.histogram(u, bins=50, range=(0.0, 1.0))
    # A broken hash (e.g. a missing avalanche step) gives p-values of ~0 here.
    assert stats.chisquare(counts).pvalue > 1e-3
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert abs(u.mean() - 0.5) < 0.003
    assert abs(u.var() - 1.0 / 12.0) < 0.002


def test_uniforms_uncorrelated_across_replicates_draws_and_months():
    u = _u(np.arange(20000), n=2)
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.03  # draw k vs draw k+1
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 0.03  # replicate r vs r+1
    v = _u(np.arange(20000), month=4, n=2)
    assert abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1]) < 0.03  # month t vs t+1


@pytest.mark.parametrize("subset", [[57], [3, 57, 99], [99, 57, 0, 3], list(range(50, 60))])
def test_draw_of_a_replicate_does_not_depend_on_the_other_replicates_requested(subset):
    full = _u(np.arange(100), n=16)
    part = _u(subset, n=16)
    np.testing.assert_array_equal(part, full[subset])


def test_draw_k_does_not_depend_on_how_many_draws_are_requested():
    ids = np.arange(30)
    np.testing.assert_array_equal(_u(ids, n=5), _u(ids, n=40)[:, :5])


@pytest.mark.parametrize("index", [0, 1, 7, 123])
def test_uniform_column_equals_the_column_of_uniforms(index):
    keys = rng.replicate_keys(SEED, np.arange(200))
    col = rng.uniform_column(keys, 5, rng.STREAM_DECISION_ALLY, index)
    np.testing.assert_array_equal(col, rng.uniforms(keys, 5, rng.STREAM_DECISION_ALLY, index + 1)[:, index])


def test_scalar_uniform_from_key_equals_vectorized_draws():
    keys = rng.replicate_keys(SEED, np.arange(10))
    mk = rng.month_stream_keys(keys, 2, rng.STREAM_CITIZEN_NOISE)
    u = rng.uniforms(keys, 2, rng.STREAM_CITIZEN_NOISE, 6)
    with np.errstate(over="ignore"):  # uint64 wrap-around is intended (numpy scalars warn)
        for r in range(10):
            for k in range(6):
                assert rng.uniform_from_key(mk[r], k) == u[r, k]


@pytest.mark.parametrize("change", ["stream", "month", "seed", "replicate"])
def test_different_streams_months_seeds_and_replicates_differ(change):
    ids = np.arange(20000)
    base = _u(ids, month=3, stream=rng.STREAM_TIE_NOISE, seed=SEED, n=2)
    other = {
        "stream": lambda: _u(ids, month=3, stream=rng.STREAM_THREAT_COUNT, seed=SEED, n=2),
        "month": lambda: _u(ids, month=4, stream=rng.STREAM_TIE_NOISE, seed=SEED, n=2),
        "seed": lambda: _u(ids, month=3, stream=rng.STREAM_TIE_NOISE, seed=SEED + 1, n=2),
        "replicate": lambda: _u(ids + 20000, month=3, stream=rng.STREAM_TIE_NOISE, seed=SEED, n=2),
    }[change]()
    # Independent uniforms coincide with probability ~2**-53 per draw: no draw may be equal.
    assert not np.any(base == other)
    assert abs(np.corrcoef(base.ravel(), other.ravel())[0, 1]) < 0.025  # 5 SE for 40 000 pairs


def test_streams_are_distinct_numbers():
    names = [n for n in dir(rng) if n.startswith("STREAM_")]
    values = [getattr(rng, n) for n in names]
    assert len(set(values)) == len(values)


def test_replicate_keys_are_distinct_and_deterministic():
    k1 = rng.replicate_keys(SEED, np.arange(100_000))
    assert len(np.unique(k1)) == k1.size
    np.testing.assert_array_equal(k1, rng.replicate_keys(SEED, np.arange(100_000)))


def test_normals_from_uniforms_are_standard_normal():
    u = _u(np.arange(20000), n=2)
    z = rng.normals_from_uniforms(u[:, 0], u[:, 1])
    assert np.isfinite(z).all()
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1.0) < 0.03
    assert stats.kstest(z, "norm").pvalue > 1e-3


@pytest.mark.parametrize("rate", [0.05, 0.3, 1.5, 3.0, 8.0, 25.0, 50.0])
def test_poisson_from_uniform_matches_scipy(rate):
    u = _u(np.arange(20000), n=5, stream=rng.STREAM_THREAT_COUNT).ravel()  # 100 000 draws
    x = rng.poisson_from_uniform(u, np.full(u.shape, rate))
    assert x.dtype.kind == "i" and x.min() >= 0
    # Inversion of the CDF is the quantile function: equal to scipy's ppf draw by draw.
    assert np.mean(x == stats.poisson.ppf(u, rate)) > 0.999
    se = np.sqrt(rate / u.size)
    assert abs(x.mean() - rate) < 5 * se
    assert abs(x.var() / rate - 1.0) < 0.03


def test_poisson_very_large_rates_use_a_sound_approximation():
    # An adversary that provokes multiplies rates by up to 20: 50 x 20 = 1000 events/month.
    u = _u(np.arange(20000), n=2, stream=rng.STREAM_THREAT_COUNT).ravel()
    x = rng.poisson_from_uniform(u, np.full(u.shape, 1000.0))
    assert abs(x.mean() - 1000.0) < 5 * np.sqrt(1000.0 / u.size)
    assert abs(x.var() / 1000.0 - 1.0) < 0.05


def test_poisson_zero_rate_gives_zero_counts():
    u = _u(np.arange(1000), n=3).ravel()
    assert (rng.poisson_from_uniform(u, np.zeros(u.shape)) == 0).all()


def test_poisson_broadcasts_rates_per_column():
    u = _u(np.arange(20000), n=2, stream=rng.STREAM_THREAT_COUNT)
    x = rng.poisson_from_uniform(u, np.array([0.5, 4.0]))
    assert abs(x[:, 0].mean() - 0.5) < 0.03 and abs(x[:, 1].mean() - 4.0) < 0.08


@pytest.mark.parametrize("util", [[0.0, 1.0, -1.0, 2.0], [-3.0, -3.5, -4.5, 0.0, -2.0], [5.0, 5.0]])
def test_logit_choice_frequencies_match_softmax(util):
    util = np.asarray(util)
    n = 100_000
    u = _u(np.arange(n), n=1, stream=rng.STREAM_DECISION_ALLY)[:, 0]
    choice = rng.logit_choice(np.broadcast_to(util, (n, util.size)), u)
    p = np.exp(util - util.max())
    p /= p.sum()
    freq = np.bincount(choice, minlength=util.size) / n
    assert (np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-4).all(), (freq, p)
    assert stats.chisquare(np.bincount(choice, minlength=util.size), p * n).pvalue > 1e-3


def test_logit_choice_unavailable_option_never_chosen_and_same_uniform_same_choice():
    util = np.array([[0.0, -1e9, 1.0], [0.0, 0.0, -1e9]])
    u = _u(np.arange(50000), n=1)[:, 0]
    ch0 = rng.logit_choice(np.broadcast_to(util[0], (u.size, 3)), u)
    ch1 = rng.logit_choice(np.broadcast_to(util[1], (u.size, 3)), u)
    assert not (ch0 == 1).any() and not (ch1 == 2).any()
    np.testing.assert_array_equal(ch0, rng.logit_choice(np.broadcast_to(util[0], (u.size, 3)), u))
    # Extreme utilities neither overflow nor give an out-of-range index.
    big = rng.logit_choice(np.array([[1e6, -1e6, 0.0]]), np.array([0.999999]))
    assert big.tolist() == [0]
