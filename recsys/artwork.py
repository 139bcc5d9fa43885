"""Artwork policies: which variant of each title a page shows, and with what probability.

One small interface (as the Open Bandit Pipeline's policies): ``select`` picks a variant for a
batch of (user, title) slots and returns its propensity; ``update`` learns from one day's
logged feedback. Policies see the public catalog (variant themes), the observable user context
and the observational log columns only; never :class:`~recsys.world.catalog.CatalogTruth`.

Every policy describes itself by ``variant_probs(titles, ctx)``: for each slot, the probability
of each of the title's variants (local index ``v`` is artwork id ``art_offsets[t] + v``).
``select`` samples from it with a keyed uniform per (user, day, title), so a user's choice never
depends on who else is in the batch, and the logged propensity is exactly that probability.

Thompson sampling "in distribution": after each update the policy estimates, per title, the
probability that each variant has the highest posterior draw (Monte Carlo over all titles at
once) and samples variants from those probabilities. Marginally this is Thompson sampling, and
it gives the exact propensity that off-policy evaluation needs.

Parameters follow scikit-learn habits: ``__init__`` stores them, ``fit`` resolves state
(including the Monte Carlo generator from ``random_state``), fitted state ends in ``_``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from recsys.core.errors import InputError
from recsys.core.page import UserContext
from recsys.core.rng import KeyedRandom, generator
from recsys.core.logs import SOURCE_HOME, Logs
from recsys.world.catalog import MOODS, Catalog

REWARDS = ("click", "play", "minutes")

#: draws per Monte Carlo block (titles x variants x draws), to bound memory
_MC_BLOCK = 2_000_000
#: logged rows per block when building features for the contextual model
_ROWS_BLOCK = 250_000


# ---------------------------------------------------------------- rewards from logs

def impression_rewards(logs: Logs, reward: str = "click", threshold_minutes: float = 2.0,
                       minutes_cap: float = 60.0) -> pd.DataFrame:
    """One row per logged impression with an artwork: keys, artwork, propensity and the reward.

    ``reward``: ``click`` (1 if clicked), ``play`` (a *qualified play*: clicked and more than
    ``threshold_minutes`` watched of the play started from that impression) or ``minutes``
    (minutes watched from it, capped at ``minutes_cap`` and divided by it, so in [0, 1]).
    Plays join impressions on (user_id, day, session, title, artwork); only homepage plays count.
    Reads observational columns only.
    """
    cols = ["user_id", "day", "session", "title", "artwork", "clicked", "propensity"]
    imps = logs.impressions
    if imps is None or len(imps) == 0:
        return pd.DataFrame({"user_id": np.empty(0, np.int64), "day": np.empty(0, np.int16),
                             "session": np.empty(0, np.int8), "title": np.empty(0, np.int32),
                             "artwork": np.empty(0, np.int32), "clicked": np.empty(0, bool),
                             "propensity": np.empty(0, np.float32), "reward": np.empty(0)})
    imps = imps.loc[imps["artwork"].to_numpy() >= 0, cols].reset_index(drop=True)
    clicked = imps["clicked"].to_numpy(dtype=bool)
    if reward == "click":
        r = clicked.astype(np.float64)
    elif reward in ("play", "minutes"):
        keys = ["user_id", "day", "session", "title", "artwork"]
        plays = logs.plays
        keep = plays["artwork"].to_numpy() >= 0
        if "source" in plays:
            keep &= plays["source"].to_numpy() == SOURCE_HOME
        watched = plays.loc[keep, keys + ["minutes"]].groupby(keys, as_index=False, sort=False)["minutes"].max()
        minutes = imps[keys].merge(watched, on=keys, how="left", sort=False)["minutes"].to_numpy(dtype=np.float64)
        minutes = np.where(clicked, np.nan_to_num(minutes, nan=0.0), 0.0)
        if reward == "play":
            r = (minutes > threshold_minutes).astype(np.float64)
        else:
            r = np.minimum(minutes, minutes_cap) / minutes_cap
    else:
        raise InputError(f"unknown artwork reward {reward!r} (known: {', '.join(REWARDS)})")
    imps["reward"] = r
    return imps


# ---------------------------------------------------------------- shared helpers

def variant_layout(catalog: Catalog) -> tuple[np.ndarray, int]:
    """Local index of each artwork within its title, and the largest number of variants."""
    local = np.arange(catalog.n_artwork) - catalog.art_offsets[catalog.art_title]
    return local.astype(np.int64), int(np.diff(catalog.art_offsets).max())


def padded_art(catalog: Catalog, titles: np.ndarray) -> np.ndarray:
    """Artwork id of every variant of each title, shape ``titles.shape + (V,)``, -1 as padding."""
    _, V = variant_layout(catalog)
    t = np.maximum(titles, 0)
    start = catalog.art_offsets[t][..., None]
    n_var = np.diff(catalog.art_offsets)[t][..., None]
    v = np.arange(V)
    ok = (v < n_var) & (np.asarray(titles) >= 0)[..., None]
    return np.where(ok, start + v, -1)


def sample_variants(catalog: Catalog, titles: np.ndarray, probs: np.ndarray,
                    u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pick a variant per slot by inverting the CDF of ``probs`` (..., V) at uniforms ``u``.

    Returns global artwork ids (-1 for empty slots) and the chosen variants' probabilities.
    """
    cum = np.cumsum(probs, axis=-1)
    total = cum[..., -1:]
    cum = cum / np.where(total > 0, total, 1.0)
    local = (u[..., None] >= cum).sum(-1)
    local = np.minimum(local, probs.shape[-1] - 1)
    t = np.maximum(titles, 0)
    art = np.where(titles >= 0, catalog.art_offsets[t] + local, -1).astype(np.int32)
    prop = np.take_along_axis(probs, local[..., None], -1)[..., 0]
    prop = np.where(titles >= 0, prop, 1.0).astype(np.float32)
    return art, prop


