"""Train and evaluate models offline on a hold-out split: :func:`evaluate_models`.

Input is plain data, so the same call serves MovieLens, a CSV export or the simulator's plays:
an interactions frame (``user``, ``item``, optional ``weight`` and ``timestamp`` or ``day``) and
an optional items frame (``item`` plus public metadata such as ``genres``). Ids may be any
hashable values; they are mapped to indices here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from recsys.core.errors import InputError
from recsys.evaluate import metrics as M
from recsys.evaluate.intervals import paired_t, t_interval
from recsys.evaluate.splits import random_split, temporal_split, time_column, user_temporal_split
from recsys.models.registry import MODELS
from recsys.models.base import Scorer
from recsys.models.features import genre_matrix
from recsys.core.rng import KeyedRandom

SPLITS = ("user-temporal", "temporal", "random")
#: how each split is described to a reader
SPLIT_TEXT = {"user-temporal": "per-user temporal (each user's last {f:.0%} of interactions by time held out; "
                               "equal times in a seeded random order)",
              "temporal": "global temporal (every interaction after the {q:.0%} time quantile held out)",
              "random": "per-user random (a random {f:.0%} of each user's interactions held out)"}
#: accuracy metrics, the per-user ones that get intervals
ACCURACY = ("precision", "recall", "ndcg", "map")
TIES = ("random", "model")
DAY_SECONDS = 86_400
METRICS = ("precision", "recall", "ndcg", "map", "coverage", "ild", "novelty", "longtail")


#: the models ``recsys evaluate`` scores by default, from the one model registry
DEFAULT_MODELS = ("random", "popularity", "als", "bpr", "itemknn", "rp3beta", "ease", "content", "hybrid")


def default_models(seed: int = 0, *, with_content: bool = True) -> dict[str, Any]:
    """The registry's random, popularity, als, bpr, itemknn, rp3beta, ease and (with item
    metadata) content and hybrid, with their own defaults."""
    return {name: MODELS[name].build(seed=seed) for name in DEFAULT_MODELS
            if with_content or MODELS[name].kind not in ("content", "hybrid")}


def model_by_name(name: str, *, seed: int = 0, with_content: bool = True):
    """A built-in model of :func:`default_models` by name, or a plugin scorer ``package.module:Class``."""
    if ":" in name:
        from recsys.policies.plugins import plugin_scorer

        return plugin_scorer(name)
    models = default_models(seed, with_content=with_content)
    if name not in models:
        raise InputError(f"unknown model {name!r} (known here: {', '.join(models)}, or a plugin package.module:Class)")
    return models[name]


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


def released_after(items: pd.DataFrame | None, train: pd.DataFrame, n_items: int) -> np.ndarray:
    """Mask of titles released after the training cut: ``release_day`` (items) later than the
    last training interaction, in days on the clock of ``day``, or of ``timestamp`` / 86400 (a
    title released on day d is out from d x 86400 s). Raises :class:`InputError` without a
    ``release_day`` column or a time column."""
    col = time_column(train)
    if items is None or "release_day" not in items or col is None:
        raise InputError("new_titles needs a temporal split and release_day in the items frame")
    cut = float(train[col].max()) / (DAY_SECONDS if col == "timestamp" else 1.0)
    release = pd.to_numeric(items["release_day"], errors="coerce").to_numpy(np.float64)
    out = np.zeros(n_items, dtype=bool)
    out[items["item"].to_numpy(np.int64)] = release > cut
    return out


def _break_ties(users: np.ndarray, ids: np.ndarray, scores: np.ndarray, rand: KeyedRandom) -> np.ndarray:
    """Re-order each run of equal consecutive scores of a list by a keyed uniform per (user,
    title); the order across runs is kept."""
    if ids.shape[1] < 2:
        return ids
    run = np.concatenate([np.zeros((len(ids), 1), np.int64),
                          np.cumsum(scores[:, 1:] != scores[:, :-1], axis=1)], axis=1)
    key = rand.uniform(users[:, None], np.maximum(ids, 0))
    key[ids < 0] = 2.0                       # padding stays at the end of its run
    order = np.lexsort((key, run), axis=-1)
    return np.take_along_axis(ids, order, 1)


def ranked_lists(model, users: np.ndarray, X: sp.csr_matrix, k: int, exclude: np.ndarray | None,
                 n_items: int, *, ties: str = "random", seed: int = 0, chunk: int = 2048) -> np.ndarray:
    """(n, k) top-``k`` ids per user (-1 pads) from ``model.recommend`` (seen titles filtered).

    ``ties="random"``: for a :class:`~recsys.models.base.Scorer`, titles with equal scores are
    ordered by a uniform keyed on (``seed``, user, title), so a scorer that cannot tell titles
    apart (ALS on titles with no plays: all factors zero; popularity among unplayed titles)
    ranks them like random rather than in the fixed index order its top-n happens to return,
    the same for every user. The list is fetched long enough to hold the whole tie group at
    rank ``k`` (doubling until it does). Other recommenders (a re-ranking
    :class:`~recsys.policies.pipeline.Pipeline`) keep their own order, as with ``ties="model"``.
    """
    if ties == "model" or not isinstance(model, Scorer):
        rec, _ = model.recommend(users, X, n=k, filter_seen=True, exclude=exclude)
        rec = np.asarray(rec)[:, :k]
        return rec if rec.shape[1] == k else np.pad(rec, ((0, 0), (0, k - rec.shape[1])), constant_values=-1)
    rand = KeyedRandom.from_seed(seed, "evaluate-ties")
    out = np.full((len(users), k), -1, dtype=np.int64)
    for lo in range(0, len(users), chunk):
        block = np.arange(lo, min(lo + chunk, len(users)))
        n = min(n_items, 2 * k)
        while len(block):
            ids, sc = model.recommend(users[block], X, n=n, filter_seen=True, exclude=exclude)
            ids, sc = np.asarray(ids, dtype=np.int64), np.asarray(sc, dtype=np.float64)
            ids[~(sc > -np.inf)] = -1        # filtered, as top_n marks them
            # the tie group at rank k may go on past the list: fetch more for those users
            more = (np.zeros(len(block), bool) if n >= n_items or ids.shape[1] < max(k, 2) else
                    (ids[:, -1] >= 0) & (sc[:, k - 1] == sc[:, -1]))
            done = ~more
            ranked = _break_ties(users[block[done]], ids[done], sc[done], rand)[:, :k]
            out[block[done], :ranked.shape[1]] = ranked
            block, n = block[more], min(n_items, 4 * n)
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


def split_frame(df: pd.DataFrame, split: str, test_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) of ``df`` by the named split (:data:`SPLITS`)."""
    if split == "temporal":
        return temporal_split(df, test_fraction)
    if split == "user-temporal":
        return user_temporal_split(df, test_fraction, seed=seed)
    if split == "random":
        return random_split(df, test_fraction, seed=seed)
    raise InputError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")


