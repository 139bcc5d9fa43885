"""Train and evaluate models offline on a hold-out split: :func:`evaluate_models`.

Input is plain data, so the same call serves MovieLens, a CSV export or the simulator's plays:
an interactions frame (``user``, ``item``, optional ``weight`` and ``timestamp`` or ``day``) and
an optional items frame (``item`` plus public metadata such as ``genres``). Ids may be any
hashable values; they are mapped to indices here.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from recsys.errors import InputError
from recsys.evaluate import metrics as M
from recsys.evaluate.splits import random_split, temporal_split, time_column
from recsys.models import ALS, BPR, Content, Hybrid, Popularity, Random
from recsys.models.features import genre_matrix

SPLITS = ("temporal", "random")
DAY_SECONDS = 86_400
METRICS = ("precision", "recall", "ndcg", "map", "coverage", "ild", "novelty", "longtail")


def default_models(seed: int = 0, *, with_content: bool = True) -> dict[str, Any]:
    """random, popularity, als, bpr and (with item metadata) content and hybrid."""
    models: dict[str, Any] = {"random": Random(random_state=seed), "popularity": Popularity(),
                              "als": ALS(random_state=seed), "bpr": BPR(random_state=seed)}
    if with_content:
        models["content"] = Content(random_state=seed)
        models["hybrid"] = Hybrid(random_state=seed)
    return models


def check_interactions(df: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError("interactions must be a DataFrame with user and item columns")
    for col in ("user", "item"):
        if col not in df:
            raise InputError(f"interactions have no {col} column (columns: {', '.join(map(str, df.columns))})")
    if df.empty:
        raise InputError("no interactions to evaluate on")
    if "weight" not in df:
        df = df.assign(weight=np.float32(1.0))
    return df


class Encoded:
    """Interactions and items with ids mapped to indices 0..n-1."""

    def __init__(self, df: pd.DataFrame, items: pd.DataFrame | None):
        item_ids = df["item"].unique()
        if items is not None:
            if "item" not in items:
                raise InputError("items frame has no item column")
            item_ids = pd.unique(np.concatenate([items["item"].to_numpy(dtype=object), item_ids.astype(object)]))
        self.item_index = pd.Index(item_ids)
        self.user_index = pd.Index(df["user"].unique())
        self.n_users, self.n_items = len(self.user_index), len(self.item_index)
        self.items = None
        if items is not None:
            it = items.drop_duplicates("item").copy()
            it["item"] = self.item_index.get_indexer(it["item"].to_numpy(dtype=object))
            self.items = it.reset_index(drop=True)

    def codes(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return (self.user_index.get_indexer(df["user"]).astype(np.int64),
                self.item_index.get_indexer(df["item"].to_numpy(dtype=object)).astype(np.int64))

    def matrix(self, df: pd.DataFrame, binary: bool = False) -> sp.csr_matrix:
        u, i = self.codes(df)
        w = np.ones(len(df), np.float32) if binary else df["weight"].to_numpy(np.float32)
        X = sp.csr_matrix((w, (u, i)), shape=(self.n_users, self.n_items))
        X.sum_duplicates()
        if binary:
            X.data[:] = 1.0
        return X


def unreleased(items: pd.DataFrame | None, test: pd.DataFrame, n_items: int) -> np.ndarray:
    """Mask of titles released after the last held-out interaction: nobody could have played
    them, so they are no candidates. ``release_day`` (items) is in days on the clock of the
    ``day`` column, or of ``timestamp`` / 86400; without both nothing is masked."""
    out = np.zeros(n_items, dtype=bool)
    col = time_column(test)
    if items is None or "release_day" not in items or col is None or test.empty:
        return out
    horizon = float(test[col].max()) / (DAY_SECONDS if col == "timestamp" else 1.0)
    release = pd.to_numeric(items["release_day"], errors="coerce").to_numpy(np.float64)
    out[items["item"].to_numpy(np.int64)] = release > horizon
    return out


def _segment_labels(segments, df: pd.DataFrame, enc: Encoded) -> np.ndarray | None:
    if segments is None:
        return None
    if isinstance(segments, str):
        if segments not in df:
            raise InputError(f"segment column {segments!r} not in the interactions")
        first = df.drop_duplicates("user").set_index("user")[segments]
        return first.reindex(enc.user_index).astype(str).to_numpy()
    series = pd.Series(segments) if isinstance(segments, Mapping) else segments
    return series.reindex(enc.user_index).fillna("unknown").astype(str).to_numpy()


def evaluate_models(interactions: pd.DataFrame, items: pd.DataFrame | None = None,
                    models: Mapping[str, Any] | None = None, *, k: int = 10, split: str = "temporal",
                    test_fraction: float = 0.2, segments: str | pd.Series | Mapping | None = None,
                    seed: int = 0, cold_items: bool = False, min_history: int = 1,
                    progress: bool = False) -> pd.DataFrame:
    """Fit every model on the training part and score its top-``k`` on the held-out part.

    ``models``: name -> scorer or :class:`~recsys.models.pipeline.Pipeline` (anything with
    ``fit(X, items)`` and ``recommend(users, X, n, filter_seen, exclude)``); default
    :func:`default_models`. Evaluated users have ``min_history`` training titles and at least
    one held-out title they had not played in training. ``segments``: a column of
    ``interactions`` or a user -> label mapping; results come for "all" and per label.
    ``cold_items``: only titles with no training interaction count, as test targets and as
    candidates (the new-title cold start). Titles released (``release_day`` in ``items``) after
    the last held-out interaction are never candidates. Returns one row per (model, segment)
    with the columns of :data:`METRICS` plus ``users`` and ``fit_seconds``.
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
        raise InputError(f"k must be a positive integer, got {k!r}")
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    df = check_interactions(interactions)
    enc = Encoded(df, items)
    train, test = temporal_split(df, test_fraction) if split == "temporal" else random_split(df, test_fraction, seed=seed)
    X = enc.matrix(train)
    truth = enc.matrix(test, binary=True)
    seen = X.copy()
    seen.data[:] = 1.0
    truth = (truth - truth.multiply(seen)).tocsr()   # a title played in training is no target
    truth.eliminate_zeros()
    users_per_item = np.diff(seen.tocsc().indptr)
    excluded = unreleased(enc.items, test, enc.n_items)
    if cold_items:
        cold = users_per_item == 0
        truth = (truth @ sp.diags(cold.astype(np.float32))).tocsr()
        truth.eliminate_zeros()
        excluded |= ~cold
    exclude = np.flatnonzero(excluded) if excluded.any() else None
    history = np.diff(X.indptr)
    eval_users = np.flatnonzero((np.diff(truth.indptr) > 0) & (history >= min_history))
    if len(eval_users) == 0:
        raise InputError("no user has both training history and held-out interactions: too little data for this split")
    truth_u = truth[eval_users]
    genres, _ = genre_matrix(enc.items, enc.n_items)
    head = M.head_items(users_per_item)
    n_train_users = int((history > 0).sum())
    labels = _segment_labels(segments, df, enc)
    if models is None:
        models = default_models(seed, with_content=enc.items is not None)
    names = list(models)
    if progress:
        from tqdm.auto import tqdm
        names = tqdm(names, desc="evaluate", unit="model")
    rows = []
    for name in names:
        model = clone(models[name])
        t0 = time.perf_counter()
        model.fit(X, enc.items)
        fit_s = time.perf_counter() - t0
        rec, _ = model.recommend(eval_users, X, n=k, filter_seen=True, exclude=exclude)
        rec = np.asarray(rec)[:, :k]
        per_user = {
            "precision": M.precision_at_k(rec, truth_u), "recall": M.recall_at_k(rec, truth_u),
            "ndcg": M.ndcg_at_k(rec, truth_u), "map": M.ap_at_k(rec, truth_u),
            "ild": M.intra_list_diversity(rec, genres), "novelty": M.novelty(rec, users_per_item, n_train_users),
            "longtail": M.longtail_share(rec, head),
        }
        groups = [("all", np.ones(len(eval_users), dtype=bool))]
        if labels is not None:
            lab = labels[eval_users]
            groups += [(str(g), lab == g) for g in sorted(pd.unique(lab))]
        for seg, mask in groups:
            row = {"model": name, "segment": seg, "users": int(mask.sum())}
            for m in METRICS:
                if m == "coverage":
                    row[m] = M.coverage(rec[mask], enc.n_items)
                else:
                    vals = per_user[m][mask]
                    row[m] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
            row["fit_seconds"] = fit_s
            rows.append(row)
    return pd.DataFrame(rows, columns=["model", "segment", "users", *METRICS, "fit_seconds"])