def best_variant_probability(catalog: Catalog, draw: Callable, n_sim: int,
                             rng: np.random.Generator, titles: np.ndarray | None = None) -> np.ndarray:
    """Per artwork, the Monte Carlo probability that it beats its title's other variants.

    ``draw(art_ids, n_sim, rng)`` returns (len(art_ids), n_sim) posterior draws. Titles are
    processed in blocks, all of a block's titles at once (no loop per title). With ``titles``
    only their variants are computed (the others are left at 0).
    """
    local, V = variant_layout(catalog)
    titles = np.arange(catalog.n_titles) if titles is None else np.asarray(titles, dtype=np.int64)
    n_var = np.diff(catalog.art_offsets)
    out = np.zeros(catalog.n_artwork)
    block = max(1, _MC_BLOCK // (V * n_sim))
    for b0 in range(0, len(titles), block):
        ts = titles[b0:b0 + block]
        counts_per = n_var[ts]
        row = np.repeat(np.arange(len(ts)), counts_per)
        arts = np.repeat(catalog.art_offsets[ts], counts_per) + (np.arange(len(row)) - np.repeat(
            np.cumsum(counts_per) - counts_per, counts_per))
        samples = draw(arts, n_sim, rng)
        grid = np.full((len(ts), V, n_sim), -np.inf)
        grid[row, local[arts]] = samples
        win = grid.argmax(axis=1)                                   # (titles, n_sim)
        counts = np.bincount((np.arange(len(ts))[:, None] * V + win).ravel(),
                             minlength=len(ts) * V).reshape(len(ts), V)
        out[arts] = counts[row, local[arts]] / n_sim
    return out


def _resolve_seed(random_state) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (1 << 63))
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    raise InputError(f"random_state must be an integer or None, got {random_state!r}")


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise InputError(message)


# ---------------------------------------------------------------- policies

