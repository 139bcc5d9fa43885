"""The user model's equations, vectorised over (user, title, artwork) pairs.

Every function takes parallel arrays: ``u`` indexes rows of the user arrays given, ``t`` titles,
``a`` artwork ids. Utility is the user's hidden liking of a title; click and play outcomes are
drawn elsewhere (:mod:`recsys.simulate.engine`) from the probabilities computed here.

:class:`UserView` is a shard's users as the model meets them on one day: their static traits,
their drifting tastes, and the genre terms of utility (affinity, satiation, boredom) folded
into one vector per user, so that a pair's felt utility costs one product per term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.core.page import ROW_KINDS
from recsys.world.catalog import Catalog, CatalogTruth
from recsys.world.config import WorldConfig
from recsys.world.users import UserTruth

#: a page's look (what a user gets used to), its slots weighted by attention: the share per row
#: kind, how well known its titles are (renown), the share of cards not in their title's usual artwork
LOOK_ROWS = len(ROW_KINDS)
LOOK_SIZE = LOOK_ROWS + 2


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def take(a: np.ndarray, i: np.ndarray) -> np.ndarray:
    """``a[i]`` along the first axis: the same values, several times faster than fancy indexing
    for the per-pair gathers of user and title rows here."""
    return np.take(a, i, axis=0)


@dataclass(frozen=True, eq=False)
class UserView:
    """One day's view of a shard's users: ``traits`` (static, hidden), ``taste`` (n, D) the
    current latent taste, ``genre_term`` (n, G) the genre part of felt utility (affinity minus
    satiation and the share of boredom a card's pull feels), ``boredom_term`` (n, G) the rest of
    the boredom, which spoils watching a genre, ``change`` (n,)
    the strength of the reaction to a changed page (positive: curious, negative: averse; zero
    when the transient is switched off)."""

    traits: UserTruth
    taste: np.ndarray
    genre_term: np.ndarray
    boredom_term: np.ndarray
    change: np.ndarray


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
        # how well known a title is, as a percentile of what draws everyone (quality, star cast)
        self.renown = ((np.argsort(np.argsort(self.title_base, kind="stable"), kind="stable") + 0.5)
                       / len(self.title_base)).astype(np.float32)

    def utility(self, users: UserTruth, u: np.ndarray, t: np.ndarray, day: int) -> np.ndarray:
        """Content utility of title ``t`` for user row ``u`` (before artwork, satiation, memory)."""
        b = self.b
        tr = self.truth
        util = b.taste_weight * rowdot(take(users.taste, u), take(tr.latent, t))
        util += b.genre_weight * rowdot(take(users.genre_affinity, u), take(self.genre_share, t))
        return self._add_title_terms(util, users, u, t, day)

    def _add_title_terms(self, util: np.ndarray, users: UserTruth, u: np.ndarray, t: np.ndarray,
                         day: int) -> np.ndarray:
        """Add what does not drift to a taste-and-genre utility: cast, the title's base appeal,
        a new release's pull and the runtime a movie asks beyond the user's tolerance."""
        b = self.b
        util += b.cast_weight * rowdot(take(users.cast_taste, u), take(self.truth.cast_vec, t))
        util += take(self.title_base, t)
        fresh = np.exp2(-np.maximum(day - self.catalog.release_day, 0) / b.novelty_halflife)   # per title, not per pair
        util += b.novelty_weight * take(users.novelty, u) * take(fresh, t)
        over = np.maximum(take(self.runtime, t) - take(users.runtime_tolerance, u), 0.0)
        util -= b.runtime_weight * np.where(take(self.is_movie, t), over / 60.0, 0.0)
        return util.astype(np.float32)

    def view(self, traits: UserTruth, taste: np.ndarray, affinity: np.ndarray, satiation: np.ndarray,
             boredom: np.ndarray, habit: np.ndarray) -> UserView:
        """The day's :class:`UserView` from the users' traits and dynamic state (rows aligned)."""
        b = self.b
        sens = traits.satiation[:, None]
        tol = (b.boredom_tolerance + b.boredom_habit * (habit - b.habit_reference))[:, None]
        bored = b.boredom_weight * sens * np.maximum(boredom - tol, 0.0) ** b.boredom_power
        term = b.genre_weight * affinity - b.satiation_weight * sens * satiation - b.boredom_click * bored
        change = (b.change_curiosity * traits.novelty - b.change_aversion * habit) if b.change_reaction else \
            np.zeros(len(habit), np.float32)
        return UserView(traits, taste, term.astype(np.float32), ((1.0 - b.boredom_click) * bored).astype(np.float32),
                        change.astype(np.float32))

    def boredom_penalty(self, view: UserView, u: np.ndarray, t: np.ndarray) -> np.ndarray:
        """How much boredom with its genres spoils watching title ``t`` for user row ``u``, beyond
        the share ``boredom_click`` the card's pull already felt: boredom shows mostly in the
        play (abandonment, completion, bingeing, time sat), less in what the user expects of it."""
        return rowdot(take(view.boredom_term, u), take(self.genre_share, t)).astype(np.float32)

    def felt_utility(self, view: UserView, u: np.ndarray, t: np.ndarray, day: int) -> np.ndarray:
        """Utility of title ``t`` for user row ``u`` today as the card promises it: :meth:`utility`
        with the current taste and affinity, less satiation and the felt share of boredom (before
        artwork and memory)."""
        b = self.b
        tr = self.truth
        users = view.traits
        util = b.taste_weight * rowdot(take(view.taste, u), take(tr.latent, t))
        util += rowdot(take(view.genre_term, u), take(self.genre_share, t))
        return self._add_title_terms(util, users, u, t, day)

    def page_change(self, look: np.ndarray, familiar: np.ndarray) -> np.ndarray:
        """How unlike the familiar look (rows of ``familiar``; -1 in the first column: none yet)
        today's page ``look`` is, in [0, 1]: a weighted mean of the total-variation distance of
        the row kinds and the gaps in how well known the titles are and in unusual artwork."""
        b = self.b
        k = LOOK_ROWS
        rows = 0.5 * np.abs(look[:, :k] - familiar[:, :k]).sum(1)
        d = (b.change_rows * rows + b.change_titles * np.abs(look[:, k] - familiar[:, k])
             + b.change_artwork * np.abs(look[:, k + 1] - familiar[:, k + 1]))
        d /= max(b.change_rows + b.change_titles + b.change_artwork, 1e-12)
        return np.where(familiar[:, 0] >= 0, d, 0.0).astype(np.float32)

    def change_felt(self, d: np.ndarray) -> np.ndarray:
        """The part of a page's change (:meth:`page_change`) a user notices: what exceeds
        ``change_threshold``, so that the day-to-day wobble of a steady page goes unnoticed."""
        return np.maximum(d - self.b.change_threshold, 0.0).astype(np.float32)

    def satiation_penalty(self, users: UserTruth, u: np.ndarray, t: np.ndarray, satiation: np.ndarray) -> np.ndarray:
        """Penalty for genres the user has had too much of lately (``satiation`` rows aligned with ``u``)."""
        return (self.b.satiation_weight * users.satiation[u] * rowdot(satiation, self.genre_share[t])).astype(np.float32)

    def artwork_match(self, users: UserTruth, u: np.ndarray, a: np.ndarray) -> np.ndarray:
        """How well the variant's theme speaks to the user's taste (genre, cast member, mood)."""
        c = self.catalog
        theme = take(c.art_theme, a)
        out = np.zeros(len(a), dtype=np.float32)
        g = np.flatnonzero(theme == 0)          # positions and flat gathers: the cheap way on every page
        ug, ag = take(u, g), take(a, g)
        out[g] = take(users.genre_affinity.ravel(), ug * users.genre_affinity.shape[1] + take(c.art_genre, ag))
        k = np.flatnonzero(theme == 1)
        out[k] = rowdot(take(users.cast_taste, take(u, k)),
                        take(self.truth.cast_latent, take(c.art_cast, take(a, k)))) * self.cast_scale
        m = np.flatnonzero(theme == 2)
        um, am = take(u, m), take(a, m)
        out[m] = take(users.mood.ravel(), um * users.mood.shape[1] + take(c.art_mood, am))
        return out

    def click_probability(self, util: np.ndarray, sat_penalty: np.ndarray, users: UserTruth, u: np.ndarray,
                          a: np.ndarray, repeated: np.ndarray, watched: np.ndarray,
                          change: np.ndarray | float = 0.0) -> np.ndarray:
        """``change``: the logit shift of the user's reaction to a changed page (0: none)."""
        b = self.b
        logit = (b.click_bias + util - sat_penalty
                 + b.appeal_weight * take(self.truth.art_appeal, a)
                 + b.match_weight * self.artwork_match(users, u, a)
                 - b.repeat_weight * repeated - b.watched_weight * watched + change)
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
