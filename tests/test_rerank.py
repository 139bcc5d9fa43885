"""Re-rankers: weight 0 is the identity, outputs are permutations, gains do what they say."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.evaluate import evaluate_models, planted_dataset
from recsys.models import ALS
from recsys.models.pipeline import Pipeline
from recsys.rerank import Calibration, Diversity, ItemInfo, LongTail, RerankContext, rerank, scale_relevance

G = 5


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    T, n, M = 60, 50, 25
    rows = np.repeat(np.arange(T), 2)
    cols = np.concatenate([[t % G, (t * 7 + 1) % G] for t in range(T)])
    genres = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(T, G))
    genres.data[:] = 1.0
    info = ItemInfo(genres, rng.random(T) * 100, np.arange(T) - 50, rng.standard_normal((T, 4)).astype(np.float32))
    cand = np.stack([rng.permutation(T)[:M] for _ in range(n)]).astype(np.int32)
    cand[:3, -4:] = -1  # short lists
    rel = np.sort(rng.random((n, M)), axis=1)[:, ::-1].astype(np.float32)
    rel[cand < 0] = -np.inf
    ctx = RerankContext(rng.random((n, G)).astype(np.float32), day=0)
    return info, cand, rel, ctx


ALL = [lambda w: Diversity(w), lambda w: Diversity(w, "latent"), lambda w: Calibration(w), lambda w: LongTail(w)]


@pytest.mark.parametrize("make", ALL)
def test_zero_weight_leaves_ranking_untouched(setup, make):
    info, cand, rel, ctx = setup
    c, r = make(0.0).fit(info).rerank(cand, rel, ctx, k=10)
    np.testing.assert_array_equal(c, cand)
    np.testing.assert_array_equal(r, rel)


@pytest.mark.parametrize("make", ALL)
def test_output_is_a_permutation_with_empties_last(setup, make):
    info, cand, rel, ctx = setup
    c, r = make(0.7).fit(info).rerank(cand, rel, ctx, k=10)
    np.testing.assert_array_equal(np.sort(c, 1), np.sort(cand, 1))
    assert ((c[:3, -4:]) == -1).all()
    # scores travel with their titles
    lookup = {(i, t): s for i in range(len(cand)) for t, s in zip(cand[i], rel[i]) if t >= 0}
    assert all(lookup[(i, t)] == s for i in range(len(c)) for t, s in zip(c[i], r[i]) if t >= 0)


def test_mmr_matches_a_per_user_reference(setup):
    info, cand, rel, ctx = setup
    w = 0.5
    c, _ = Diversity(w).fit(info).rerank(cand, rel, ctx, k=8)
    E = info.genre_unit()
    r = scale_relevance(rel)
    for i in range(len(cand)):
        chosen: list[int] = []
        left = [j for j in range(cand.shape[1]) if cand[i, j] >= 0]
        for _ in range(min(8, len(left))):
            def obj(j):
                sim = max((float(E[cand[i, j]] @ E[cand[i, q]]) for q in chosen), default=0.0)
                return r[i, j] - w * sim
            best = max(left, key=lambda j: (obj(j), -j))
            chosen.append(best)
            left.remove(best)
        np.testing.assert_array_equal(c[i, : len(chosen)], cand[i, chosen])


def test_calibration_matches_brute_force_kl(setup):
    info, cand, rel, ctx = setup
    w, a = 0.8, 0.01
    c, _ = Calibration(w, alpha=a).fit(info).rerank(cand, rel, ctx, k=6)
    g = info.genres.toarray()
    pg = g / g.sum(1, keepdims=True)
    r = scale_relevance(rel)
    for i in range(10):
        p = ctx.genre_profile[i] / ctx.genre_profile[i].sum()
        chosen: list[int] = []
        left = [j for j in range(cand.shape[1]) if cand[i, j] >= 0]
        for _ in range(6):
            def obj(j):
                q = pg[cand[i, chosen + [j]]].mean(0)
                qt = (1 - a) * q + a * p
                return r[i, j] - w * float(np.sum(p * np.log(p / qt)))
            best = max(left, key=obj)
            chosen.append(best)
            left.remove(best)
        np.testing.assert_array_equal(c[i, :6], cand[i, chosen])


def test_calibration_brings_the_genre_mix_closer(setup):
    info, cand, rel, ctx = setup
    g = info.genres.toarray()

    def kl(c):
        q = (g[c[:, :10]] / 2).mean(1)
        p = ctx.genre_profile / ctx.genre_profile.sum(1, keepdims=True)
        return (p * np.log(p / (0.99 * q + 0.01 * p))).sum(1).mean()

    base = kl(cand)
    after = kl(Calibration(2.0).fit(info).rerank(cand, rel, ctx, k=10)[0])
    assert after < base


def test_longtail_moves_tail_and_new_titles_up(setup):
    info, cand, rel, ctx = setup
    c, _ = LongTail(5.0).fit(info).rerank(cand, rel, ctx, k=10)
    bonus = np.where((info.release_day <= 0) & (info.release_day > -7), 1.0, info.tail_score())
    top = lambda x: bonus[np.maximum(x[:, :10], 0)].mean()
    assert top(c) > top(cand)


def test_diversity_trades_accuracy_for_ild_and_coverage():
    """A CF ranking concentrated on popular titles (a large catalogue, Zipf popularity):
    raising the MMR weight raises ILD and coverage while NDCG falls."""
    inter, items = planted_dataset(600, 1500, clusters=6, mean_plays=12, zipf=1.0, seed=11)
    models = {w: Pipeline(ALS(factors=10, random_state=0), (Diversity(w),), candidates=100) for w in (0.0, 0.3, 1.0, 3.0)}
    res = evaluate_models(inter, items, models, k=10, split="random").set_index("model")
    ild, cov, ndcg = res["ild"].to_numpy(), res["coverage"].to_numpy(), res["ndcg"].to_numpy()
    assert (np.diff(ild) > 0).all(), ild
    assert (np.diff(cov) > 0).all(), cov
    assert (np.diff(ndcg) < 0).all(), ndcg


def test_rerank_without_active_rerankers_is_identity(setup):
    info, cand, rel, ctx = setup
    c, r = rerank(cand, rel, [], ctx)
    assert c is cand and r is rel


def test_chunks_give_the_same_result(setup, monkeypatch):
    import recsys.rerank as rr

    info, cand, rel, ctx = setup
    full = rerank(cand, rel, [Diversity(0.4).fit(info), Calibration(0.3).fit(info)], ctx, k=8)
    monkeypatch.setattr(rr, "_CHUNK", 7)
    chunked = rerank(cand, rel, [Diversity(0.4).fit(info), Calibration(0.3).fit(info)], ctx, k=8)
    np.testing.assert_array_equal(full[0], chunked[0])
