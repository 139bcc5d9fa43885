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
from recsys.core.rng import KeyedRandom
from recsys.core.logs import SOURCE_HOME, Logs
from recsys.world.catalog import Catalog

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


def _check_reward(policy) -> None:
    """The reward options the learning artwork policies share."""
    n = policy.name
    _check(policy.reward in REWARDS,
           f"artwork {n}: reward must be one of {', '.join(REWARDS)}, got {policy.reward!r}")
    _check(policy.threshold_minutes >= 0,
           f"artwork {n}: threshold_minutes must be >= 0, got {policy.threshold_minutes}")
    _check(policy.minutes_cap > 0, f"artwork {n}: minutes_cap must be positive, got {policy.minutes_cap}")


def _check_sampling(policy) -> None:
    """The Thompson-sampling options the learning artwork policies share."""
    n = policy.name
    _check(isinstance(policy.n_sim, (int, np.integer)) and policy.n_sim >= 1,
           f"artwork {n}: n_sim must be a positive integer, got {policy.n_sim!r}")
    _check(0 <= policy.epsilon <= 1, f"artwork {n}: epsilon must be in [0, 1], got {policy.epsilon}")
    _resolve_seed(policy.random_state)


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
        art = np.where(titles >= 0, np.take(self.catalog_.default_art, np.maximum(titles, 0)), -1).astype(np.int32)
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
