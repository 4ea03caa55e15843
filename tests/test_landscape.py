"""Landscape theory (alliance_sim.landscape): the source script's energy, the exhaustive and local minima,
the balance dynamics, one-line errors for bad CSVs, and `alliance landscape`."""

from __future__ import annotations

import itertools
import re
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from alliance_sim import landscape as ls
from alliance_sim.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def syria():
    return ls.load_landscape(ls.shipped_syria_dir())


def _random_landscape(n, seed):
    rng = np.random.default_rng(seed)
    p = rng.integers(1, 6, (n, n))
    p = np.triu(p, 1)
    p = p + p.T
    return ls.Landscape(tuple(f"a{i}" for i in range(n)), rng.integers(1, 100, n).astype(float), p)


def _naive_energy(land, sides):
    """E written out as in the README: ordered pairs, q = p − 3, d = 1 on different sides."""
    e = 0.0
    for i in range(land.n):
        for j in range(land.n):
            if i != j and sides[i] != sides[j]:
                e += land.strengths[i] * land.strengths[j] * (land.propensity[i, j] - 3)
    return e


# ----------------------------------------------------------------------------------- data and energy

def test_shipped_data(syria):
    assert syria.n == 11
    assert syria.actors[0] == "US" and syria.actors[6] == "ISIS"
    assert syria.strengths.sum() == 330
    assert np.array_equal(syria.propensity, syria.propensity.T)


def test_readme_worked_check_us_alone(syria):
    sides = [1] + [2] * 10
    expected = 2 * 10 * float(np.sum(syria.strengths[1:] * syria.q[0, 1:]))
    assert expected == -4200  # the README's number
    assert ls.energy(syria, sides) == pytest.approx(expected)
    assert ls.energy(syria, sides) == pytest.approx(_naive_energy(syria, sides))


def test_everyone_together_is_zero(syria):
    assert ls.energy(syria, [1] * 11) == 0
    assert np.all(ls.frustration(syria, [1] * 11) == 0)


@pytest.mark.parametrize("seed", range(5))
def test_flip_invariance_and_frustration_sum(syria, seed):
    rng = np.random.default_rng(seed)
    sides = rng.integers(1, 3, 11)
    flipped = 3 - sides
    assert ls.energy(syria, sides) == pytest.approx(ls.energy(syria, flipped))
    assert ls.energy(syria, sides) == pytest.approx(_naive_energy(syria, sides))
    assert ls.frustration(syria, sides).sum() == pytest.approx(ls.energy(syria, sides))


@pytest.mark.parametrize("c", [0.5, 3.0, 10.0])
def test_scaling_strengths_scales_energy_by_c_squared(syria, c):
    big = ls.Landscape(syria.actors, c * syria.strengths, syria.propensity)
    a, b = ls.enumerate_configurations(syria), ls.enumerate_configurations(big)
    assert np.allclose(b.energies, c * c * a.energies)
    assert np.array_equal(a.argmins(), b.argmins())
    assert np.array_equal(a.local_min, b.local_min)


@pytest.mark.parametrize("seed", range(4))
def test_exhaustive_matches_brute_force_over_all_2n(seed):
    land = _random_landscape(6, seed)
    en = ls.enumerate_configurations(land)
    assert len(en.energies) == 2 ** 5
    assert np.all(en.sides[:, 0] == 1)
    assert len({tuple(s) for s in en.sides}) == 32
    brute = {}
    for sides in itertools.product([1, 2], repeat=land.n):
        brute[sides] = _naive_energy(land, sides)
    assert en.minimum == pytest.approx(min(brute.values()))
    for k, sigma in enumerate(en.sides):
        sides = tuple(1 if s > 0 else 2 for s in sigma)
        assert en.energies[k] == pytest.approx(brute[sides])
        # local minimum: no single switch (any actor, actor 0 included) strictly lower
        neighbours = [brute[sides[:i] + (3 - sides[i],) + sides[i + 1:]] for i in range(land.n)]
        assert en.local_min[k] == all(e >= brute[sides] - 1e-9 for e in neighbours)
        assert np.allclose(ls.switch_gains(land, sides), np.array(neighbours) - brute[sides])


def test_local_minimum_flag_three_actors():
    # q_AB = q_AC = 1, q_BC = 2, sizes 1: E(A alone) = 4, E(B alone) = E(C alone) = 6, E(together) = 0.
    land = ls.Landscape(("A", "B", "C"), np.ones(3), np.array([[0, 4, 4], [4, 0, 5], [4, 5, 0]]))
    en = ls.enumerate_configurations(land)
    e = {ls.camps(land, s)[1]: (en.energies[k], bool(en.local_min[k])) for k, s in enumerate(en.sides)}
    assert e == {(): (0.0, True), ("B", "C"): (4.0, False), ("C",): (6.0, False), ("B",): (6.0, False)}
    # A alone is not a local minimum only because A's own switch (to everyone together) lowers E
    assert list(ls.switch_gains(land, [1, 2, 2])) == [-4.0, 2.0, 2.0]
    assert list(en.local_minima()) == [en.index_of([1, 1, 1])]


def test_two_camps_are_the_unique_global_minimum():
    p = np.array([[0, 5, 4, 1, 2], [5, 0, 5, 2, 1], [4, 5, 0, 1, 1], [1, 2, 1, 0, 5], [2, 1, 1, 5, 0]])
    land = ls.Landscape(tuple("ABCDE"), np.array([1.0, 2, 3, 4, 5]), p)
    en = ls.enumerate_configurations(land)
    assert len(en.argmins()) == 1
    assert ls.camps(land, en.sides[en.argmins()[0]]) == (("A", "B", "C"), ("D", "E"))