class ArtworkPolicy:
    """Base class. ``titles`` is (n, S) int32 with -1 for empty slots.

    A recommender calls ``fit(catalog, logs)`` once, ``select(titles, ctx, rand)`` to decorate
    each batch of pages, and ``update(logs)`` with each new day's logs.
    """

    name = "base"

    def check_params(self) -> "ArtworkPolicy":
        """Validate the constructor's parameters (InputError naming the first bad one)."""
        return self

    def fit(self, catalog: Catalog, logs: Logs | None = None) -> "ArtworkPolicy":
        self.check_params()
        self.catalog_ = catalog
        return self

    def variant_probs(self, titles: np.ndarray, ctx: UserContext) -> np.ndarray:
        """Probability of each variant, shape ``titles.shape + (V,)``; zero for padding/empty."""
        raise NotImplementedError

    def select(self, titles: np.ndarray, ctx: UserContext, rand: KeyedRandom) -> tuple[np.ndarray, np.ndarray]:
        probs = self.variant_probs(titles, ctx)
        u = rand.uniform(ctx.user_ids[:, None], ctx.day, np.maximum(titles, 0))
        return sample_variants(self.catalog_, titles, probs, u)

    def update(self, logs: Logs) -> "ArtworkPolicy":
        """Learn from a day's logs (default: nothing to learn)."""
        return self

    def summarize(self, logs: Logs):
        """What :meth:`learn` needs from one part of a day's logs, computed where that part is
        (a shard's worker), so a day's impressions never travel. Default: the logs themselves,
        or None for a policy that learns nothing."""
        return None if type(self).update is ArtworkPolicy.update else logs

    def learn(self, parts: list) -> "ArtworkPolicy":
        """Update from the :meth:`summarize` of every part of a day, in a fixed (shard) order;
        the same as ``update`` on the whole day's logs."""
        logs = [p for p in parts if p is not None]
        return self.update(Logs.concat(logs)) if logs else self

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class FixedArtwork(ArtworkPolicy):
    """Always the title's default variant (propensity 1)."""

    name = "fixed"

    def variant_probs(self, titles, ctx):
        art = padded_art(self.catalog_, titles)
        p = np.zeros(art.shape)
        p[..., 0] = titles >= 0
        return p

    def select(self, titles, ctx, rand):
        art = np.where(titles >= 0, self.catalog_.default_art[np.maximum(titles, 0)], -1).astype(np.int32)
        return art, np.ones(titles.shape, dtype=np.float32)


class RandomArtwork(ArtworkPolicy):
    """A uniformly random variant per (user, day, title): the logging policy for off-policy evaluation."""

    name = "random"

    def variant_probs(self, titles, ctx):
        art = padded_art(self.catalog_, titles)
        ok = art >= 0
        return ok / np.maximum(ok.sum(-1, keepdims=True), 1)

    def select(self, titles, ctx, rand):
        c = self.catalog_
        t = np.maximum(titles, 0)
        n_var = np.diff(c.art_offsets)[t]
        u = rand.uniform(ctx.user_ids[:, None], ctx.day, t)
        local = np.minimum((u * n_var).astype(np.int64), n_var - 1)
        art = np.where(titles >= 0, c.art_offsets[t] + local, -1).astype(np.int32)
        return art, (1.0 / n_var).astype(np.float32)


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
        self.reward = reward
        self.threshold_minutes = threshold_minutes
        self.minutes_cap = minutes_cap
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.n_sim = n_sim
        self.decay = decay
        self.epsilon = epsilon
        self.random_state = random_state

    def check_params(self):
        n = self.name
        _check(self.reward in REWARDS, f"artwork {n}: reward must be one of {', '.join(REWARDS)}, got {self.reward!r}")
        _check(self.threshold_minutes >= 0,
               f"artwork {n}: threshold_minutes must be >= 0, got {self.threshold_minutes}")
        _check(self.minutes_cap > 0, f"artwork {n}: minutes_cap must be positive, got {self.minutes_cap}")
        _check(self.prior_alpha > 0 and self.prior_beta > 0,
               f"artwork {n}: prior_alpha and prior_beta must be positive")
        _check(isinstance(self.n_sim, (int, np.integer)) and self.n_sim >= 1,
               f"artwork {n}: n_sim must be a positive integer, got {self.n_sim!r}")
        _check(0 < self.decay <= 1, f"artwork {n}: decay must be in (0, 1], got {self.decay}")
        _check(0 <= self.epsilon <= 1, f"artwork {n}: epsilon must be in [0, 1], got {self.epsilon}")
        _resolve_seed(self.random_state)
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


