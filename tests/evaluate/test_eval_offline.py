"""evaluate_models: the Python API (any ids, segments, cold titles, bad input)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core.errors import InputError
from recsys.evaluate import METRICS, evaluate_models, planted_dataset
from recsys.evaluate.offline import COLUMNS, unreleased
from recsys.models import ALS, Popularity, Random


@pytest.fixture(scope="module")
def data():
    return planted_dataset(500, 150, clusters=4, mean_plays=12, seed=2)


FAST = {"random": Random(random_state=0), "popularity": Popularity(), "als": ALS(factors=8, random_state=0)}


def test_frame_layout_and_segments(data):
    inter, items = data
    inter = inter.assign(segment=np.where(inter.user % 2 == 0, "even", "odd"))
    res = evaluate_models(inter, items, FAST, k=5, segments="segment")
    assert list(res.columns) == COLUMNS
    assert COLUMNS[:len(METRICS) + 4] == ["model", "segment", "users", *METRICS, "fit_seconds"]  # as before
    assert set(res.segment) == {"all", "even", "odd"} and len(res) == 9
    one = res[res.model == "als"].set_index("segment")
    assert one.loc["even", "users"] + one.loc["odd", "users"] == one.loc["all", "users"]
    assert ((res.precision >= 0) & (res.precision <= 1)).all()


def test_string_ids_give_the_same_result(data):
    inter, items = data
    a = evaluate_models(inter, items, FAST, k=5)
    inter2 = inter.assign(user="u" + inter.user.astype(str), item="m" + inter.item.astype(str))
    items2 = items.assign(item="m" + items.item.astype(str))
    b = evaluate_models(inter2, items2, FAST, k=5)
    pd.testing.assert_frame_equal(a.drop(columns="fit_seconds"), b.drop(columns="fit_seconds"))


def test_without_items_or_time(data):
    inter, _ = data
    res = evaluate_models(inter.drop(columns="timestamp"), None, FAST, k=5, split="random")
    assert res.ild.isna().all()  # no genres, no diversity
    with pytest.raises(InputError, match="timestamp or day"):
        evaluate_models(inter.drop(columns="timestamp"), None, FAST, k=5, split="temporal")


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 0}, "k must be a positive integer"),
    ({"k": -3}, "k must be a positive integer"),
    ({"split": "kfold"}, "unknown split 'kfold'"),
    ({"segments": "region"}, "segment column 'region'"),
])
def test_bad_arguments(data, kwargs, message):
    inter, items = data
    with pytest.raises(InputError, match=message):
        evaluate_models(inter, items, FAST, **kwargs)


def test_missing_columns(data):
    inter, items = data
    with pytest.raises(InputError, match="no user column"):
        evaluate_models(inter.drop(columns="user"), items, FAST)
    with pytest.raises(InputError, match="no item column"):
        evaluate_models(inter.rename(columns={"item": "movie"}), items, FAST)


def test_titles_released_after_the_test_period_are_no_candidates(data):
    inter, items = data
    future = items.assign(release_day=np.where(items.item % 2 == 0, 10**6, items.release_day))
    before = evaluate_models(inter, items, {"random": Random(random_state=0)}, k=10).coverage.iloc[0]
    after = evaluate_models(inter, future, {"random": Random(random_state=0)}, k=10).coverage.iloc[0]
    assert before > 0.9 and after <= 0.5


def test_unreleased_reads_release_days_on_the_data_clock():
    items = pd.DataFrame({"item": [0, 1, 2], "release_day": [-5, 3, 4]})
    by_day = pd.DataFrame({"user": [0, 0], "item": [0, 1], "day": [1, 3]})
    np.testing.assert_array_equal(unreleased(items, by_day, 3), [False, False, True])
    by_ts = pd.DataFrame({"user": [0], "item": [0], "timestamp": [4 * 86_400]})
    np.testing.assert_array_equal(unreleased(items, by_ts, 3), [False, False, False])
    assert not unreleased(None, by_day, 3).any() and not unreleased(items.drop(columns="release_day"), by_day, 3).any()
