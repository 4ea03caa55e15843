"""Where everything the compiled step reads and writes lives: the state rows and the packed parameters.

The step (``model/step.py``) works on a *block* of replicates at a time: a (rows, LANES) float array whose
rows are the state variables of ``STATE`` and whose columns are independent replicates ("lanes"). Rows
advancing in lockstep fill the pipeline and vectorise where one replicate's dependency chains cannot. The
ensemble driver stores R replicates as (blocks, rows, LANES); the trajectory driver keeps one block in local
memory. Because the layout is this one table, the memory of a run follows from it (``state_bytes``) and a new
state variable is one line here.

Parameters reach the step packed the same way: the scalar fields of the parameter blocks as rows of ``P``
(names in ``F``), the per-ally vectors of ``Compiled`` as ``V`` (names in ``VEC``), per-process magnitudes and
per-adversary multipliers as ``MK`` and ``MD``.
"""

from __future__ import annotations

from collections import namedtuple
from enum import IntEnum

import numpy as np
from numba.extending import register_jitable

from alliance_sim.model import parameters

# Replicates advanced together by one call of the step.
LANES = 16

# Scalar fields of the parameter blocks, one row each of P: every numeric field of each block, so that a new
# parameter is readable by the step as ``P[F.<name>, m]`` as soon as it is declared in parameters.py.
_BLOCK_MODELS = {"mech": parameters.Mechanisms, "pop": parameters.Population, "upol": parameters.PatronPolicy,
                 "apol": parameters.AllyPolicy, "cpol": parameters.ChallengerPolicy,
                 "advpol": parameters.AdversaryPolicy}
BLOCK_FIELDS = {attr: tuple(name for name, info in model.model_fields.items() if info.annotation in (float, int))
                for attr, model in _BLOCK_MODELS.items()}
# The threat stock's monthly retention is a derived scalar; it rides in P as its last row.
F = IntEnum("F", [f for block in BLOCK_FIELDS.values() for f in block] + ["retention"], start=0)

# Per-ally vectors of Compiled, one (A,) row each of V.
VEC = IntEnum("VEC", ["exports_to_gdp", "share_us0", "share_cn0", "defense0", "reliability0", "entrapment",
                      "orientation0", "hawk", "conciliatory", "latitude", "fav_us0", "fav_cn0", "chip_base",
                      "chip_pain", "chip_effort", "chip_tie", "chip_bonus", "chip_months", "country_weight"],
              start=0)

# Month schedules of Compiled: (T, A) or, in a batch, (T, rows, A); packed as (1 or rows, T, ...).
SCHEDULES = ("country_rate", "sector_rate", "demand", "ev_reassure", "ev_leader", "ev_induce", "ev_coerce",
             "proc_rate", "ev_threat", "ev_tie")
Schedules = namedtuple("Schedules", SCHEDULES + ("varies",))

# Driver attribution (docs/model.md §8.1): the mechanism groups whose contributions to every tie are accounted
# for month by month.  The first FORCE_GROUPS act on the tie's target (logit units, tie_drivers' terms and
# balance); the others move the tie directly (impulses of choices, noise and the ±TIE_LIMIT clip).
DRIVER_GROUPS = ("tariffs_trade", "burden_reliability", "threat", "domestic_politics", "balance", "china",
                 "ally_choices", "direct_events", "noise")
DRV = IntEnum("DRV", DRIVER_GROUPS, start=0)
N_DRIVERS = len(DRIVER_GROUPS)
FORCE_GROUPS = 5  # tariffs_trade .. balance
TIE_FORCE_GROUPS = 4  # of those, the ones tie_drivers computes (balance is the step's own term)

