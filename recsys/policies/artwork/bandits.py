"""Beta-Bernoulli Thompson sampling per (title, variant), in distribution: the propensity of
each variant is the probability that its posterior draw is the best (Monte Carlo over all
titles at once), so off-policy evaluation gets exact propensities."""

from __future__ import annotations


import numpy as np

from recsys.core.params import store_params
from recsys.core.rng import generator
from recsys.core.logs import Logs
from recsys.policies.artwork.base import (_check_reward, _check_sampling, ArtworkPolicy, _check, _resolve_seed, best_variant_probability,
                                         impression_rewards, variant_layout)


class BetaThompson(ArtworkPolicy):
    """Thompson sampling with a Beta posterior per artwork variant (context-free).

    Parameters: ``reward`` (click | play | minutes, see :func:`impression_rewards`),
    ``threshold_minutes`` and ``minutes_cap`` for the play rewards, the Beta prior
    ``prior_alpha``/``prior_beta``, ``n_sim`` Monte Carlo draws per title and update, ``decay``
    (multiplies the posterior counts before each update; 1 = stationary), ``epsilon`` (mix in
    a uniform choice, so every variant keeps a positive propensity) and ``random_state``.
    A fractional reward r (minutes) adds r to alpha and 1 - r to beta.

    Fitted state: ``alpha_``, ``beta_`` (A,), ``probs_`` (A,) the selection probabilities,
    ``n_updates_``.
    """

    name = "bandit"

    def __init__(self, reward: str = "click", threshold_minutes: float = 2.0, minutes_cap: float = 60.0,
                 prior_alpha: float = 1.0, prior_beta: float = 1.0, n_sim: int = 256, decay: float = 1.0,
                 epsilon: float = 0.0, random_state: int | None = 0):
        store_params(self, locals())

    def check_params(self):
        n = self.name
        _check_reward(self)
        _check(self.prior_alpha > 0 and self.prior_beta > 0,
               f"artwork {n}: prior_alpha and prior_beta must be positive")
        _check(0 < self.decay <= 1, f"artwork {n}: decay must be in (0, 1], got {self.decay}")
        _check_sampling(self)
        return self

    def fit(self, catalog, logs=None):
        super().fit(catalog, logs)
        self.seed_ = _resolve_seed(self.random_state)
        self.alpha_ = np.full(catalog.n_artwork, float(self.prior_alpha))
        self.beta_ = np.full(catalog.n_artwork, float(self.prior_beta))
        self.n_updates_ = 0
        if logs is not None:
            self._absorb([self.summarize(logs)])
        self._refresh()
        return self

    def update(self, logs):
        return self.learn([self.summarize(logs)])

    def summarize(self, logs: Logs) -> tuple[np.ndarray, np.ndarray]:
        """Rewards and trials per artwork variant in ``logs``: the Beta posterior's sufficient
        statistics, which add up over shards."""
        rows = impression_rewards(logs, self.reward, self.threshold_minutes, self.minutes_cap)
        A = self.catalog_.n_artwork
        art = rows["artwork"].to_numpy(dtype=np.int64)
        return np.bincount(art, weights=rows["reward"].to_numpy(), minlength=A), np.bincount(art, minlength=A)

    def learn(self, parts):
        if self.decay < 1:
            self.alpha_ = self.prior_alpha + self.decay * (self.alpha_ - self.prior_alpha)
            self.beta_ = self.prior_beta + self.decay * (self.beta_ - self.prior_beta)
        trials = self._absorb(parts)
        self.n_updates_ += 1
        # a title whose posterior did not move keeps its selection probabilities
        changed = None if self.decay < 1 else np.unique(self.catalog_.art_title[trials > 0])
        self._refresh(changed)
        return self

    def _absorb(self, parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        A = self.catalog_.n_artwork
        success, trials = np.zeros(A), np.zeros(A, dtype=np.int64)
        for s, t in parts:        # in shard order: the same sums whatever the number of workers
            success += s
            trials += t
        self.alpha_ += success
        self.beta_ += trials - success
        return trials

    def _refresh(self, titles: np.ndarray | None = None) -> None:
        """Selection probabilities from the posterior, for ``titles`` (default: all)."""
        rng = generator(self.seed_, "artwork-ts", self.n_updates_)
        a, b = self.alpha_, self.beta_

        def draw(arts, n_sim, g):
            return g.beta(a[arts][:, None], b[arts][:, None], size=(len(arts), n_sim))

        c = self.catalog_
        p = best_variant_probability(c, draw, int(self.n_sim), rng, titles)
        if self.epsilon > 0:
            n_var = np.diff(c.art_offsets)[c.art_title]
            p = (1 - self.epsilon) * p + self.epsilon / n_var
        if titles is None:
            self.probs_ = p
        else:
            arts = np.isin(c.art_title, titles)
            self.probs_ = self.probs_.copy()
            self.probs_[arts] = p[arts]
        local, V = variant_layout(c)
        table = np.zeros((c.n_titles, V))
        table[c.art_title, local] = self.probs_
        self.table_ = table

    def posterior_mean(self) -> np.ndarray:
        """Posterior mean reward of every artwork variant, (A,)."""
        return self.alpha_ / (self.alpha_ + self.beta_)

    def variant_probs(self, titles, ctx):
        p = self.table_[np.maximum(titles, 0)]
        return np.where((np.asarray(titles) >= 0)[..., None], p, 0.0)


class BanditClick(BetaThompson):
    """Thompson sampling on clicks: learns the variant with the highest click rate."""

    name = "bandit-click"

    def __init__(self, prior_alpha: float = 1.0, prior_beta: float = 1.0, n_sim: int = 256, decay: float = 1.0,
                 epsilon: float = 0.0, random_state: int | None = 0):
        super().__init__("click", 2.0, 60.0, prior_alpha, prior_beta, n_sim, decay, epsilon, random_state)

    def get_params(self):
        p = super().get_params()
        for k in ("reward", "threshold_minutes", "minutes_cap"):
            p.pop(k)
        return p


class BanditPlay(BetaThompson):
    """Thompson sampling on qualified plays (a click then more than ``threshold_minutes``), or on
    minutes watched with ``reward="minutes"``: learns the variant that leads to real viewing."""

    name = "bandit-play"

    def __init__(self, reward: str = "play", threshold_minutes: float = 2.0, minutes_cap: float = 60.0,
                 prior_alpha: float = 1.0, prior_beta: float = 1.0, n_sim: int = 256, decay: float = 1.0,
                 epsilon: float = 0.0, random_state: int | None = 0):
        super().__init__(reward, threshold_minutes, minutes_cap, prior_alpha, prior_beta, n_sim, decay,
                         epsilon, random_state)

    def check_params(self):
        _check(self.reward in ("play", "minutes"),
               f"artwork bandit-play: reward must be play or minutes, got {self.reward!r}")
        return super().check_params()
