"""Agents of the reference model: one Mesa agent per country and per citizen, plain Python floats.

Every agent reads its world's state at month t (``model``) and returns a choice; the model applies
all choices at once (synchronous update, as in the engine).  Utilities follow docs/model.md §7.7 and
are written out term by term so that a reader can check them against the equations.
"""

from __future__ import annotations

import math

import mesa

from alliance_sim.model import rng
from alliance_sim.model.compiled import ADVERSARY_OPTIONS, ALLY_OPTIONS, CHINA_OPTIONS, US_OPTIONS

NEG = -1e9  # utility of an unavailable option


def logit_choice(utilities: list[float], u: float) -> int:
    """Multinomial logit by inverse CDF: the option whose cumulative probability first reaches ``u``."""
    top = max(utilities)
    weights = [math.exp(x - top) for x in utilities]
    cdf, acc = [], 0.0
    for w in weights:
        acc += w
        cdf.append(acc)
    total = cdf[-1]
    choice = sum(1 for c in cdf if u > c / total)
    return min(choice, len(utilities) - 1)


class CountryAgent(mesa.Agent):
    """A country with a perceived-threat stock per threat source."""

    role = "country"

    def __init__(self, model, name: str, index: int, stock: list[float]):
        super().__init__(model)
        self.name = name
        self.index = index  # position in the model's actor list (rows of the tie matrix)
        self.stock = stock  # perceived-threat stock per source
        self.threat = 0.0
        self.observe_threat()

    def observe_threat(self) -> None:
        """Perceived threat, 1 − exp(−Σ stock): saturating, so repeated incidents matter less."""
        total = 0.0
        for h in self.stock:
            total += h
        self.threat = 1.0 - math.exp(-total)

    def draw(self, stream: int, index: int) -> float:
        """Draw ``index`` at (this month, stream): the very draw the engine uses for this replicate."""
        return float(rng.uniform_column(self.model.keys, self.model.month, stream, index)[0])


def patron_utilities(pol, ally, month: int, conceded: bool, retaliated: bool) -> list[float]:
    """The patron's utilities toward ``ally`` (hold, escalate, relieve, raise demand): what the patron acts on
    and what a forward-looking ally forecasts."""
    escalate = (pol.escalate_base_utility + pol.escalate_gap_weight * ally.gap
                + pol.escalate_retaliation_weight * retaliated)
    if ally.tariff_offset >= pol.max_tariff_offset - 1e-12:
        escalate = NEG
    relieve = (pol.relief_base_utility + pol.relief_concession_weight * conceded
               + ally.chip_bonus * (ally.bonus_left > 0))
    if ally.country_rate(month, ally.tariff_offset) <= 1e-12:
        relieve = NEG
    demand = pol.raise_demand_base_utility + pol.raise_demand_concession_weight * conceded
    return [0.0, escalate, relieve, demand]


def relief_chance(utilities: list[float]) -> float:
    """Softmax probability of the relief option."""
    top = max(utilities)
    w = [math.exp(u - top) for u in utilities]
    return w[2] / sum(w)


class PatronAgent(CountryAgent):
    """The United States: per ally, hold / escalate tariffs / relieve them / raise the defence demand."""

    role = "patron"

    def decide(self) -> dict[str, str]:
        m = self.model
        pol = m.params.us_policy
        if pol.mode == "scripted":
            return {ally.name: "hold" for ally in m.ally_agents}
        us = rng.uniforms(m.keys, m.month, rng.STREAM_DECISION_US, len(m.ally_agents))[0]
        choices = {}
        for ally in m.ally_agents:
            conceded = ally.last_decision in ("concede", "play_chip")
            retaliated = ally.last_decision == "retaliate"
            k = logit_choice(patron_utilities(pol, ally, m.month, conceded, retaliated), float(us[ally.position]))
            choices[ally.name] = US_OPTIONS[k]
        return choices


