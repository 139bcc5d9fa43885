"""A planted-structure data set: users and titles in taste clusters, for checks and benchmarks.

Each of ``clusters`` tastes owns two signature genres; a title belongs to one cluster and
carries one or two of its genres (sometimes a random extra one), and a Zipf popularity. A user
belongs to one cluster and draws most plays (``affinity``) from their cluster's titles, the
rest from the whole catalogue, both in proportion to popularity; a play's weight (a watch
share) is higher inside the user's taste. Play times are uniform over ``days`` days, and never
before the title's release: ``new_share`` of the titles are released late in the period, which
gives a temporal split titles with no training plays. The structure is known, so a model that
learns it must beat popularity, which must beat random.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.core.rng import generator

DAY_SECONDS = 86_400


def planted_dataset(n_users: int = 2000, n_items: int = 500, *, clusters: int = 8, mean_plays: float = 20.0,
                    affinity: float = 0.8, zipf: float = 0.8, days: int = 60, new_share: float = 0.1,
                    seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interactions: user, item, weight, timestamp, cluster; items: item, name, genres, kind,
    runtime, release_day, cluster). Vectorised; 100k users x 20k titles takes seconds."""
    rng = generator(seed, "planted")
    G = 2 * clusters
    item_cluster = rng.integers(0, clusters, n_items)
    pop = (1.0 + rng.permutation(n_items)) ** -zipf
    # genres: one or both of the cluster's two, and in 20% of titles a random extra one
    first = 2 * item_cluster + rng.integers(0, 2, n_items)
    second = np.where(rng.random(n_items) < 0.5, 2 * item_cluster + (1 - (first % 2)), -1)
    extra = np.where(rng.random(n_items) < 0.2, rng.integers(0, G, n_items), -1)
    names = np.array([f"g{g}" for g in range(G)], dtype=object)
    genres = [sorted({names[a]} | ({names[b]} if b >= 0 else set()) | ({names[c]} if c >= 0 else set()))
              for a, b, c in zip(first, second, extra)]
    kind = np.where(rng.random(n_items) < 0.3, "series", "movie")
    runtime = np.where(kind == "series", rng.choice([25.0, 45.0], n_items), rng.normal(105, 15, n_items)).astype(np.float32)
    new = rng.random(n_items) < new_share
    release = np.where(new, rng.integers(int(0.7 * days), days, n_items), rng.integers(-1000, 0, n_items))

    # per-cluster and global sampling distributions (CDFs over titles)
    own = np.zeros((clusters, n_items))
    own[item_cluster, np.arange(n_items)] = pop
    own_cdf = np.cumsum(own / own.sum(1, keepdims=True), axis=1)
    all_cdf = np.cumsum(pop / pop.sum())

    user_cluster = rng.integers(0, clusters, n_users)
    n_plays = np.maximum(1, rng.lognormal(np.log(mean_plays) - 0.5, 1.0, n_users).astype(np.int64))
    users = np.repeat(np.arange(n_users), n_plays)
    u = rng.random(len(users))
    inside = rng.random(len(users)) < affinity
    pick = np.empty(len(users), dtype=np.int64)
    cl = user_cluster[users[inside]]
    pick[inside] = _search_rows(own_cdf, cl, u[inside])
    pick[~inside] = np.minimum(np.searchsorted(all_cdf, u[~inside]), n_items - 1)
    match = item_cluster[pick] == user_cluster[users]
    weight = np.where(match, rng.beta(5, 2, len(users)), rng.beta(2, 4, len(users))).clip(0.05, 1.0)
    start = np.maximum(release[pick], 0)
    t = start + rng.random(len(users)) * (days - start)
    interactions = pd.DataFrame({
        "user": users, "item": pick, "weight": weight.astype(np.float32),
        "timestamp": (t * DAY_SECONDS).astype(np.int64), "cluster": user_cluster[users],
    }).drop_duplicates(["user", "item"], keep="first").reset_index(drop=True)
    items = pd.DataFrame({
        "item": np.arange(n_items), "name": [f"Title {i}" for i in range(n_items)], "genres": genres,
        "kind": kind, "runtime": runtime, "release_day": release.astype(np.int32), "cluster": item_cluster,
    })
    return interactions, items


def _search_rows(cdf: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """searchsorted of ``u[j]`` in ``cdf[rows[j]]``, grouped by row to stay vectorised."""
    out = np.empty(len(rows), dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    bounds = np.searchsorted(rows[order], np.arange(cdf.shape[0] + 1))
    for r in range(cdf.shape[0]):  # one search per cluster (a handful), not per user
        idx = order[bounds[r]:bounds[r + 1]]
        out[idx] = np.minimum(np.searchsorted(cdf[r], u[idx]), cdf.shape[1] - 1)
    return out
