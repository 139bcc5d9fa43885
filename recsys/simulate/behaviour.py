"""The user model's equations, vectorised over (user, title, artwork) pairs.

Every function takes parallel arrays: ``u`` indexes rows of the user arrays given, ``t`` titles,
``a`` artwork ids. Utility is the user's hidden liking of a title; click and play outcomes are
drawn elsewhere (:mod:`recsys.simulate.engine`) from the probabilities computed here.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.world.catalog import Catalog, CatalogTruth
from recsys.world.config import WorldConfig
from recsys.world.users import UserTruth


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


class BehaviourModel:
    """Precomputes per-title terms once; evaluates utilities and probabilities for pairs."""

    def __init__(self, config: WorldConfig, catalog: Catalog, truth: CatalogTruth):
        self.config = config
        self.b = config.behaviour
        self.catalog = catalog
        self.truth = truth
        g = catalog.genres
        counts = np.asarray(g.sum(1)).ravel()
        self.genre_share = np.asarray((sp.diags(1.0 / counts) @ g).todense(), dtype=np.float32)  # (T, G)
        b = self.b
        self.title_base = (b.quality_weight * truth.quality + b.fame_weight * truth.fame).astype(np.float32)
        self.is_movie = catalog.kind == 0
        self.runtime = catalog.runtime.astype(np.float32)
        self.cast_scale = np.float32(1.0 / np.sqrt(truth.cast_latent.shape[1]))

    def utility(self, users: UserTruth, u: np.ndarray, t: np.ndarray, day: int) -> np.ndarray:
        """Content utility of title ``t`` for user row ``u`` (before artwork, satiation, memory)."""
        b = self.b
        tr = self.truth
        util = b.taste_weight * rowdot(users.taste[u], tr.latent[t])
        util += b.genre_weight * rowdot(users.genre_affinity[u], self.genre_share[t])
        util += b.cast_weight * rowdot(users.cast_taste[u], tr.cast_vec[t])
        util += self.title_base[t]
        age = day - self.catalog.release_day[t]
        util += b.novelty_weight * users.novelty[u] * np.exp2(-np.maximum(age, 0) / b.novelty_halflife)
        over = np.maximum(self.runtime[t] - users.runtime_tolerance[u], 0.0)
        util -= b.runtime_weight * np.where(self.is_movie[t], over / 60.0, 0.0)
        return util.astype(np.float32)

    def satiation_penalty(self, users: UserTruth, u: np.ndarray, t: np.ndarray, satiation: np.ndarray) -> np.ndarray:
        """Penalty for genres the user has had too much of lately (``satiation`` rows aligned with ``u``)."""
        return (self.b.satiation_weight * users.satiation[u] * rowdot(satiation, self.genre_share[t])).astype(np.float32)

    def artwork_match(self, users: UserTruth, u: np.ndarray, a: np.ndarray) -> np.ndarray:
        """How well the variant's theme speaks to the user's taste (genre, cast member, mood)."""
        c = self.catalog
        theme = c.art_theme[a]
        out = np.zeros(len(a), dtype=np.float32)
        g = theme == 0
        out[g] = users.genre_affinity[u[g], c.art_genre[a[g]]]
        k = theme == 1
        out[k] = rowdot(users.cast_taste[u[k]], self.truth.cast_latent[c.art_cast[a[k]]]) * self.cast_scale
        m = theme == 2
        out[m] = users.mood[u[m], c.art_mood[a[m]]]
        return out

    def click_probability(self, util: np.ndarray, sat_penalty: np.ndarray, users: UserTruth, u: np.ndarray,
                          a: np.ndarray, repeated: np.ndarray, watched: np.ndarray) -> np.ndarray:
        b = self.b
        logit = (b.click_bias + util - sat_penalty
                 + b.appeal_weight * self.truth.art_appeal[a]
                 + b.match_weight * self.artwork_match(users, u, a)
                 - b.repeat_weight * repeated - b.watched_weight * watched)
        return sigmoid(logit).astype(np.float32)

    def abandon_probability(self, watch_util: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Early abandonment (< 2 minutes): likelier for weak matches and dishonest artwork."""
        b = self.b
        honesty = np.where(a >= 0, self.truth.art_honesty[np.maximum(a, 0)], 1.0)
        return sigmoid(b.abandon_bias - b.abandon_utility * watch_util
                       + b.abandon_dishonesty * (1.0 - honesty)).astype(np.float32)

    def play_outcome(self, watch_util: np.ndarray, t: np.ndarray, a: np.ndarray, abandoned: np.ndarray,
                     u_complete: np.ndarray, u_binge: np.ndarray, u_frac: np.ndarray, z_budget: np.ndarray):
        """Minutes, completion and episodes of plays, from random draws made by the caller.

        The user means to finish (probability rising with utility) and binge further episodes of
        a series; the sitting's time budget (lognormal, ``z_budget`` standard normal) cuts the
        play short. ``u_binge`` is (n, max_episodes - 1): one uniform per further episode.
        """
        b = self.b
        rt = self.runtime[t]
        honesty = np.where(a >= 0, self.truth.art_honesty[np.maximum(a, 0)], 1.0)
        p_complete = sigmoid(b.complete_bias + b.complete_utility * watch_util - b.complete_dishonesty * (1.0 - honesty))
        completed = (u_complete < p_complete) & ~abandoned
        p_binge = sigmoid(b.binge_bias + b.binge_utility * watch_util)
        more = np.cumprod(u_binge < p_binge[:, None], axis=1).sum(1) if u_binge.shape[1] else 0
        episodes = np.where(self.is_movie[t], 1, 1 + more)
        episodes = np.minimum(episodes, self.catalog.episodes[t]).astype(np.int8)
        last = np.where(completed, 1.0, 0.1 + 0.6 * u_frac)
        minutes = np.where(self.is_movie[t], rt * last, (episodes - 1) * rt + rt * last)
        budget = b.session_minutes_median * np.exp(b.session_minutes_sigma * z_budget + b.session_minutes_utility * watch_util)
        cut = minutes > budget
        whole = np.floor(budget / rt)  # series: episodes that fit in the sitting
        episodes = np.where(cut & ~self.is_movie[t], np.maximum(whole, 1), episodes)
        completed = completed & (~cut | (~self.is_movie[t] & (whole >= 1)))
        minutes = np.where(cut, np.where(self.is_movie[t] | (whole < 1), budget, whole * rt), minutes)
        minutes = np.where(abandoned, 0.2 + 1.7 * u_frac, minutes)
        episodes = np.where(abandoned, 1, episodes).astype(np.int8)
        return minutes.astype(np.float32), completed, episodes
