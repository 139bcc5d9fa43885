"""Offline metrics against hand-computed cases and scikit-learn's ndcg_score."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import ndcg_score

from recsys.evaluate import metrics as M


def _truth(rows, n_items=10):
    r = [i for i, row in enumerate(rows) for _ in row]
    c = [t for row in rows for t in row]
    return sp.csr_matrix((np.ones(len(c)), (r, c)), shape=(len(rows), n_items))


REC = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
TRUTH = _truth([[2, 4, 9], [0]])


def test_hand_computed_accuracy():
    np.testing.assert_allclose(M.precision_at_k(REC, TRUTH), [2 / 4, 0])
    np.testing.assert_allclose(M.recall_at_k(REC, TRUTH), [2 / 3, 0])
    dcg = 1 / np.log2(3) + 1 / np.log2(5)
    idcg = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    np.testing.assert_allclose(M.ndcg_at_k(REC, TRUTH), [dcg / idcg, 0])
    np.testing.assert_allclose(M.ap_at_k(REC, TRUTH), [(1 / 2 + 2 / 4) / 3, 0])


def test_empty_slots_count_as_misses():
    rec = np.array([[2, -1, -1, 4]])
    np.testing.assert_allclose(M.precision_at_k(rec, TRUTH[:1]), [0.5])
    np.testing.assert_allclose(M.ap_at_k(rec, TRUTH[:1]), [(1 + 2 / 4) / 3])


@pytest.mark.parametrize("seed", range(5))
def test_ndcg_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    n, T, k = 30, 40, 10
    truth = sp.random(n, T, density=0.15, format="csr", random_state=seed)
    truth.data[:] = 1.0
    keep = np.diff(truth.indptr) > 0
    truth = truth[keep]
    scores = rng.random((truth.shape[0], T))  # distinct scores, so no ties
    rec = np.argsort(-scores, axis=1)[:, :k]
    ours = M.ndcg_at_k(rec, truth)
    theirs = [ndcg_score(truth[i].toarray(), scores[i:i + 1], k=k) for i in range(truth.shape[0])]
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_beyond_accuracy():
    genres = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=float))
    rec = np.array([[0, 1], [0, 2], [0, 3]])
    c = 1 / np.sqrt(2)
    np.testing.assert_allclose(M.intra_list_diversity(rec, genres), [0.0, 1.0, 1 - c])
    assert M.coverage(rec, 4) == 1.0
    assert M.coverage(np.array([[0, -1]]), 4) == 0.25
    upi = np.array([8, 4, 2, 0])
    np.testing.assert_allclose(M.novelty(rec, upi, 8), [(0 + 1) / 2, (0 + 2) / 2, (0 + 3) / 2])
    head = M.head_items(np.array([5, 9, 1, 0, 3]), head_share=0.4)
    np.testing.assert_array_equal(head, [True, True, False, False, False])
    np.testing.assert_allclose(M.longtail_share(np.array([[0, 2], [1, 0]]), head), [0.5, 0.0])
