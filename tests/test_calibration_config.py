"""Calibration files: every mistake is one line naming the file and the key, raised before anything runs."""

from __future__ import annotations

import math
import tomllib

import pytest
from calibration_helpers import TINY

pytest.importorskip("pyabc")

from alliance_sim.calibration.config import (  # noqa: E402
    CalibrationError,
    load_calibration,
    parse_calibration,
    resolve,
)
from alliance_sim.calibration.priors import prior_mass_check, prior_rv  # noqa: E402


def _tiny(**replace) -> str:
    text = TINY.format(pop=10, gens=1, draws=0)
    for old, new in replace.items():
        assert old in text.replace("{{", "{"), old
        text = text.replace(old, new)
    return text


def _error(tmp_path, text: str) -> str:
    path = tmp_path / "cal.toml"
    path.write_text(text)
    with pytest.raises(CalibrationError) as info:
        prior_mass_check(load_calibration(path))
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path)), msg
    return msg


def test_the_tiny_file_resolves_to_the_observed_2025_shares(tmp_path):
    path = tmp_path / "cal.toml"
    path.write_text(_tiny())
    p = load_calibration(path)
    assert [(o.ally, o.variable, o.period) for o in p.observations] == [
        ("JPN", "export_share_us_mean", "2025"), ("KOR", "export_share_china_mean", "2025")]
    assert p.observations[0].months == tuple(f"2025-{m:02d}" for m in range(1, 13))
    assert p.observations[0].value == pytest.approx(0.1848)
    assert p.bounds == {"mechanisms.trade_elasticity": (0.0, 5.0), "mechanisms.diversion_to_china": (0.0, 1.0)}


@pytest.mark.parametrize("change, key, words", [
    ({'name = "tiny"': 'name = "tiny"\ncolour = 1'}, "colour", "unknown key"),
    ({'high = 5.0': 'high = 12.0'}, "parameters.0.prior.high", "declared bounds [0, 10], got 12"),
    ({'low = 0.0, high = 1.0': 'low = -0.5, high = 1.0'}, "parameters.1.prior.low", "declared bounds [0, 1]"),
    ({'kind = "uniform", low = 0.0, high = 5.0': 'kind = "normal", mean = 11.0, sd = 1.0'},
     "parameters.0.prior.mean", "declared bounds"),
    ({'kind = "uniform", low = 0.0, high = 5.0': 'kind = "cauchy", low = 0.0'}, "parameters.0.prior",
     "expected kind = uniform, normal or lognormal"),
    ({'low = 0.0, high = 5.0': 'low = 5.0, high = 1.0'}, "parameters.0.prior", "must be less than high"),
    ({'"mechanisms.trade_elasticity"': '"mechanisms.trade_elastcity"'}, "parameters.0.name",
     "did you mean 'trade_elasticity'"),
    ({'"mechanisms.trade_elasticity"': '"population.size_per_ally"'}, "parameters.0.name",
     "expected a real-valued parameter, got a int"),
    ({'scenario = "present_2026"': 'scenario = "present_2062"'}, "targets.0.scenario", "no such scenario"),
    ({'ally = "JPN"': 'ally = "CHN"'}, "targets.0.ally", "expected an ally of present_2026"),
    ({'variable = "export_share_us"': 'variable = "export_shares_us"'}, "targets.0.variable",
     "did you mean 'export_share_us'"),
    ({'years = [2025]': 'years = [2019]'}, "targets.0", "observed period 2019 is not inside the scenario's months"),
    ({'partner = "USA"': 'partner = "ZZZ"'}, "targets.0.series", "selects no observation"),
    ({'where = { partner = "USA"': 'where = { partnr = "USA"'}, "targets.0.series.where.partnr",
     "did you mean 'partner'"),
    ({'seed = 5': 'seed = 5\ndistance = "standardised"'}, "targets.0.sd", "required by abc.distance"),
    ({'population_size = 10': 'population_size = 1'}, "abc.population_size", "greater than or equal to 2"),
    ({'name = "tiny"': 'name = "tiny"\nset = { "mechanisms.trade_shock_sd" = 0.5 }'},
     "cal.toml: set.mechanisms.trade_shock_sd", "0.05"),
    ({'replicates = 2': 'replicates = "two"'}, "abc.replicates", "got 'two'"),
])
def test_bad_files_get_one_line_naming_the_key(tmp_path, change, key, words):
    text = _tiny()
    for old, new in change.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    msg = _error(tmp_path, text)
    assert key in msg and words in msg, msg


def test_the_file_level_set_reaches_every_target_and_a_target_set_wins(tmp_path):
    text = _tiny(**{'name = "tiny"': 'name = "tiny"\nset = { "mechanisms.trade_shock_sd" = 0.007, '
                                     '"mechanisms.trade_shock_persistence" = 0.9 }'})
    first = text.index("[[targets]]") + len("[[targets]]")
    second = text.index("[[targets]]", first)
    text = text[:second] + '[[targets]]\nset = { "mechanisms.trade_shock_sd" = 0.002 }' + text[second + 11:]
    path = tmp_path / "cal.toml"
    path.write_text(text)
    p = load_calibration(path)
    sds = sorted(params.mechanisms.trade_shock_sd for params in p.scenarios.values())
    assert sds == [0.002, 0.007]  # two scenarios now: the second target's own set differs
    assert all(params.mechanisms.trade_shock_persistence == 0.9 for params in p.scenarios.values())
    # plots name each scenario by what was changed, not by the hash its statistic keys carry
    assert sorted(p.scenario_titles.values()) == [
        f"present_2026 with trade_shock_persistence = 0.9, trade_shock_sd = {sd}" for sd in ("0.002", "0.007")]
    assert all("[" in key for key in p.scenario_titles)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(CalibrationError, match=r"no such calibration file"):
        load_calibration(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[abc\npopulation_size = 3\n")
    with pytest.raises(CalibrationError, match=r"bad.toml: invalid TOML at line 1"):
        load_calibration(bad)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\x00\x01")
    with pytest.raises(CalibrationError, match=r"not a text file"):
        load_calibration(binary)


def test_truncated_priors_stay_inside_the_bounds_and_integrate_to_one():
    text = _tiny(**{'kind = "uniform", low = 0.0, high = 1.0': 'kind = "normal", mean = 0.9, sd = 0.5',
                    'kind = "uniform", low = 0.0, high = 5.0': 'kind = "lognormal", median = 1.5, sigma = 1.0, '
                                                              'high = 4.0'})
    p = resolve(parse_calibration(tomllib.loads(text)))
    div = prior_rv(p, "mechanisms.diversion_to_china")
    ela = prior_rv(p, "mechanisms.trade_elasticity")
    assert (div.low, div.high) == (0.0, 1.0) and (ela.low, ela.high) == (0.0, 4.0)
    import numpy as np

    np.random.seed(0)
    xs = np.array([div.rvs() for _ in range(2000)])
    assert xs.min() >= 0 and xs.max() <= 1 and 0.6 < np.median(xs) < 0.9
    grid = np.linspace(0, 1, 4001)
    assert np.trapezoid([div.pdf(x) for x in grid], grid) == pytest.approx(1.0, abs=1e-3)
    assert div.pdf(1.2) == 0 and ela.pdf(4.5) == 0
    assert ela.cdf(1.5) > 0.5   # truncating the upper tail moves mass below the median
    assert math.isclose(ela.ppf(0.0), 0.0, abs_tol=1e-12) and ela.ppf(1.0) == pytest.approx(4.0)
