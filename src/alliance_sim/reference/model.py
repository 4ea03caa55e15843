"""``ReferenceModel``: one alliance world per ``mesa.Model``, written the way a Mesa user would.

Why it exists: it is an independent oracle for the compiled step.  It re-states the rules of
``alliance_sim.model.step`` in plain Python floats (no arrays over replicates, no compiled code) with
country and citizen agents, and draws the same counter-based random numbers as replicate ``replicate``
of the ensemble, so both must produce the same trajectory
(tests/test_reference_differential.py).  It is also the baseline the benchmark runs under
``mesa.batch_run``.

Month t: every agent chooses from the state at t, then the model applies all choices and the month's
inputs in the step's order: patron moves, allies' effort, trade, threat, reliability, citizens,
leaders, ties (docs/model.md §3).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import mesa
import numpy as np

from alliance_sim.model import rng
from alliance_sim.model.compiled import (
    GROUP_APPEAL_SENSITIVITY,
    GROUP_BACKLASH_SENSITIVITY,
    GROUP_TARIFF_SENSITIVITY,
    GROUP_THREAT_SENSITIVITY,
    citizen_groups,
    compile_parameters,
    group_mix,
)
from alliance_sim.model.parameters import Parameters
from alliance_sim.reference.agents import (
    AdversaryAgent,
    AllyAgent,
    ChallengerAgent,
    CitizenAgent,
    CountryAgent,
    PatronAgent,
)

TIE_LIMIT = 0.999  # ties stay inside (-1, 1) so that atanh is finite


class ReferenceModel(mesa.Model):
    """One replicate world.  ``seed`` and ``replicate`` select the engine's random draws.

    ``seed`` (not ``rng``) names the seed so that ``mesa.batch_run(..., rng=[seed])`` passes it
    here; the varying ``replicate`` goes in batch_run's ``parameters``.
    """

    def __init__(self, params: Parameters | None = None, replicate: int = 0, seed: int | None = None,
                 months: int | None = None):
        params = params if params is not None else Parameters()
        seed = params.simulation.seed if seed is None else int(seed)
        super().__init__(rng=seed)
        self.params = params
        self.replicate = int(replicate)
        c = self.compiled = compile_parameters(params, months)  # schedules by month, constants
        self.keys = rng.replicate_keys(seed, np.array([self.replicate]))
        self.month = 0
        self.decisions: dict | None = None
        self.ties = [[float(x) for x in row] for row in c.initial_ties]

        # Country agents, each starting at the stationary threat stock of the start-month rates.
        stock0 = [[0.0] * len(c.sources) for _ in c.actors]
        for k, proc in enumerate(params.threats.values()):
            flow_rate = float(c.proc_rate[0, k]) * proc.mean_magnitude
            for i in range(c.n):
                stock0[i][int(c.proc_source[k])] += float(c.proc_weights[k, i]) * flow_rate
        stock0 = [[h / (1.0 - c.retention) for h in row] for row in stock0]
        self.countries: list[CountryAgent] = []
        self.ally_agents: list[AllyAgent] = []
        self.adversary_agents: list[AdversaryAgent] = []
        for i, name in enumerate(c.actors):
            role = params.actors[name].role
            if role == "ally":
                agent = AllyAgent(self, name, i, stock0[i], position=len(self.ally_agents))
                self.ally_agents.append(agent)
            elif role == "adversary":
                agent = AdversaryAgent(self, name, i, stock0[i], position=len(self.adversary_agents))
                self.adversary_agents.append(agent)
            elif role == "patron":
                agent = self.patron = PatronAgent(self, name, i, stock0[i])
            else:
                agent = self.challenger = ChallengerAgent(self, name, i, stock0[i])
            self.countries.append(agent)
        self._create_citizens()
        for ally in self.ally_agents:
            ally.observe()
        self._observe_ties()
        for ally in self.ally_agents:
            ally.prev_alignment = ally.alignment
        # Intercepts make the start-month ties the equilibrium of the start-month forces.
        drivers = self.tie_drivers(self.ties)
        balance = self.balance(self.ties)
        bw = params.mechanisms.balance_weight
        self.intercept = [[0.0 if i == j else math.atanh(min(max(self.ties[i][j], -TIE_LIMIT), TIE_LIMIT))
                           - bw * balance[i][j] - drivers[i][j] for j in range(c.n)] for i in range(c.n)]
        self.tie_memory = [[0.0] * c.n for _ in range(c.n)]  # what each pair keeps of its direct events
        self.datacollector = mesa.DataCollector(model_reporters=self._reporters())
        self.datacollector.collect(self)

    # -- set-up ---------------------------------------------------------------------------------
    def _create_citizens(self) -> None:
        """N citizens per ally, opinions normal around 2f − 1 (Box–Muller of the engine's draws)."""
        pop, c = self.params.population, self.compiled
        N, A = pop.size_per_ally, c.n_allies
        if N == 0:
            return
        u = rng.uniforms(self.keys, 0, rng.STREAM_CITIZEN_INIT, 4 * A * N)[0]
        groups = citizen_groups(N, pop)

        def normal(o, a, i):
            k = ((o * A + a) * N + i) * 2
            return math.sqrt(-2.0 * math.log(u[k])) * math.cos(2.0 * math.pi * u[k + 1])

        for ally in self.ally_agents:
            a = ally.position
            for i in range(N):
                op_us = min(max(ally.anchor[0] + pop.opinion_spread * normal(0, a, i), -1.0), 1.0)
                op_cn = min(max(ally.anchor[1] + pop.opinion_spread * normal(1, a, i), -1.0), 1.0)
                ally.citizens.append(CitizenAgent(self, ally, i, int(groups[i]), op_us, op_cn))

    def _reporters(self) -> dict:
        def per_ally(attr):
            return lambda m: {a.name: getattr(a, attr) for a in m.ally_agents}

        reps = {"month": "month", "cohesion": "cohesion", "decisions": "decisions",
                "ties": lambda m: {f"{m.compiled.actors[i]}-{m.compiled.actors[j]}": m.ties[i][j]
                                   for i, j in m.compiled.pairs},
                "threat": lambda m: {x.name: x.threat for x in m.countries}}
        for attr in ("alignment", "tariff", "demand", "pain", "gap", "reliability", "public", "stance",
                     "orientation", "effort", "exports_us", "exports_cn"):
            reps[attr] = per_ally(attr)
        return reps

    # -- ties -----------------------------------------------------------------------------------
    @staticmethod
    def balance(ties) -> list[list[float]]:
        """Triadic balance pressure B_ij = Σ_k T_ik T_kj / (n − 2) (Heider; Marvel et al. 2011)."""
        n = len(ties)
        return [[0.0 if i == j else sum(ties[i][k] * ties[k][j] for k in range(n)) / max(n - 2, 1)
                 for j in range(n)] for i in range(n)]

    def tie_drivers(self, ties) -> list[list[float]]:
        """D_ij: the sum of the mechanism terms on each tie, given the agents' current state."""
        m, c = self.params.mechanisms, self.compiled
        n, p, ch = c.n, c.patron, c.challenger
        C = [[0.0] * n for _ in range(n)]
        for ally in self.ally_agents:
            i = ally.index
            entrap = (float(c.entrapment[ally.position]) * max(-ties[p][ch], 0.0)
                      * max(ties[i][p], 0.0))  # Snyder: close to a patron in conflict
            C[i][p] += (m.threat_weight * ally.threat * ally.reliability    # balance of threat
                        - m.tariff_weight * ally.pain                       # tariff strain
                        - m.burden_weight * ally.gap                        # burden friction
                        - m.entrapment_weight * entrap
                        + m.leader_weight * ally.stance)                    # domestic stance
            C[i][ch] += m.china_trade_weight * ally.china_share() - m.leader_weight * ally.stance
        for s, j in enumerate(c.source_actor):
            if j >= 0:  # whoever causes a threat is disliked by those who perceive it
                for x in self.countries:
                    C[x.index][j] -= m.source_threat_weight * (1.0 - math.exp(-x.stock[s]))
        for k, x in enumerate(self.ally_agents):
            for y in self.ally_agents[k + 1:]:
                C[x.index][y.index] += m.common_threat_weight * min(x.threat, y.threat)
                # Cha's quasi-alliance: shared fear of abandonment draws the allies together
                C[x.index][y.index] += m.quasi_alliance_weight * min(1.0 - x.reliability, 1.0 - y.reliability)
        return [[0.0 if i == j else C[i][j] + C[j][i] for j in range(n)] for i in range(n)]

    def _observe_ties(self) -> None:
        c = self.compiled
        for ally in self.ally_agents:
            ally.alignment = 0.5 * (self.ties[ally.index][c.patron] - self.ties[ally.index][c.challenger])
        total = 0.0
        for i, j in c.alliance_pairs:
            total += self.ties[i][j]
        self.cohesion = total / len(c.alliance_pairs)

    # -- one month ------------------------------------------------------------------------------
    def step(self) -> None:
        """Every agent decides from month t; then month t's choices and inputs give month t+1."""
        if self.month >= self.compiled.months:
            raise RuntimeError(f"the scenario has {self.compiled.months} months; no step left")
        us = self.patron.decide()
        allies = {a.name: a.decide() for a in self.ally_agents}
        china = self.challenger.decide()
        adversaries = {d.name: d.decide() for d in self.adversary_agents}
        self.decisions = {"patron": us, "ally": allies, "challenger": china, "adversary": adversaries}
        self._apply(self.month, us, allies, china, adversaries)
        self.month += 1
        self.running = self.month < self.compiled.months
        self.datacollector.collect(self)

    def _apply(self, t: int, us: dict, allies: dict, china: dict, adversaries: dict) -> None:
        p, c = self.params, self.compiled
        m, pop, upol, apol, cpol = p.mechanisms, p.population, p.us_policy, p.ally_policy, p.china_policy
        old_ties = [row[:] for row in self.ties]
        old_threat = {x.name: x.threat for x in self.countries}
        src_ch = c.sources.index(p.challenger)
        old_threat_ch = {a.name: 1.0 - math.exp(-a.stock[src_ch]) for a in self.ally_agents}
        old_tariff = {a.name: a.tariff for a in self.ally_agents}

        u_trade = rng.uniforms(self.keys, t, rng.STREAM_TRADE_SHOCK, 2 * c.n_allies)[0]
        for ally in self.ally_agents:
            a, name = ally.position, ally.name
            # The patron's tariff and demand moves.
            move = 1.0 if us[name] == "escalate_tariff" else -1.0 if us[name] == "relieve_tariff" else 0.0
            offset = min(ally.tariff_offset + upol.tariff_step * move, upol.max_tariff_offset)
            ally.tariff_offset = max(offset, -float(c.country_rate[t, a]))  # relief stops at zero
            ally.demand_offset += upol.demand_step * (us[name] == "raise_demand")
            ally.tariff = ally.effective_tariff(t, ally.tariff_offset)
            ally.demand = float(c.demand[t, a]) + ally.demand_offset
            # The ally's own move.
            chipped = allies[name] == "play_chip"
            ally.effort = (ally.effort + apol.concede_effort_step * (allies[name] == "concede")
                           + float(c.chip_effort[a]) * chipped)
            ally.chip_used = ally.chip_used or chipped
            ally.bonus_left = int(c.chip_months[a]) if chipped else max(ally.bonus_left - 1, 0)
            # Trade: exports to the patron adjust to the tariff; part of the loss re-routes to China.
            # Exogenous moves of both targets: an AR(1) deviation each, fed by a uniform innovation of sd σ.
            spread = m.trade_shock_sd * math.sqrt(12.0)
            ally.trade_shock_us = m.trade_shock_persistence * ally.trade_shock_us + spread * (u_trade[2 * a] - 0.5)
            ally.trade_shock_cn = (m.trade_shock_persistence * ally.trade_shock_cn
                                   + spread * (u_trade[2 * a + 1] - 0.5))
            target_us = (ally.share_us0 * ((1.0 + ally.tariff) / (1.0 + ally.tariff0)) ** (-m.trade_elasticity)
                         + ally.trade_shock_us)
            ally.exports_us = max(ally.exports_us + m.trade_adjustment_rate * (target_us - ally.exports_us), 0.0)
            target_cn = (ally.share_cn0 + m.diversion_to_china * (ally.share_us0 - ally.exports_us)
                         + ally.trade_shock_cn)
            exports_cn = max(ally.exports_cn + m.trade_adjustment_rate * (target_cn - ally.exports_cn), 0.0)
            access = (cpol.inducement_market_access * (china[name] == "induce")
                      - cpol.coercion_export_loss * (china[name] == "coerce"))
            ally.exports_cn = max(exports_cn + ally.share_cn0 * access, 0.0)
            ally.us_last, ally.last_decision, ally.china_last = us[name], allies[name], china[name]

        self._threat_events(t, china, adversaries, src_ch)

        for ally in self.ally_agents:
            a = ally.position
            # Reliability (fear of abandonment) moves toward what tariffs and demands say.
            pain = 100.0 * ally.exports_to_gdp * ally.exports_us * ally.tariff
            gap = max(ally.demand - ally.effort, 0.0)
            latent0 = _logit(float(c.reliability0[a]))
            target = (latent0 - m.reliability_tariff_sensitivity * (pain - ally.pain0)
                      - m.reliability_demand_sensitivity * (gap - ally.gap0))
            # Memory: part of the worst recent loss of trust stays, healing slowly; it binds once the shock eases.
            loss = max(latent0 - target, 0.0)
            ally.trust_scar = max((1.0 - m.trust_heal_rate) * ally.trust_scar, m.trust_persistent_share * loss)
            target -= max(ally.trust_scar - loss, 0.0)
            ally.latent = (ally.latent + m.reliability_adjustment_rate * (target - ally.latent)
                           + float(c.ev_reassure[t, a]))
            self._move_public(t, ally, old_tariff[ally.name], old_threat[ally.name], old_threat_ch[ally.name],
                              china[ally.name])
            # Leaders: scripted changes, then elections that favour a hawk when the public leans to the US.
            if not math.isnan(c.ev_leader[t, a]):
                ally.orientation = float(c.ev_leader[t, a])
        u_election = (rng.uniforms(self.keys, t, rng.STREAM_ELECTION, c.n_allies)[0]
                      if c.election[t].any() else None)
        for ally in self.ally_agents:
            ally.observe()
            a = ally.position
            if c.election[t, a]:
                p_hawk = 1.0 / (1.0 + math.exp(-pop.election_public_weight * ally.public))
                ally.orientation = float(c.hawk[a] if u_election[a] < p_hawk else c.conciliatory[a])
                ally.observe()
        for x in self.countries:
            x.observe_threat()

        self._move_ties(t, old_ties, old_threat, china, allies)

    def _threat_events(self, t: int, china: dict, adversaries: dict, src_ch: int) -> None:
        """Poisson threat events (one Exp severity per process and month), scripted shocks, coercion."""
        c, p = self.compiled, self.params
        procs = list(p.threats.values())
        K = len(procs)
        add = [[0.0] * len(c.sources) for _ in c.actors]
        if K:
            u_count = rng.uniforms(self.keys, t, rng.STREAM_THREAT_COUNT, K)[0]
            u_size = rng.uniforms(self.keys, t, rng.STREAM_THREAT_MAGNITUDE, K)[0]
            for k, proc in enumerate(procs):
                rate = float(c.proc_rate[t, k])
                adv = int(c.proc_adversary[k])
                if adv >= 0 and adversaries[self.adversary_agents[adv].name] == "provoke":
                    rate *= float(c.provocation_multiplier[adv])
                severity = _poisson(float(u_count[k]), rate) * proc.mean_magnitude * (-math.log(u_size[k]))
                for i in range(c.n):
                    add[i][int(c.proc_source[k])] += severity * float(c.proc_weights[k, i])
        retention = c.retention
        for x in self.countries:
            for s in range(len(c.sources)):
                extra = add[x.index][s] + float(c.ev_threat[t, x.index, s])
                if s == src_ch and isinstance(x, AllyAgent):
                    extra += p.china_policy.coercion_threat * (china[x.name] == "coerce")
                x.stock[s] = max(retention * x.stock[s] + extra, 0.0)  # a détente cannot go below zero

    def _move_public(self, t, ally: AllyAgent, old_tariff, old_threat, old_threat_ch, china_choice) -> None:
        """Shocks by group (tariffs stir nationalism, threat rallies), then social influence and noise."""
        pop, c = self.params.population, self.compiled
        ally.observe_threat()
        d_tariff = ally.tariff - old_tariff  # signed: relief and fading threat act in reverse
        d_threat = ally.threat - old_threat
        d_threat_ch = 1.0 - math.exp(-ally.stock[c.sources.index(self.params.challenger)]) - old_threat_ch
        coerced, induced = china_choice == "coerce", china_choice == "induce"
        shock_us = [-pop.tariff_nationalism * d_tariff * float(GROUP_TARIFF_SENSITIVITY[g])
                    + pop.threat_rally * d_threat * float(GROUP_THREAT_SENSITIVITY[g]) for g in range(4)]
        shock_cn = [-pop.coercion_backlash * coerced * float(GROUP_BACKLASH_SENSITIVITY[g])
                    + pop.inducement_appeal * induced * float(GROUP_APPEAL_SENSITIVITY[g])
                    - pop.threat_rally * d_threat_ch * float(GROUP_THREAT_SENSITIVITY[g]) for g in range(4)]
        if not ally.citizens:
            mix = [float(x) for x in group_mix(pop)]
            for o, shock in enumerate((shock_us, shock_cn)):
                x = ally.opinion[o]
                x = x + pop.stubbornness * (ally.anchor[o] - x) + sum(sh * w for sh, w in zip(shock, mix, strict=True))
                ally.opinion[o] = min(max(x, -1.0), 1.0)
            return
        mean_us, mean_cn = ally.mean_opinions()
        self.citizen_key = rng.month_stream_keys(self.keys, t, rng.STREAM_CITIZEN_NOISE)[0]
        with np.errstate(over="ignore"):  # the hash wraps around 2**64 by design
            for citizen in ally.citizens:
                citizen.update(mean_us, mean_cn, shock_us, shock_cn)

    def _move_ties(self, t, old_ties, old_threat, china: dict, allies: dict) -> None:
        """Partial adjustment toward tanh(intercept + balance + drivers), decision impulses, noise."""
        p, c = self.params, self.compiled
        m, apol, cpol = p.mechanisms, p.ally_policy, p.china_policy
        n, pat, ch = c.n, c.patron, c.challenger
        drivers = self.tie_drivers(old_ties)
        balance = self.balance(old_ties)
        impulse = [[0.0] * n for _ in range(n)]
        for ally in self.ally_agents:
            i, choice, cn = ally.index, allies[ally.name], china[ally.name]
            push = m.coercion_intimidation * (old_threat[ally.name] - m.coercion_backfire_threat_level)
            impulse[i][pat] = impulse[pat][i] = (
                apol.concede_tie_impulse * (choice == "concede") + apol.hedge_tie_impulse_us * (choice == "hedge")
                + apol.retaliate_tie_impulse * (choice == "retaliate")
                + float(c.chip_tie[ally.position]) * (choice == "play_chip")
                + apol.accommodate_tie_impulse_us * (choice == "accommodate") + (cn == "coerce") * push)
            impulse[i][ch] = impulse[ch][i] = (
                apol.hedge_tie_impulse_china * (choice == "hedge")
                + apol.accommodate_tie_impulse_china * (choice == "accommodate")
                + cpol.inducement_tie_impulse * (cn == "induce")
                + cpol.coercion_tie_impulse * (cn == "coerce"))
        for i in range(n):  # direct events between two actors (a dispute, export controls, a summit)
            for j in range(n):
                event = float(c.ev_tie[t, i, j])
                impulse[i][j] += event
                # the pair's memory of them, which moves the tie's target too
                self.tie_memory[i][j] = ((1.0 - m.tie_event_heal_rate) * self.tie_memory[i][j]
                                         + m.tie_event_persistent_share * event)
        noise = [[0.0] * n for _ in range(n)]
        if m.tie_noise_sd > 0 and c.pairs:
            u = rng.uniforms(self.keys, t, rng.STREAM_TIE_NOISE, 2 * len(c.pairs))[0]
            for q, (i, j) in enumerate(c.pairs):
                z = math.sqrt(-2.0 * math.log(u[2 * q])) * math.cos(2.0 * math.pi * u[2 * q + 1])
                noise[i][j] = noise[j][i] = m.tie_noise_sd * z
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                target = math.tanh(self.intercept[i][j] + self.tie_memory[i][j] + m.balance_weight * balance[i][j]
                                   + drivers[i][j])
                x = (old_ties[i][j] + m.tie_adjustment_rate * (target - old_ties[i][j]) + impulse[i][j]
                     + noise[i][j])
                self.ties[i][j] = min(max(x, -TIE_LIMIT), TIE_LIMIT)
        for ally in self.ally_agents:
            ally.prev_alignment = ally.alignment
        self._observe_ties()


def _poisson(u: float, rate: float) -> int:
    """Poisson count by inverting the CDF with the uniform ``u`` (normal approximation above 500/month,
    where e^-rate underflows)."""
    if rate > 500.0:
        return max(math.floor(rate + math.sqrt(rate) * NormalDist().inv_cdf(u) + 0.5), 0)
    p = math.exp(-rate)
    cdf, count = p, 0
    while u > cdf and count < rate + 12.0 * math.sqrt(rate) + 20.0:
        count += 1
        p = p * rate / count
        cdf += p
    return count


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))