# State variables: (name, shape per replicate in terms of the structure's sizes, or a number).
#   n actors, A allies, S threat sources, K threat processes, D adversaries, N citizens per ally (≥ 1),
#   Q pairs of actors (i < j, in the order of the tie noise draws).
STATE = (
    ("ties", "n n"), ("intercept", "n n"), ("tie_memory", "Q"), ("stock", "n S"),
    ("tariff_offset", "A"), ("demand_offset", "A"), ("effort", "A"), ("latent", "A"), ("trust_scar", "A"),
    ("exports_us", "A"), ("exports_cn", "A"), ("trade_shock_us", "A"), ("trade_shock_cn", "A"),
    ("orientation", "A"), ("chip_used", "A"), ("bonus_left", "A"),
    ("us_last", "A"), ("ally_last", "A"), ("china_last", "A"), ("adversary_last", "D"),
    ("us_choice", "A"), ("ally_choice", "A"), ("china_choice", "A"), ("adversary_choice", "D"),
    # observables, derived from the state above at the end of every transition
    ("tariff", "A"), ("demand", "A"), ("pain", "A"), ("gap", "A"), ("threat", "n"), ("reliability", "A"),
    ("public", "A"), ("stance", "A"), ("alignment", "A"), ("prev_alignment", "A"), ("cohesion", "1"),
    ("crossed", "A"), ("min_cohesion", "1"),
    # start-month constants of each replicate's parameters
    ("tariff0", "A"), ("pain0", "A"), ("gap0", "A"), ("latent0", "A"),
    # caches of rarely changing terms (a pow per tariff change, e^-rate per threat-rate change)
    ("pow_ratio", "A"), ("pow_value", "A"), ("pois_rate", "K"), ("pois_p0", "K"),
    # citizens' favourability of the patron and of the challenger, and their anchors
    ("op_us", "A N"), ("op_cn", "A N"), ("anchor_us", "A N"), ("anchor_cn", "A N"),
    # driver attribution (when on): each pair's start tie and target, the start forces of each force group,
    # and each group's share of the tie's change since the start (the shares add up to T − T0)
    ("tie0", "Q"), ("target0", "Q"), ("force0", f"Q {FORCE_GROUPS}"), ("driver_share", f"Q {N_DRIVERS}"),
)
Layout = namedtuple("Layout", [name for name, _ in STATE] + ["width"])
Sizes = namedtuple("Sizes", "n A S K D N Q")


def sizes_of(c) -> Sizes:
    """The structure's sizes of a ``Compiled`` (N ≥ 1: the aggregate mode keeps one opinion per ally)."""
    return Sizes(c.n, c.n_allies, len(c.sources), len(c.proc_source), len(c.adversary_idx),
                 max(1, int(c.pop.size_per_ally)), c.n * (c.n - 1) // 2)


def shape_of(spec: str, sz: Sizes) -> tuple[int, ...]:
    return tuple(int(d) if d.isdigit() else getattr(sz, d) for d in spec.split())


def make_layout(sz: Sizes) -> Layout:
    """Row offset of every state variable, and the number of rows."""
    offsets, row = [], 0
    for _, spec in STATE:
        offsets.append(row)
        row += int(np.prod(shape_of(spec, sz)))
    return Layout(*offsets, row)


def scratch_rows(sz: Sizes, groups: int) -> int:
    """Rows of the step's scratch buffer (× LANES), which a driver allocates once per call: the largest set of
    temporaries one phase carves from it — the transition's; a decision needs 6 utilities + 6 + 3 rows for its
    choice.  Each phase checks that it got enough (``step.check_scratch``) before writing."""
    return max(transition_scratch_rows(sz, groups), 15, (1 + TIE_FORCE_GROUPS) * sz.n * sz.n)


@register_jitable
def transition_scratch_rows(sz: Sizes, groups: int) -> int:
    """The transition's temporaries: old tariffs, threats and China-threats, threat additions, the tie drivers
    (total and by force group), balance, the two kinds of impulse, the groups' shocks and 8 single rows."""
    n, A, S = sz.n, sz.A, sz.S
    return 2 * A + n + n * S + (4 + TIE_FORCE_GROUPS) * n * n + 2 * groups + 8


def state_bytes(sz: Sizes, replicates: int) -> int:
    """Bytes of the state of ``replicates`` replicates (padded to whole blocks)."""
    blocks = -(-replicates // LANES)
    return make_layout(sz).width * blocks * LANES * 8


def draw_offsets(A: int, D: int, K: int, n_pairs: int) -> tuple[int, ...]:
    """Row offsets of one month's draws of a replicate: US, ally, China and adversary choice uniforms,
    threat-count uniforms, −log of threat-magnitude uniforms, election uniforms, tie-noise normals; and the
    number of rows.  (Citizens' noise is drawn where it is used: 2·A·N draws a month would not fit a table.)"""
    o_al = A
    o_cn = 2 * A
    o_adv = 3 * A
    o_cnt = 3 * A + D
    o_mag = o_cnt + K
    o_el = o_mag + K
    o_tie = o_el + A
    return o_al, o_cn, o_adv, o_cnt, o_mag, o_el, o_tie, o_tie + n_pairs


def draw_width(c) -> int:
    """Draws per (replicate, month) of ``c``'s structure."""
    return draw_offsets(c.n_allies, len(c.adversary_idx), len(c.proc_source), c.n * (c.n - 1) // 2)[-1]