# ----------------------------------------------------------------------------------- dynamics

def test_ties_from_propensity(syria):
    X = ls.ties_from_propensity(syria)
    assert X.min() >= -1 and X.max() <= 1
    assert np.all(np.diag(X) == 0)
    assert X[0, 3] == 1.0 and X[0, 6] == -1.0 and X[0, 4] == 0.5


@pytest.mark.parametrize("sized", [True, False])
def test_dynamics_reach_the_camps_of_a_balanced_instance(sized):
    # camps {A, B, C} vs {D, E}: affinity 4 within, 2 across (ties ±0.5), one neutral pair (B, C) inside
    p = np.array([[0, 4, 4, 2, 2], [4, 0, 3, 2, 2], [4, 3, 0, 2, 2], [2, 2, 2, 0, 4], [2, 2, 2, 4, 0]])
    land = ls.Landscape(tuple("ABCDE"), np.array([5.0, 1, 2, 3, 1]), p)
    run = ls.balance_dynamics(land, sized=sized)
    assert run.converged and run.balanced
    assert ls.camps(land, run.sides) == (("A", "B", "C"), ("D", "E"))
    assert run.ties[1, 2] > 0  # the neutral tie inside the camp became friendly
    off = ~np.eye(5, dtype=bool)
    assert np.allclose(np.abs(run.ties[off]), 1.0)  # saturated


def test_dynamics_flip_a_frustrated_tie():
    # A-B friendly, A-C friendly, B-C hostile (unbalanced); C is big, so the balance pressure through C
    # turns A-B hostile: camps {A, C} vs {B}
    p = np.array([[0, 4, 5], [4, 0, 1], [5, 1, 0]])
    land = ls.Landscape(tuple("ABC"), np.array([1.0, 1.0, 10.0]), p)
    run = ls.balance_dynamics(land)
    assert run.balanced
    assert ls.camps(land, run.sides) == (("A", "C"), ("B",))


def test_dynamics_on_syria_are_balanced(syria):
    run = ls.balance_dynamics(syria)
    assert run.converged and run.balanced
    assert run.sides[0] == 1


def test_perturbed_reproducible(syria):
    a = ls.perturbed_balance(syria, 5, 0.2, seed=3)
    assert a == ls.perturbed_balance(syria, 5, 0.2, seed=3)
    assert sum(a.values()) == 5


# ----------------------------------------------------------------------------------- bad inputs

def _copy(tmp_path):
    d = tmp_path / "land"
    shutil.copytree(ls.shipped_syria_dir(), d)
    return d


def _edit_cell(path, row, col, value):
    lines = path.read_text().splitlines()
    cells = lines[row - 1].split(",")
    cells[col] = value
    lines[row - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("edit, pattern", [
    (("propensity.csv", 3, 4, "7"), r"propensity\.csv: row 3 \(Russia\), column Turkey: '7' is not an integer"),
    (("propensity.csv", 3, 4, "2.5"), r"propensity\.csv: row 3 \(Russia\), column Turkey: '2\.5'"),
    (("propensity.csv", 3, 4, "3"), r"propensity\.csv: row \d+ \(\w+\), column \w+: .*not symmetric"),
    (("propensity.csv", 3, 2, "4"), r"propensity\.csv: row 3 \(Russia\): the diagonal must be empty"),
    (("propensity.csv", 3, 0, "Rus"), r"propensity\.csv: row 3: actor 'Rus', expected 'Russia'"),
    (("propensity.csv", 1, 2, "Rus"), r"propensity\.csv: row 1 \(header\)"),
    (("actors.csv", 4, 2, "-5"), r"actors\.csv: row 4 \(Syria\): strength '-5' must be positive"),
    (("actors.csv", 4, 2, "big"), r"actors\.csv: row 4 \(Syria\): strength 'big' is not a number"),
])
def test_bad_csv_one_line_error(tmp_path, edit, pattern):
    d = _copy(tmp_path)
    name, row, col, value = edit
    _edit_cell(d / name, row, col, value)
    with pytest.raises(ls.LandscapeError) as info:
        ls.load_landscape(d)
    msg = str(info.value)
    assert "\n" not in msg
    assert re.search(pattern, msg), msg


def test_missing_file(tmp_path):
    d = _copy(tmp_path)
    (d / "propensity.csv").unlink()
    with pytest.raises(ls.LandscapeError, match=r"propensity\.csv: file not found"):
        ls.load_landscape(d)


# ----------------------------------------------------------------------------------- CLI

def test_cli_default_data(syria):
    result = runner.invoke(app, ["landscape"])
    assert result.exit_code == 0, result.output
    en = ls.enumerate_configurations(syria)
    text = " ".join(result.output.split())
    assert f"global minimum energy {en.minimum:,.0f}" in text
    assert f"local minima: {len(en.local_minima())}" in text
    assert "agrees with the global minimum" in text
    assert "1,024 configurations" in text


def test_cli_perturbed_and_dir(tmp_path):
    d = _copy(tmp_path)
    result = runner.invoke(app, ["landscape", str(d), "--perturbed", "3", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "3 runs" in result.output


def test_cli_bad_dir_one_line(tmp_path):
    d = _copy(tmp_path)
    _edit_cell(d / "propensity.csv", 3, 4, "9")
    result = runner.invoke(app, ["landscape", str(d)])
    assert result.exit_code == 2
    try:
        text = result.stdout + result.stderr
    except ValueError:
        text = result.output
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "propensity.csv: row 3" in lines[0], lines
