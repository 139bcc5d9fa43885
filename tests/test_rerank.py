"""Re-rankers: weight 0 is the identity, outputs are permutations, gains do what they say."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.evaluate import evaluate_models, planted_dataset
from recsys.models import ALS, Popularity
from recsys.policies.pipeline import Pipeline
from recsys.policies.rerank import (Calibration, Diversity, ItemInfo, LongTail, RerankContext, audience_embedding, rerank,
                           scale_relevance)

G = 5


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    T, n, M = 60, 50, 25
    rows = np.repeat(np.arange(T), 2)
    cols = np.concatenate([[t % G, (t * 7 + 1) % G] for t in range(T)])
    genres = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(T, G))
    genres.data[:] = 1.0
    audience = rng.random((T, 4)).astype(np.float32)
    audience /= 1.1 * np.linalg.norm(audience, axis=1, keepdims=True)
    info = ItemInfo(genres, rng.random(T) * 100, np.arange(T) - 50, rng.standard_normal((T, 4)).astype(np.float32),
                    audience=audience)
    cand = np.stack([rng.permutation(T)[:M] for _ in range(n)]).astype(np.int32)
    cand[:3, -4:] = -1  # short lists
    rel = np.sort(rng.random((n, M)), axis=1)[:, ::-1].astype(np.float32)
    rel[cand < 0] = -np.inf
    ctx = RerankContext(rng.random((n, G)).astype(np.float32), day=0)
    return info, cand, rel, ctx


ALL = [lambda w: Diversity(w), lambda w: Diversity(w, "latent"), lambda w: Diversity(w, "audience"),
       lambda w: Calibration(w), lambda w: LongTail(w)]


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


@pytest.mark.parametrize("similarity", ["genre", "audience"])
def test_mmr_matches_a_per_user_reference(setup, similarity):
    info, cand, rel, ctx = setup
    w = 0.5
    c, _ = Diversity(w, similarity).fit(info).rerank(cand, rel, ctx, k=8)
    E = info.genre_unit() if similarity == "genre" else info.audience_vectors()
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


def test_audience_embedding_is_the_cosine_of_audiences():
    """Dot products of the audience vectors are the cosine similarities of the titles' binary
    audience columns (exact here: 6 distinct audiences, rank 11 >= 6); a title nobody played
    is a zero vector; repeated plays and watch-share weights do not matter."""
    rng = np.random.default_rng(4)
    base = (rng.random((300, 6)) < rng.uniform(0.02, 0.4, 6)).astype(np.float64)
    A = np.hstack([base, base[:, :5], np.zeros((300, 1))])       # 12 titles; the last never played
    X = sp.csr_matrix(A * rng.integers(1, 4, A.shape))             # play counts, not 0/1
    E = audience_embedding(X)
    assert E.shape == (12, 11) and E.dtype == np.float32
    norm = np.linalg.norm(A, axis=0)
    cos = (A.T @ A) / np.maximum(np.outer(norm, norm), 1e-12)
    np.testing.assert_allclose(E @ E.T, cos, atol=1e-5)
    assert not E[-1].any()
    np.testing.assert_array_equal(E, audience_embedding(X))         # seeded: reproducible
    assert audience_embedding(sp.csr_matrix((5, 12))).shape == (12, 4)   # no plays: zeros, rank < users


def test_audience_similarity_needs_vectors_and_a_pipeline_builds_them():
    genres = sp.csr_matrix(np.eye(4, dtype=np.float32))
    with pytest.raises(ValueError, match="audience similarity needs"):
        Diversity(0.5, "audience").fit(ItemInfo(genres, np.ones(4)))
    X = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 1]], np.float32))
    pipe = Pipeline(Popularity(), (Diversity(0.5, "audience"),)).fit(X)
    assert pipe.info_.audience_vectors().shape == (4, 2)
    assert Pipeline(Popularity(), (Diversity(0.5),)).fit(X).info_.audience is None   # only when read


def test_audience_diversity_moves_lists_off_the_popular_head():
    """The same CF ranking (popular titles dominate): MMR over audiences counts popular titles
    as redundant with each other, so raising its weight recommends less popular titles (novelty
    rises) and more of the catalogue, at a cost in NDCG. MMR over genres at a small weight does
    the opposite: it takes the popular titles of other genres."""
    inter, items = planted_dataset(600, 1500, clusters=6, mean_plays=12, zipf=1.0, seed=11)
    weights = (0.0, 1.0, 3.0)
    models = {w: Pipeline(ALS(factors=10, random_state=0), (Diversity(w, "audience"),), candidates=100)
              for w in weights}
    models["genre"] = Pipeline(ALS(factors=10, random_state=0), (Diversity(0.3),), candidates=100)
    res = evaluate_models(inter, items, models, k=10, split="random").set_index("model")
    nov, cov, ndcg = (res.loc[list(weights), m].to_numpy() for m in ("novelty", "coverage", "ndcg"))
    assert (np.diff(nov) > 0).all(), nov
    assert cov[-1] > 1.2 * cov[0], cov
    assert (np.diff(ndcg) < 0).all(), ndcg
    assert res.loc["genre", "novelty"] < nov[0]


def test_rerank_without_active_rerankers_is_identity(setup):
    info, cand, rel, ctx = setup
    c, r = rerank(cand, rel, [], ctx)
    assert c is cand and r is rel


def test_chunks_give_the_same_result(setup, monkeypatch):
    import recsys.policies.rerank as rr

    info, cand, rel, ctx = setup
    full = rerank(cand, rel, [Diversity(0.4).fit(info), Calibration(0.3).fit(info)], ctx, k=8)
    monkeypatch.setattr(rr, "_CHUNK", 7)
    chunked = rerank(cand, rel, [Diversity(0.4).fit(info), Calibration(0.3).fit(info)], ctx, k=8)
    np.testing.assert_array_equal(full[0], chunked[0])
