"""Users: public account facts and hidden tastes, generated shard by shard.

Public (:class:`Users`): the signup day. Hidden (:class:`UserTruth`): taste cluster, latent
taste, genre and cast affinity, mood preference, runtime tolerance, novelty seeking, satiation
sensitivity, activity level and churn propensity. Users are generated in fixed shards of
:data:`SHARD_SIZE`, each from its own spawned seed, so user ``i`` is the same whatever the
number of workers or the total count.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from recsys.core.rng import generator
from recsys.world.catalog import CAST_DIM, MOODS, CatalogTruth
from recsys.world.config import WorldConfig

SHARD_SIZE = 25_000


@dataclass(frozen=True, eq=False)
class Users:
    """What the service knows about each account."""

    signup_day: np.ndarray  # (N,) int32; day 0 is the first experiment day

    def __len__(self) -> int:
        return len(self.signup_day)


@dataclass(frozen=True, eq=False)
class UserTruth:
    """Hidden per-user traits; only the behaviour model and the oracle read them."""

    cluster: np.ndarray             # (N,) int16 taste cluster
    taste: np.ndarray               # (N, D) float32 unit latent taste
    genre_affinity: np.ndarray      # (N, G) float32
    cast_taste: np.ndarray          # (N, Dc) float32
    mood: np.ndarray                # (N, M) float32 liking for artwork moods
    runtime_tolerance: np.ndarray   # (N,) float32 minutes of film before it feels long
    novelty: np.ndarray             # (N,) float32 in [0, 1]: pull of fresh releases
    satiation: np.ndarray           # (N,) float32 sensitivity to repetition of genres
    activity: np.ndarray            # (N,) float32 visit rate per day at satisfaction 0
    churn_propensity: np.ndarray    # (N,) float32 multiplier of the daily churn hazard

    def __len__(self) -> int:
        return len(self.cluster)

    def slice(self, start: int, stop: int) -> "UserTruth":
        return UserTruth(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})

    def shuffled(self, rng: np.random.Generator) -> "UserTruth":
        """Every hidden array permuted across users: for proving a model ignores them."""
        return UserTruth(**{f.name: getattr(self, f.name)[rng.permutation(len(self))] for f in fields(self)})


@dataclass(frozen=True)
class TasteClusters:
    """The mixture users' tastes are drawn from; each cluster loves two or three genres."""

    weights: np.ndarray      # (K,)
    genres: np.ndarray       # (K, 3) int favourite genres, -1 padded
    centers: np.ndarray      # (K, D)

    def names(self, genre_names: tuple[str, ...]) -> list[str]:
        return ["+".join(genre_names[g] for g in row if g >= 0) for row in self.genres]


def make_clusters(config: WorldConfig, truth: CatalogTruth, seed: int) -> TasteClusters:
    rng = generator(seed, "clusters")
    K, G = config.taste_clusters, config.genres
    n_fav = rng.integers(2, 4, size=K)
    fav = np.full((K, 3), -1, dtype=np.int64)
    for k in range(K):  # K is a handful of clusters, not users
        fav[k, : n_fav[k]] = rng.choice(G, size=n_fav[k], replace=False)
    centers = np.stack([truth.genre_latent[fav[k, : n_fav[k]]].mean(0) for k in range(K)])
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    weights = rng.dirichlet(np.full(K, 3.0))
    return TasteClusters(weights=weights, genres=fav, centers=centers.astype(np.float32))


def make_users(config: WorldConfig, truth: CatalogTruth, clusters: TasteClusters, seed: int,
               start: int = 0, stop: int | None = None) -> tuple[Users, UserTruth]:
    """Users ``start..stop`` (default all), generated from their shards' own streams."""
    stop = config.users if stop is None else stop
    parts = []
    for shard in range(start // SHARD_SIZE, (stop - 1) // SHARD_SIZE + 1):
        lo, hi = shard * SHARD_SIZE, min((shard + 1) * SHARD_SIZE, config.users)
        pub, hid = _make_shard(config, truth, clusters, seed, shard, hi - lo)
        a, b = max(start, lo) - lo, min(stop, hi) - lo
        parts.append((pub.signup_day[a:b], hid.slice(a, b)))
    signup = np.concatenate([p[0] for p in parts])
    hidden = UserTruth(**{f.name: np.concatenate([getattr(p[1], f.name) for p in parts])
                          for f in fields(UserTruth)})
    return Users(signup_day=signup), hidden


def _make_shard(config: WorldConfig, truth: CatalogTruth, clusters: TasteClusters, seed: int,
                shard: int, n: int) -> tuple[Users, UserTruth]:
    rng = generator(seed, "users", shard)
    G, D = config.genres, config.latent_dim
    cluster = rng.choice(len(clusters.weights), size=n, p=clusters.weights).astype(np.int16)
    taste = clusters.centers[cluster] + 0.75 * rng.standard_normal((n, D)) / np.sqrt(D)
    taste = (taste / np.linalg.norm(taste, axis=1, keepdims=True)).astype(np.float32)
    fav = np.zeros((len(clusters.weights), G), dtype=np.float32)
    for k, row in enumerate(clusters.genres):
        fav[k, row[row >= 0]] = 0.8
    genre_affinity = (fav[cluster] + rng.normal(-0.1, 0.35, (n, G))).astype(np.float32)
    cast_taste = (0.5 * rng.standard_normal((n, CAST_DIM))).astype(np.float32)
    mood = rng.normal(0.0, 0.5, (n, len(MOODS))).astype(np.float32)
    runtime_tolerance = rng.normal(125, 20, n).clip(80, 200).astype(np.float32)
    novelty = rng.beta(2, 3, n).astype(np.float32)
    satiation = rng.gamma(3.0, 1 / 3.0, n).astype(np.float32)
    activity = np.exp(rng.normal(np.log(config.activity_median), config.activity_sigma, n))
    activity = activity.clip(min(0.02, config.activity_max), config.activity_max)
    activity = activity.astype(np.float32)
    churn_propensity = np.exp(rng.normal(0.0, 0.4, n)).astype(np.float32)
    is_new = rng.random(n) < config.new_user_share
    signup = np.where(is_new, rng.integers(-7, 0, n), rng.integers(-720, -60, n)).astype(np.int32)
    return Users(signup_day=signup), UserTruth(
        cluster=cluster, taste=taste, genre_affinity=genre_affinity, cast_taste=cast_taste, mood=mood,
        runtime_tolerance=runtime_tolerance, novelty=novelty, satiation=satiation, activity=activity,
        churn_propensity=churn_propensity,
    )