def describe_split(split: str, test_fraction: float) -> str:
    return SPLIT_TEXT[split].format(f=test_fraction, q=1.0 - test_fraction)


@dataclass
class Holdout:
    """A train / test split ready to score: the training matrix, the evaluated users' held-out
    titles (``truth``, one row per evaluated user) and what the beyond-accuracy metrics need."""

    enc: Encoded
    train: pd.DataFrame
    test: pd.DataFrame
    X: sp.csr_matrix
    users: np.ndarray
    truth: sp.csr_matrix
    exclude: np.ndarray | None
    genres: sp.csr_matrix
    users_per_item: np.ndarray
    head: np.ndarray
    labels: np.ndarray | None

    @property
    def n_items(self) -> int:
        return self.enc.n_items


def holdout(interactions: pd.DataFrame, items: pd.DataFrame | None = None, *, split: str = "temporal",
            test_fraction: float = 0.2, seed: int = 0, segments=None, cold_items: bool = False,
            new_titles: bool = False, min_history: int = 1) -> Holdout:
    """Split ``interactions`` and build the :class:`Holdout` (arguments as :func:`evaluate_models`).

    Everything here is computed from the frame given: called on a training part, it cuts a
    validation split without ever seeing the test part (:mod:`recsys.evaluate.tune`).
    """
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    if new_titles and split != "temporal":
        raise InputError("new_titles needs a temporal split: titles released after the training cut")
    df = check_interactions(interactions)
    enc = Encoded(df, items)
    train, test = split_frame(df, split, test_fraction, seed)
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
    if new_titles:
        new = released_after(enc.items, train, enc.n_items) & (users_per_item == 0)
        if not (new & ~excluded).any():
            raise InputError("no title is released between the training cut and the last held-out "
                             "interaction: use a larger test_fraction")
        truth = (truth @ sp.diags(new.astype(np.float32))).tocsr()
        truth.eliminate_zeros()
        excluded |= ~new
    history = np.diff(X.indptr)
    users = np.flatnonzero((np.diff(truth.indptr) > 0) & (history >= min_history))
    if len(users) == 0:
        raise InputError("no user has both training history and held-out interactions: too little data for this split")
    genres, _ = genre_matrix(enc.items, enc.n_items)
    return Holdout(enc=enc, train=train, test=test, X=X, users=users, truth=truth[users],
                   exclude=np.flatnonzero(excluded) if excluded.any() else None, genres=genres,
                   users_per_item=users_per_item, head=M.head_items(users_per_item),
                   labels=_segment_labels(segments, df, enc))


