"""What users were exposed to and watched, per group of users: catalog coverage, long-tail share,
genre mix and homogenisation.

Homogenisation is the mean pairwise Jaccard similarity of users' watched-title sets, the measure
of the feedback-loop studies of Chaney, Stewart and Engelhardt (2018): a recommender trained on
its own feedback tends to make users' consumption more alike. It is computed on a binary user x
title matrix ``X`` with ``X @ X.T`` (intersections) and the row sums (set sizes), over a sample
of users when a group is large. Users who watched nothing have no set and are left out.

Everything here reads the observable play log (user_id, title) and public catalog facts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core.rng import KeyedRandom

#: users per group beyond which homogenisation is estimated on a sample
DEFAULT_SAMPLE = 2000
#: the head of the catalog: this share of titles, the most played first
HEAD_SHARE = 0.2


def play_matrix(plays: pd.DataFrame, user_ids: np.ndarray, n_titles: int) -> sp.csr_matrix:
    """Binary (len(user_ids), n_titles) CSR: row i marks the titles user ``user_ids[i]`` played
    (``user_ids`` unique; plays of other users are ignored)."""
    pos = pd.Index(np.asarray(user_ids, dtype=np.int64)).get_indexer(plays["user_id"].to_numpy(np.int64))
    keep = pos >= 0
    X = sp.csr_matrix((np.ones(keep.sum(), np.int32), (pos[keep], plays["title"].to_numpy(np.int64)[keep])),
                      shape=(len(user_ids), n_titles))
    X.sum_duplicates()
    X.data[:] = 1
    return X


def mean_jaccard(X: sp.spmatrix) -> float:
    """Mean Jaccard similarity over all pairs of distinct rows of a binary matrix with at least
    one entry (NaN with fewer than two such rows)."""
    X = sp.csr_matrix(X, dtype=np.int64)
    X.data[:] = 1
    sizes = np.asarray(X.sum(axis=1)).ravel()
    X = X[sizes > 0]
    sizes = sizes[sizes > 0]
    n = X.shape[0]
    if n < 2:
        return float("nan")
    inter = sp.triu(X @ X.T, k=1).tocoo()   # pairs with an empty intersection add 0
    union = sizes[inter.row] + sizes[inter.col] - inter.data
    return float((inter.data / union).sum() / (n * (n - 1) / 2))


def sample_users(user_ids: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """At most ``size`` of ``user_ids`` (all when None): those with the smallest keyed hash of
    (seed, user id), so a user's inclusion depends on neither the group nor its order."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    if size is None or len(user_ids) <= size:
        return user_ids
    u = KeyedRandom.from_seed(seed, "homogenization").uniform(user_ids)
    return np.sort(user_ids[np.argsort(u, kind="stable")[:size]])


def homogenization(plays: pd.DataFrame, user_ids: np.ndarray, n_titles: int, *,
                   sample: int | None = DEFAULT_SAMPLE, seed: int = 0) -> float:
    """Mean pairwise Jaccard of the watched-title sets of ``user_ids`` (those with a play;
    at most ``sample`` of them, chosen by :func:`sample_users`)."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    watched = np.intersect1d(user_ids, plays["user_id"].to_numpy(np.int64))
    return mean_jaccard(play_matrix(plays, sample_users(watched, sample, seed), n_titles))


def head_titles(popularity: np.ndarray, share: float = HEAD_SHARE) -> np.ndarray:
    """Boolean (T,): the most popular ``share`` of titles (ties broken by title id)."""
    popularity = np.asarray(popularity, dtype=np.float64)
    head = np.zeros(len(popularity), bool)
    head[np.argsort(-popularity, kind="stable")[: max(1, int(round(share * len(popularity))))]] = True
    return head


def exposure_table(plays: pd.DataFrame, users: pd.DataFrame, n_titles: int, *, by=("arm",),
                   popularity: np.ndarray | None = None, sample: int | None = DEFAULT_SAMPLE,
                   seed: int = 0) -> pd.DataFrame:
    """Per group of users (``users`` has user_id and the ``by`` columns, e.g. the per-user table):
    users, plays, coverage (share of the catalog played at least once), long_tail_share (share of
    plays outside the head, by ``popularity``, default the plays given) and homogenization."""
    by = list(by)
    users = users[["user_id", *by]].drop_duplicates("user_id")
    key = users.set_index("user_id")[by]
    p = plays[["user_id", "title"]]
    p = p[p["user_id"].isin(key.index)]
    p = p.join(key, on="user_id")
    titles = p["title"].to_numpy(np.int64)
    pop = np.bincount(titles, minlength=n_titles) if popularity is None else popularity
    p = p.assign(tail=~head_titles(pop)[titles])
    g = p.groupby(by, sort=True)
    out = users.groupby(by, sort=True).size().to_frame("users").join(
        pd.DataFrame({"plays": g.size(), "coverage": g["title"].nunique() / n_titles,
                      "long_tail_share": g["tail"].mean()}), how="left")
    out["plays"] = out["plays"].fillna(0).astype(np.int64)
    out["coverage"] = out["coverage"].fillna(0.0)
    groups = users.groupby(by, sort=True)["user_id"]
    plays_by = dict(tuple(p.groupby(by, sort=True)[["user_id", "title"]])) if len(p) else {}
    out["homogenization"] = [
        homogenization(plays_by.get(k, p.iloc[:0]), ids.to_numpy(), n_titles, sample=sample, seed=seed)
        for k, ids in groups]   # one call per group (arms x segments), never per user
    return out.reset_index()


def genre_shares(plays: pd.DataFrame, users: pd.DataFrame, genres: sp.spmatrix, *, by=("arm",),
                 names=None) -> pd.DataFrame:
    """Share of plays per genre (a title's plays split evenly over its genres), one row per group."""
    by = list(by)
    key = users[["user_id", *by]].drop_duplicates("user_id").set_index("user_id")[by]
    p = plays[["user_id", "title"]].join(key, on="user_id", how="inner")
    G = sp.csr_matrix(genres, dtype=np.float64)
    G = sp.diags(1.0 / np.maximum(np.asarray(G.sum(1)).ravel(), 1.0)) @ G
    codes, labels = pd.MultiIndex.from_frame(p[by]).factorize() if len(p) else (np.zeros(0, np.int64), [])
    M = sp.csr_matrix((np.ones(len(p)), (codes, p["title"].to_numpy(np.int64))),
                      shape=(len(labels), G.shape[0])) @ G
    M = np.asarray(M.todense())
    M = M / np.maximum(M.sum(1, keepdims=True), 1e-12)
    cols = list(names) if names is not None else [f"genre_{j}" for j in range(G.shape[1])]
    index = pd.MultiIndex.from_tuples(list(labels), names=by) if len(labels) else None
    return pd.DataFrame(M, columns=cols, index=index).sort_index().reset_index()


def strategic_records(summary: pd.DataFrame, names, control: str) -> list[dict]:
    """The catalog-level strategic metrics named in ``names`` (coverage, long_tail_share,
    homogenization) per treatment arm beside the control, from an arm summary indexed by arm.
    Descriptive: one figure per arm, no interval, and they never decide."""
    out = []
    for metric in names:
        if metric not in summary:
            continue
        c = float(summary.at[control, metric])
        for arm in summary.index:
            if arm == control:
                continue
            t = float(summary.at[arm, metric])
            out.append({"metric": metric, "arm": str(arm), "control": c, "treatment": t, "diff": t - c,
                        "rel_diff": (t - c) / c if c else float("nan")})
    return out