class ChallengerAgent(CountryAgent):
    """China: per ally, nothing / inducement (reward drift its way) / coercion (punish drift away)."""

    role = "challenger"

    def decide(self) -> dict[str, str]:
        m = self.model
        pol = m.params.china_policy
        c = m.compiled
        choices = {}
        us = rng.uniforms(m.keys, m.month, rng.STREAM_DECISION_CHINA, len(m.ally_agents))[0]
        for ally in m.ally_agents:
            k = 0
            if pol.mode == "behavioural":
                drift = ally.alignment - ally.prev_alignment
                induce = (pol.induce_base_utility + pol.induce_drift_weight * max(-drift, 0.0)
                          + pol.induce_hedge_weight * (ally.last_decision == "hedge"))
                coerce = (pol.coerce_base_utility + pol.coerce_drift_weight * max(drift, 0.0)
                          + pol.coerce_alignment_weight * max(ally.alignment - 0.5, 0.0)
                          - pol.coerce_accommodation_weight * (ally.last_decision == "accommodate"))
                k = logit_choice([0.0, induce, coerce], float(us[ally.position]))
            if c.ev_induce[m.month, ally.position]:  # scripted events force the choice
                k = 1
            if c.ev_coerce[m.month, ally.position]:
                k = 2
            choices[ally.name] = CHINA_OPTIONS[k]
        return choices


class AdversaryAgent(CountryAgent):
    """An adversary such as North Korea: provoke (multiply its threat processes' rates) or restrain."""

    role = "adversary"

    def __init__(self, model, name, index, stock, position: int):
        super().__init__(model, name, index, stock)
        self.position = position
        self.last_decision = "restrain"

    def decide(self) -> str:
        pol = self.model.params.adversary_policy
        provoke = pol.provoke_base_utility + pol.provoke_cohesion_weight * (1.0 - self.model.cohesion)
        u = self.draw(rng.STREAM_DECISION_ADVERSARY, self.position)
        return ADVERSARY_OPTIONS[logit_choice([0.0, provoke], u)]


class AllyAgent(CountryAgent):
    """Japan, South Korea, …: trade, burden, reliability, leader and public, and its own choice."""

    role = "ally"

    def __init__(self, model, name, index, stock, position: int):
        super().__init__(model, name, index, stock)
        c = model.compiled
        a = self.position = position
        self.exports_to_gdp = float(c.exports_to_gdp[a])
        self.share_us0, self.share_cn0 = float(c.share_us0[a]), float(c.share_cn0[a])
        self.defense0, self.latitude = float(c.defense0[a]), float(c.latitude[a])
        self.chip = bool(c.chip[a])
        self.chip_bonus = float(c.chip_bonus[a])
        # State.
        self.tariff_offset = 0.0  # the patron's behavioural change of the country tariff rate
        self.demand_offset = 0.0
        self.effort = self.defense0
        self.latent = _logit(float(c.reliability0[a]))
        self.trust_scar = 0.0
        self.exports_us, self.exports_cn = self.share_us0, self.share_cn0
        self.trade_shock_us = self.trade_shock_cn = 0.0  # exogenous deviations of the export targets
        self.orientation = float(c.orientation0[a])
        self.chip_used, self.bonus_left = False, 0
        self.last_decision = "hold"
        self.us_last, self.china_last = "hold", "none"
        self.tariff0 = self.effective_tariff(0, 0.0)
        self.pain0 = 100.0 * self.exports_to_gdp * self.share_us0 * self.tariff0
        self.gap0 = max(float(c.demand[0, a]) - self.defense0, 0.0)
        self.tariff, self.demand = self.tariff0, float(c.demand[0, a])
        self.citizens: list[CitizenAgent] = []
        # Aggregate opinion (population size 0): one mean opinion, no noise or conformity.
        self.opinion = [2.0 * float(c.fav_us0[a]) - 1.0, 2.0 * float(c.fav_cn0[a]) - 1.0]
        self.anchor = list(self.opinion)
        self.alignment = self.prev_alignment = 0.0

    # -- derived quantities ----------------------------------------------------------------
    def country_rate(self, t: int, offset: float) -> float:
        return min(max(float(self.model.compiled.country_rate[t, self.position]) + offset, 0.0), 2.0)

    def effective_tariff(self, t: int, offset: float) -> float:
        """Trade-weighted tariff: Section-232 sectors pay their own rate, the rest the country rate."""
        c = self.model.compiled
        return (float(c.country_weight[self.position]) * self.country_rate(t, offset)
                + float(c.sector_rate[t, self.position]))

    def mean_opinions(self) -> tuple[float, float]:
        if not self.citizens:
            return self.opinion[0], self.opinion[1]
        n = len(self.citizens)
        return sum(x.op_us for x in self.citizens) / n, sum(x.op_cn for x in self.citizens) / n

    def observe(self) -> None:
        """Pain, gap, reliability, public and leader stance from the current state."""
        self.observe_threat()
        self.pain = 100.0 * self.exports_to_gdp * self.exports_us * self.tariff
        self.gap = max(self.demand - self.effort, 0.0)
        self.reliability = 1.0 / (1.0 + math.exp(-self.latent))
        us, cn = self.mean_opinions()
        self.public = 0.5 * (us - cn)
        # Two-level game: the leader cannot stray further than `latitude` from the public.
        self.stance = min(max(self.orientation, self.public - self.latitude), self.public + self.latitude)

    def china_share(self) -> float:
        other = 1.0 - self.share_us0 - self.share_cn0
        return self.exports_cn / (self.exports_us + self.exports_cn + other)

    # -- choice ---------------------------------------------------------------------------------
    def decide(self) -> str:
        m, pol, c, a = self.model, self.model.params.ally_policy, self.model.compiled, self.position
        pain_rise = max(self.pain - self.pain0, 0.0)
        rel, threat, stance = self.reliability, self.threat, self.stance
        concede = (pol.concede_base_utility + pol.concede_protection_weight * threat * rel
                   + pol.concede_pain_weight * pain_rise + pol.concede_stance_weight * stance)
        # Forward-looking: the relief a concession is expected to buy, forecast with the patron's rule.
        upol = m.params.us_policy
        gain = (relief_chance(patron_utilities(upol, self, m.month, True, False))
                - relief_chance(patron_utilities(upol, self, m.month, False, False)))
        concede += pol.concede_expected_relief_weight * max(gain, 0.0) * pain_rise
        hedge = (pol.hedge_base_utility + pol.hedge_unreliability_weight * (1.0 - rel)
                 - pol.hedge_stance_weight * stance + pol.hedge_pain_weight * pain_rise)
        retaliate = (pol.retaliate_base_utility + pol.retaliate_pain_weight * pain_rise
                     - pol.retaliate_threat_weight * threat)
        chip = NEG
        if self.chip and not self.chip_used and m.month >= c.chip_from[a]:
            chip = float(c.chip_base[a]) + float(c.chip_pain[a]) * pain_rise
        # Accommodating Beijing: under its coercion, with dependence on its market, for conciliatory leaders.
        accommodate = (pol.accommodate_base_utility + pol.accommodate_coercion_weight * (self.china_last == "coerce")
                       + pol.accommodate_dependence_weight * self.china_share()
                       - pol.accommodate_stance_weight * stance)
        u = self.draw(rng.STREAM_DECISION_ALLY, a)
        return ALLY_OPTIONS[logit_choice([0.0, concede, hedge, retaliate, chip, accommodate], u)]


