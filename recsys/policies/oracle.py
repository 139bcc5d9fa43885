"""The oracle: ranks titles by the world's hidden truth. It exists only to calibrate the world.

It is the one policy allowed to read hidden fields (users' tastes, titles' quality), and it
says so (``reads_hidden_truth = True``); no other policy receives a :class:`World`.
"""

from __future__ import annotations

import numpy as np

from recsys.policies.artwork.base import ArtworkPolicy
from recsys.policies.reference import Policy, take_unseen
from recsys.world.build import World


class OraclePolicy(Policy):
    """Top titles by each user's true content utility (before artwork and satiation)."""

    name = "oracle"
    reads_hidden_truth = True

    def __init__(self, world: World, artwork: ArtworkPolicy | None = None, chunk: int = 2048):
        super().__init__(artwork)
        self.world = world
        self.chunk = chunk

    def true_utility(self, user_ids: np.ndarray, day: int) -> np.ndarray:
        """(n, T) true utility, computed with matrix products (same terms as the behaviour model)."""
        w = self.world
        b = w.config.behaviour
        ut, tr, cat = w.user_truth, w.truth, w.catalog
        g = cat.genres.toarray()
        share = g / g.sum(1, keepdims=True)
        u = user_ids
        util = b.taste_weight * (ut.taste[u] @ tr.latent.T)
        util += b.genre_weight * (ut.genre_affinity[u] @ share.T)
        util += b.cast_weight * (ut.cast_taste[u] @ tr.cast_vec.T)
        util += b.quality_weight * tr.quality + b.fame_weight * tr.fame
        age = np.maximum(day - cat.release_day, 0)
        util += b.novelty_weight * ut.novelty[u][:, None] * np.exp2(-age / b.novelty_halflife)[None, :]
        over = np.maximum(cat.runtime[None, :] - ut.runtime_tolerance[u][:, None], 0.0)
        util -= b.runtime_weight * np.where(cat.kind == 0, over / 60.0, 0.0)
        return util.astype(np.float32)

    def rank(self, ctx, k, rand):
        avail = self.catalog_.available(ctx.day)
        out = np.empty((len(ctx), k), np.int32)
        scores = np.empty((len(ctx), k), np.float32)
        m = k + ctx.recent.shape[1]
        for lo in range(0, len(ctx), self.chunk):
            hi = min(lo + self.chunk, len(ctx))
            util = self.true_utility(ctx.user_ids[lo:hi], ctx.day)
            util[:, ~avail] = -np.inf
            top = np.argpartition(-util, m - 1, axis=1)[:, :m]
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(util, top, 1), axis=1), 1)
            out[lo:hi] = take_unseen(top.astype(np.int32), ctx.recent[lo:hi], k)
            scores[lo:hi] = np.take_along_axis(util, np.maximum(out[lo:hi], 0), 1)
        return out, scores