def per_user_metrics(model, h: Holdout, k: int = 10, *, ties: str = "random", seed: int = 0,
                     fit: bool = True) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """Fit ``model`` (a clone) on the holdout's training matrix and score its top-``k``: (per-user
    metric arrays aligned with ``h.users``, the lists, fit seconds)."""
    t0 = time.perf_counter()
    if fit:
        model = clone(model)
        model.fit(h.X, h.enc.items)
    fit_s = time.perf_counter() - t0
    rec = ranked_lists(model, h.users, h.X, k, h.exclude, h.n_items, ties=ties, seed=seed)
    n_train_users = int((np.diff(h.X.indptr) > 0).sum())
    per_user = {
        "precision": M.precision_at_k(rec, h.truth), "recall": M.recall_at_k(rec, h.truth),
        "ndcg": M.ndcg_at_k(rec, h.truth), "map": M.ap_at_k(rec, h.truth),
        "ild": M.intra_list_diversity(rec, h.genres), "novelty": M.novelty(rec, h.users_per_item, n_train_users),
        "longtail": M.longtail_share(rec, h.head),
    }
    return per_user, rec, fit_s


def summarise(results: Mapping[str, tuple[dict[str, np.ndarray], np.ndarray, float]], h: Holdout, *,
              reference: str | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """One row per (model, segment) from :func:`per_user_metrics` results: the means of
    :data:`METRICS`, t-intervals of the accuracy metrics across users, and NDCG's paired t-test
    against ``reference`` (default: the model with the highest NDCG over all users)."""
    names = list(results)
    if reference is None:
        reference = max(names, key=lambda n: np.mean(results[n][0]["ndcg"]))
    elif reference not in results:
        raise InputError(f"reference model {reference!r} is not among the models evaluated ({', '.join(names)})")
    groups = [("all", np.ones(len(h.users), dtype=bool))]
    if h.labels is not None:
        lab = h.labels[h.users]
        groups += [(str(g), lab == g) for g in sorted(pd.unique(lab))]
    ref_ndcg = results[reference][0]["ndcg"]
    rows = []
    for name in names:
        per_user, rec, fit_s = results[name]
        for seg, mask in groups:
            row = {"model": name, "segment": seg, "users": int(mask.sum())}
            for m in METRICS:
                if m == "coverage":
                    row[m] = M.coverage(rec[mask], h.n_items)
                else:
                    vals = per_user[m][mask]
                    row[m] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
            row["fit_seconds"] = fit_s
            for m in ACCURACY:
                row[f"{m}_ci_low"], row[f"{m}_ci_high"] = t_interval(per_user[m][mask], confidence)
            test = paired_t(per_user["ndcg"][mask], ref_ndcg[mask], confidence)
            row.update(reference=reference, ndcg_diff=test.diff, ndcg_diff_ci_low=test.ci_low,
                       ndcg_diff_ci_high=test.ci_high, ndcg_p_value=test.p_value)
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


#: the columns of :func:`evaluate_models`' frame
COLUMNS = ["model", "segment", "users", *METRICS, "fit_seconds",
           *[f"{m}_ci_{s}" for m in ACCURACY for s in ("low", "high")],
           "reference", "ndcg_diff", "ndcg_diff_ci_low", "ndcg_diff_ci_high", "ndcg_p_value"]


def evaluate_models(interactions: pd.DataFrame, items: pd.DataFrame | None = None,
                    models: Mapping[str, Any] | None = None, *, k: int = 10, split: str = "temporal",
                    test_fraction: float = 0.2, segments: str | pd.Series | Mapping | None = None,
                    seed: int = 0, cold_items: bool = False, new_titles: bool = False,
                    min_history: int = 1, ties: str = "random", progress: bool = False,
                    reference: str | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Fit every model on the training part and score its top-``k`` on the held-out part.

    ``models``: name -> scorer or :class:`~recsys.policies.pipeline.Pipeline` (anything with
    ``fit(X, items)`` and ``recommend(users, X, n, filter_seen, exclude)``); default
    :func:`default_models`. ``split``: ``temporal`` (one global cut in time), ``user-temporal``
    (each user's latest interactions held out) or ``random`` (per user). Evaluated users have
    ``min_history`` training titles and at least one held-out title they had not played in
    training; every model is scored on the same users. ``segments``: a column of
    ``interactions`` or a user -> label mapping; results come for "all" and per label.
    ``cold_items``: only titles with no training interaction count, as test targets and as
    candidates (in a sparse log this mixes never-played back catalogue with new releases).
    ``new_titles``: the titles released after training, by their public release day: only
    titles with ``release_day`` (in ``items``) after the temporal cut and no training
    interaction count, as test targets and as candidates, so the lists rank the new titles
    among themselves (needs ``split="temporal"``; a larger ``test_fraction`` moves the cut
    earlier and lets more titles out after it). Titles released after the last held-out
    interaction are never candidates. ``ties``: ``"random"`` breaks a scorer's equal scores at
    random per (user, title) (seeded by ``seed``; :func:`ranked_lists`), ``"model"`` keeps the
    order its top-n returns. Returns one row per (model, segment) with :data:`COLUMNS`: the
    means of :data:`METRICS`, ``users`` and ``fit_seconds``; ``<metric>_ci_low/high``, the
    ``confidence`` t-interval of each accuracy metric's mean across users; and the paired
    t-test of NDCG against ``reference`` (default: the best model by NDCG), per user:
    ``ndcg_diff`` (model minus reference), its interval and ``ndcg_p_value``.
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
        raise InputError(f"k must be a positive integer, got {k!r}")
    if ties not in TIES:
        raise InputError(f"unknown ties {ties!r} (known: {', '.join(TIES)})")
    h = holdout(interactions, items, split=split, test_fraction=test_fraction, seed=seed, segments=segments,
                cold_items=cold_items, new_titles=new_titles, min_history=min_history)
    if models is None:
        models = default_models(seed, with_content=h.enc.items is not None)
    from recsys.policies.plugins import as_scorer

    models = {name: as_scorer(m, name) for name, m in models.items()}
    if reference is not None and reference not in models:
        raise InputError(f"reference model {reference!r} is not among the models ({', '.join(models)})")
    names = list(models)
    if progress:
        from tqdm.auto import tqdm
        names = tqdm(names, desc="evaluate", unit="model")
    results = {name: per_user_metrics(models[name], h, k, ties=ties, seed=seed) for name in names}
    return summarise(results, h, reference=reference, confidence=confidence)
