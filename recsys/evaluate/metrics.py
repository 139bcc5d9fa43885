"""Offline top-k metrics.

Accuracy, per user, from the recommended ids ``rec`` (n, k) (-1 = empty) and a CSR ``truth``
(n, T) of held-out titles (binary relevance), then averaged over users:

* precision@k = hits / k; recall@k = hits / |truth|;
* NDCG@k = DCG / ideal DCG, DCG = sum of 1 / log2(rank + 1) over hits (scikit-learn's
  ``ndcg_score`` with binary relevance and no ties gives the same);
* AP@k = sum over hit ranks r of precision@r, divided by min(|truth|, k); MAP is its mean.

Beyond accuracy, over all users' lists:

* coverage: distinct titles recommended / catalogue size;
* ILD (intra-list diversity): mean pairwise cosine distance of the genre vectors within a list;
* novelty: mean self-information -log2(p) of a recommended title, p = share of training users
  who played it (a title nobody played counts as played by one);
* long-tail share: share of recommended slots outside the head, the 20% most played titles.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def hits(rec: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """(n, k) bool: recommended title is in the user's held-out set."""
    truth = sp.csr_matrix(truth)
    n, k = rec.shape
    out = np.zeros((n, k), dtype=bool)
    ok = rec >= 0
    r, c = np.nonzero(ok)
    if len(r):
        vals = np.asarray(truth[r, rec[r, c]]).ravel()
        out[r, c] = vals != 0
    return out


def precision_at_k(rec: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    return hits(rec, truth).sum(1) / rec.shape[1]


def recall_at_k(rec: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    n_true = np.diff(sp.csr_matrix(truth).indptr)
    return np.divide(hits(rec, truth).sum(1), n_true, out=np.zeros(len(rec)), where=n_true > 0)


def ndcg_at_k(rec: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    k = rec.shape[1]
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits(rec, truth) * disc).sum(1)
    n_true = np.minimum(np.diff(sp.csr_matrix(truth).indptr), k)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[n_true]
    return np.divide(dcg, ideal, out=np.zeros(len(rec)), where=ideal > 0)


def ap_at_k(rec: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    k = rec.shape[1]
    h = hits(rec, truth)
    prec = np.cumsum(h, axis=1) / np.arange(1, k + 1)
    n_true = np.minimum(np.diff(sp.csr_matrix(truth).indptr), k)
    return np.divide((prec * h).sum(1), n_true, out=np.zeros(len(rec)), where=n_true > 0)


def coverage(rec: np.ndarray, n_items: int) -> float:
    return len(np.unique(rec[rec >= 0])) / n_items if n_items else float("nan")


def intra_list_diversity(rec: np.ndarray, genres: sp.csr_matrix) -> np.ndarray:
    """(n,) mean pairwise cosine distance (1 - cosine of genre vectors) within each list."""
    n, k = rec.shape
    G = genres.shape[1]
    if G == 0:
        return np.full(n, np.nan)
    g = sp.csr_matrix(genres, dtype=np.float64)
    norm = np.sqrt(np.asarray(g.multiply(g).sum(1)).ravel())
    unit = sp.diags(np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)) @ g
    ok = rec >= 0
    m = ok.sum(1)
    flat = np.maximum(rec, 0).ravel()
    V = unit[flat].toarray().reshape(n, k, G) * ok[:, :, None]
    s = V.sum(1)
    self_sim = (V * V).sum((1, 2))
    pair_sim = (s * s).sum(1) - self_sim      # sum over ordered pairs i != j of cos(i, j)
    pairs = m * (m - 1)
    return np.divide(pairs - pair_sim, pairs, out=np.full(n, np.nan), where=pairs > 0)


def novelty(rec: np.ndarray, users_per_item: np.ndarray, n_users: int) -> np.ndarray:
    """(n,) mean self-information (bits) of the recommended titles."""
    p = np.maximum(users_per_item, 1) / max(n_users, 1)
    info = -np.log2(np.minimum(p, 1.0))
    ok = rec >= 0
    vals = np.where(ok, info[np.maximum(rec, 0)], 0.0)
    m = ok.sum(1)
    return np.divide(vals.sum(1), m, out=np.full(len(rec), np.nan), where=m > 0)


def head_items(users_per_item: np.ndarray, head_share: float = 0.2) -> np.ndarray:
    """Boolean mask of the head: the ``head_share`` most played titles."""
    n = len(users_per_item)
    order = np.argsort(-users_per_item, kind="stable")
    head = np.zeros(n, dtype=bool)
    head[order[: int(round(head_share * n))]] = True
    return head


def longtail_share(rec: np.ndarray, head: np.ndarray) -> np.ndarray:
    ok = rec >= 0
    tail = ok & ~head[np.maximum(rec, 0)]
    m = ok.sum(1)
    return np.divide(tail.sum(1), m, out=np.full(len(rec), np.nan), where=m > 0)