class ContextualArtwork(ArtworkPolicy):
    """Linear Thompson sampling on public features shared across users and titles.

    Features of a (user, variant) pair, from the variant's public theme and the user's observed
    genre profile only: an intercept, a cast-theme flag, one flag per mood, the share of the
    user's plays in the genre a genre-themed variant plays up, a cold-start flag (genre theme,
    no plays yet), and the variant's own shrunk reward rate relative to the overall rate (so it
    also learns per-variant effects, e.g. clickbait, the way the context-free bandits do).

    The model is Bayesian linear regression (prior precision ``reg``, noise variance
    ``noise``); each update draws ``n_sim`` coefficient vectors (scaled by ``explore``), and a
    slot's variant probabilities are the share of draws under which each variant scores best.

    ``select`` uses ``ctx.genre_profile``. To learn, the policy rebuilds each logged
    impression's profile from the logs it has been given (genre counts of the user's plays on
    earlier days, kept in ``profile_users_``/``profile_counts_``): a pure function of the logs,
    so results do not depend on how pages were batched or spread over worker processes. Only
    shares enter the features, so this undecayed count and the context's decayed one agree
    closely.
    """

    name = "contextual"

    def __init__(self, reward: str = "play", threshold_minutes: float = 2.0, minutes_cap: float = 60.0,
                 reg: float = 1.0, noise: float = 0.1, explore: float = 1.0, rate_prior: float = 50.0,
                 n_sim: int = 64, epsilon: float = 0.0, random_state: int | None = 0):
        self.reward = reward
        self.threshold_minutes = threshold_minutes
        self.minutes_cap = minutes_cap
        self.reg = reg
        self.noise = noise
        self.explore = explore
        self.rate_prior = rate_prior
        self.n_sim = n_sim
        self.epsilon = epsilon
        self.random_state = random_state

    # feature layout: [intercept, cast, mood x M, genre share, cold genre, variant rate]
    @property
    def n_features(self) -> int:
        return 2 + len(MOODS) + 3

    def check_params(self):
        n = self.name
        _check(self.reward in REWARDS, f"artwork {n}: reward must be one of {', '.join(REWARDS)}, got {self.reward!r}")
        _check(self.threshold_minutes >= 0, f"artwork {n}: threshold_minutes must be >= 0")
        _check(self.minutes_cap > 0, f"artwork {n}: minutes_cap must be positive")
        for p in ("reg", "noise", "rate_prior"):
            _check(getattr(self, p) > 0, f"artwork {n}: {p} must be positive, got {getattr(self, p)}")
        _check(self.explore >= 0, f"artwork {n}: explore must be >= 0, got {self.explore}")
        _check(isinstance(self.n_sim, (int, np.integer)) and self.n_sim >= 1,
               f"artwork {n}: n_sim must be a positive integer, got {self.n_sim!r}")
        _check(0 <= self.epsilon <= 1, f"artwork {n}: epsilon must be in [0, 1], got {self.epsilon}")
        _resolve_seed(self.random_state)
        return self

    def fit(self, catalog, logs=None):
        super().fit(catalog, logs)
        self.seed_ = _resolve_seed(self.random_state)
        d = self.n_features
        self.precision_ = np.eye(d) * self.reg
        self.xty_ = np.zeros(d)
        self.shows_ = np.zeros(catalog.n_artwork)
        self.gains_ = np.zeros(catalog.n_artwork)
        self.n_updates_ = 0
        self.profile_users_ = np.empty(0, np.int64)
        self.profile_counts_ = np.zeros((0, catalog.n_genres), np.float32)
        if logs is not None:
            self._absorb(logs)
        self._refresh()
        return self

    def update(self, logs):
        self._absorb(logs)
        self.n_updates_ += 1
        self._refresh()
        return self

    # ---- features
    def _art_features(self) -> np.ndarray:
        """Features that depend on the variant only, (A, d); user columns left at zero."""
        c = self.catalog_
        M = len(MOODS)
        X = np.zeros((c.n_artwork, self.n_features))
        X[:, 0] = 1.0
        X[:, 1] = c.art_theme == 1
        mood = c.art_theme == 2
        X[np.flatnonzero(mood), 2 + c.art_mood[mood].astype(np.int64)] = 1.0
        overall = (self.gains_.sum() + 1.0) / (self.shows_.sum() + 2.0)
        rate = (self.gains_ + self.rate_prior * overall) / (self.shows_ + self.rate_prior)
        X[:, 2 + M + 2] = rate / overall - 1.0
        return X

    def _user_columns(self, art: np.ndarray, profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Genre-share and cold-start columns for artwork ``art`` (..., V) of users ``profile``
        (rows aligned with ``art``'s first axis, (n, G))."""
        c = self.catalog_
        a = np.maximum(art, 0)
        g = c.art_genre[a].astype(np.int64)
        is_genre = (c.art_theme[a] == 0) & (art >= 0)
        total = profile.sum(1)
        share = profile / np.where(total > 0, total, 1.0)[:, None]
        n = profile.shape[0]
        rows = np.arange(n).reshape((n,) + (1,) * (art.ndim - 1))
        gshare = np.where(is_genre, share[rows, np.maximum(g, 0)], 0.0)
        cold = np.where(is_genre, (total <= 0).reshape(rows.shape), False).astype(np.float64)
        return gshare, cold

    def _refresh(self) -> None:
        cov = np.linalg.inv(self.precision_)
        cov = (cov + cov.T) / 2
        mean = cov @ self.xty_
        rng = generator(self.seed_, "artwork-lints", self.n_updates_)
        z = rng.standard_normal((int(self.n_sim), self.n_features))
        self.mean_ = mean
        self.theta_ = mean[None, :] + self.explore * z @ np.linalg.cholesky(cov).T   # (K, d)
        Xa = self._art_features()
        self.art_features_ = Xa
        self.art_score_ = Xa @ self.theta_.T                                          # (A, K)

    def variant_probs(self, titles, ctx):
        titles = np.asarray(titles)
        M = len(MOODS)
        K = self.theta_.shape[0]
        art = padded_art(self.catalog_, titles)                                     # (n, S, V)
        n, S, V = art.shape
        out = np.zeros(art.shape)
        chunk = max(1, _MC_BLOCK // max(1, S * V * K))
        profile = np.asarray(ctx.genre_profile, dtype=np.float64)
        for i0 in range(0, n, chunk):
            i1 = min(n, i0 + chunk)
            a = art[i0:i1]
            gshare, cold = self._user_columns(a, profile[i0:i1])
            score = (self.art_score_[np.maximum(a, 0)]
                     + gshare[..., None] * self.theta_[:, 2 + M]
                     + cold[..., None] * self.theta_[:, 2 + M + 1])                  # (m, S, V, K)
            score = np.where((a >= 0)[..., None], score, -np.inf)
            win = score.argmax(axis=2)                                              # (m, S, K)
            counts = (win[:, :, None, :] == np.arange(V)[None, None, :, None]).sum(-1)
            out[i0:i1] = counts / K
        if self.epsilon > 0:
            ok = art >= 0
            out = (1 - self.epsilon) * out + self.epsilon * ok / np.maximum(ok.sum(-1, keepdims=True), 1)
        return np.where((titles >= 0)[..., None] & (art >= 0), out, 0.0)

    # ---- profiles from logs, and learning
    def _cumulative_profiles(self, logs: Logs) -> pd.DataFrame:
        """Per (user, day) with plays: genre counts of the user's plays up to that day, in ``logs``."""
        G = self.catalog_.n_genres
        plays = logs.plays
        if plays is None or len(plays) == 0:
            return pd.DataFrame(columns=["user_id", "day", *range(G)])
        user = plays["user_id"].to_numpy(np.int64)
        day = plays["day"].to_numpy(np.int64)
        keys, code = np.unique(np.stack([user, day], 1), axis=0, return_inverse=True)
        code = code.ravel()
        g = self.catalog_.genres.tocsr()[plays["title"].to_numpy(np.int64)].tocoo()
        counts = np.bincount(code[g.row] * G + g.col, minlength=len(keys) * G).reshape(len(keys), G)
        cum = np.cumsum(counts, axis=0)
        first = np.r_[True, keys[1:, 0] != keys[:-1, 0]]        # first row of each user's block
        block_start = np.maximum.accumulate(np.where(first, np.arange(len(keys)), 0))
        before = np.where((block_start > 0)[:, None], cum[np.maximum(block_start - 1, 0)], 0)
        table = pd.DataFrame((cum - before).astype(np.float32), columns=range(G))
        table.insert(0, "day", keys[:, 1])
        table.insert(0, "user_id", keys[:, 0])
        return table

    def _profiles_before(self, rows: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
        """Each row's user's cumulative genre counts from plays on earlier days (0 if none)."""
        G = self.catalog_.n_genres
        if len(table) == 0:
            return np.zeros((len(rows), G), np.float32)
        left = pd.DataFrame({"user_id": rows["user_id"].to_numpy(np.int64),
                             "day": rows["day"].to_numpy(np.int64), "_order": np.arange(len(rows))})
        merged = pd.merge_asof(left.sort_values("day", kind="stable"), table.sort_values("day", kind="stable"),
                               on="day", by="user_id", allow_exact_matches=False).sort_values("_order")
        return merged[list(range(G))].fillna(0.0).to_numpy(np.float32)

    def _stored_profiles(self, users: np.ndarray) -> np.ndarray:
        """Genre counts of ``users``' plays in all logs absorbed before (zeros if none)."""
        out = np.zeros((len(users), self.catalog_.n_genres), np.float32)
        if len(self.profile_users_):
            pos = np.minimum(np.searchsorted(self.profile_users_, users), len(self.profile_users_) - 1)
            hit = self.profile_users_[pos] == users
            out[hit] = self.profile_counts_[pos[hit]]
        return out

    def _store_profiles(self, logs: Logs) -> None:
        """Add the plays of ``logs`` to the per-user genre counts."""
        plays = logs.plays
        if plays is None or len(plays) == 0:
            return
        G = self.catalog_.n_genres
        users = np.concatenate([self.profile_users_, plays["user_id"].to_numpy(np.int64)])
        uid, inv = np.unique(users, return_inverse=True)
        counts = np.zeros((len(uid), G), np.float32)
        counts[inv[: len(self.profile_users_)]] += self.profile_counts_
        g = self.catalog_.genres.tocsr()[plays["title"].to_numpy(np.int64)].tocoo()
        new_rows = inv[len(self.profile_users_):]
        np.add.at(counts, (new_rows[g.row], g.col), 1.0)
        self.profile_users_, self.profile_counts_ = uid, counts

    def _absorb(self, logs: Logs) -> None:
        rows = impression_rewards(logs, self.reward, self.threshold_minutes, self.minutes_cap)
        if len(rows) > 0:
            M = len(MOODS)
            Xa = self._art_features()      # variant rates as they were when these pages were built
            table = self._cumulative_profiles(logs)
            for i0 in range(0, len(rows), _ROWS_BLOCK):
                sub = rows.iloc[i0:i0 + _ROWS_BLOCK]
                prof = self._stored_profiles(sub["user_id"].to_numpy(np.int64)) + self._profiles_before(sub, table)
                art = sub["artwork"].to_numpy(np.int64)
                X = Xa[art]
                X[:, 2 + M], X[:, 2 + M + 1] = self._user_columns(art, prof)
                r = sub["reward"].to_numpy()
                self.precision_ = self.precision_ + X.T @ X / self.noise
                self.xty_ = self.xty_ + X.T @ r / self.noise
            A = self.catalog_.n_artwork
            art = rows["artwork"].to_numpy(np.int64)
            self.shows_ += np.bincount(art, minlength=A)
            self.gains_ += np.bincount(art, weights=rows["reward"].to_numpy(), minlength=A)
        self._store_profiles(logs)


ARTWORK_POLICIES: dict[str, type[ArtworkPolicy]] = {
    "fixed": FixedArtwork,
    "random": RandomArtwork,
    "bandit-click": BanditClick,
    "bandit-play": BanditPlay,
    "contextual": ContextualArtwork,
}


def make_artwork(name: str, **params) -> ArtworkPolicy:
    """An artwork policy by name (``params.artwork`` in an experiment file), parameters checked."""
    if name not in ARTWORK_POLICIES:
        raise InputError(f"unknown artwork policy {name!r} (known: {', '.join(sorted(ARTWORK_POLICIES))})")
    cls = ARTWORK_POLICIES[name]
    try:
        policy = cls(**params)
    except TypeError:
        import inspect

        known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        bad = sorted(set(params) - set(known))
        raise InputError(f"artwork policy {name!r} has no parameter {', '.join(map(repr, bad)) or '?'}"
                         f" (known: {', '.join(known) or 'none'})") from None
    return policy.check_params()
