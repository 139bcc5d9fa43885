"""Intervals across users and the paired test, against scipy and statsmodels on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.weightstats import DescrStatsW

from recsys.evaluate import evaluate_models, planted_dataset
from recsys.evaluate.intervals import paired_t, t_interval
from recsys.evaluate.offline import holdout, per_user_metrics
from recsys.models import ALS, ItemKNN, Popularity


def test_t_interval_is_statsmodels():
    x = np.random.default_rng(1).beta(0.5, 2.0, 400)
    for conf in (0.9, 0.95):
        np.testing.assert_allclose(t_interval(x, conf), DescrStatsW(x).tconfint_mean(alpha=1 - conf), rtol=1e-12)
    assert t_interval(np.array([np.nan, 0.3, np.nan]), 0.95) == (0.3, 0.3)


def test_paired_t_is_scipys_ttest_rel():
    rng = np.random.default_rng(2)
    a = rng.beta(0.5, 2.0, 300)
    b = np.clip(a + rng.normal(0.02, 0.1, 300), 0, 1)
    r = paired_t(b, a)
    ref = stats.ttest_rel(b, a)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    ci = ref.confidence_interval(0.95)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert r.diff == pytest.approx(np.mean(b - a)) and r.n == 300
    same = paired_t(a, a)
    assert (same.diff, same.p_value) == (0.0, 1.0)


def test_evaluate_models_carries_the_per_user_statistics():
    inter, items = planted_dataset(600, 150, clusters=4, mean_plays=12, seed=2)
    models = {"popularity": Popularity(), "als": ALS(factors=8, random_state=0), "itemknn": ItemKNN()}
    res = evaluate_models(inter, items, models, k=10, split="user-temporal").set_index("model")
    h = holdout(inter, items, split="user-temporal")
    per = {n: per_user_metrics(m, h, 10)[0]["ndcg"] for n, m in models.items()}
    best = max(per, key=lambda n: per[n].mean())
    assert (res["reference"] == best).all()
    for n in models:
        assert (res.at[n, "ndcg_ci_low"], res.at[n, "ndcg_ci_high"]) == pytest.approx(t_interval(per[n]))
        assert res.at[n, "ndcg_p_value"] == pytest.approx(1.0 if n == best else stats.ttest_rel(per[n], per[best]).pvalue)
    chosen = evaluate_models(inter, items, models, k=10, split="user-temporal", reference="popularity")
    assert (chosen["reference"] == "popularity").all()
    assert (chosen.set_index("model").loc[["als", "itemknn"], "ndcg_diff_ci_low"] > 0).all()