class CitizenAgent(mesa.Agent):
    """One citizen of one ally: a group and two opinions (favourability of the patron, of the challenger).

    Friedkin–Johnsen update: pulled toward the public mean (conformity) and their own first opinion
    (stubbornness), moved by their group's share of this month's shocks, plus uniform noise."""

    def __init__(self, model, ally: AllyAgent, number: int, group: int, op_us: float, op_cn: float):
        super().__init__(model)
        self.ally, self.number, self.group = ally, number, group
        self.op_us, self.op_cn = op_us, op_cn
        self.anchor_us, self.anchor_cn = op_us, op_cn

    def noise(self, opinion: int) -> float:
        """The draw for (ally, citizen, opinion) this month (rng.noise_uniform, as the compiled step takes it)."""
        n = len(self.ally.citizens)
        return rng.noise_uniform(self.model.citizen_key, (self.ally.position * n + self.number) * 2 + opinion)

    def update(self, mean_us: float, mean_cn: float, shock_us: list[float], shock_cn: list[float]) -> None:
        pop = self.model.params.population
        scale = pop.opinion_noise_sd * math.sqrt(12.0)  # uniform noise with sd = opinion_noise_sd

        def moved(x, mean, anchor, shock, opinion):
            x = (x + pop.conformity * (mean - x) + pop.stubbornness * (anchor - x) + shock[self.group]
                 + scale * (self.noise(opinion) - 0.5))
            return min(max(x, -1.0), 1.0)

        self.op_us = moved(self.op_us, mean_us, self.anchor_us, shock_us, 0)
        self.op_cn = moved(self.op_cn, mean_cn, self.anchor_cn, shock_cn, 1)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))
