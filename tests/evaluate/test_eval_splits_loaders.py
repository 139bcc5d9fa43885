"""Splits and loaders (MovieLens layouts generated here, CSV), including bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core.errors import InputError
from recsys.evaluate import load, load_csv, load_movielens, random_split, temporal_split, user_temporal_split



def test_temporal_split_cuts_at_a_time():
    df = pd.DataFrame({"user": np.arange(100) % 7, "item": np.arange(100), "timestamp": np.arange(100)})
    train, test = temporal_split(df, 0.2)
    assert len(test) == 20 and train.timestamp.max() < test.timestamp.min()
    with pytest.raises(InputError, match="timestamp or day"):
        temporal_split(df.drop(columns="timestamp"))


def test_random_split_holds_out_per_user():
    df = pd.DataFrame({"user": np.repeat(np.arange(20), 10), "item": np.tile(np.arange(10), 20)})
    df = pd.concat([df, pd.DataFrame({"user": [99], "item": [1]})])  # one interaction: stays in train
    train, test = random_split(df, 0.2, seed=1)
    assert (test.groupby("user").size() == 2).all() and 99 not in set(test.user)
    again = random_split(df, 0.2, seed=1)[1]
    pd.testing.assert_frame_equal(test, again)
    assert len(pd.merge(train, test, on=["user", "item"])) == 0

@pytest.mark.parametrize("kind", ["100k", "1m", "latest"])
def test_movielens_layouts(tmp_path, kind):
    from movielens_fixture import write_movielens

    path = write_movielens(tmp_path / kind, kind, n_users=40, n_items=30)
    inter, items = load_movielens(path, threshold=4)
    assert {"user", "item", "weight", "rating", "timestamp"} <= set(inter)
    assert (inter.rating >= 4).all() and (inter.weight == 1).all()
    assert set(items.columns) == {"item", "name", "genres"} and len(items) == 30
    assert all(isinstance(g, list) for g in items.genres)
    by_dir, _ = load_movielens(path.parent, threshold=None)
    assert len(by_dir) >= len(inter)


def test_csv_loader(tmp_path):
    p = tmp_path / "plays.csv"
    p.write_text("user,item,rating,timestamp,segment\na,x,5,1,new\na,y,2,2,new\nb,x,4,3,power\n")
    items = tmp_path / "items.csv"
    items.write_text("item,genres\nx,drama|comedy\ny,\n")
    inter, it = load_csv(p, items, threshold=4)
    assert list(inter.item) == ["x", "x"] and "segment" in inter
    assert it.genres.tolist() == [["drama", "comedy"], []]


@pytest.mark.parametrize("content, message", [
    (None, "interactions file not found"),
    ("usr,item\n1,2\n", "missing user column"),
    ("user,itm\n1,2\n", "missing item column"),
    ("user,item,rating\n1,2,five\n", "column 'rating' is not numeric (row 1: 'five')"),
    ("user,item\n", "no interactions"),
    ('user,item\n1,"2\n', "cannot read interactions file"),
])
def test_bad_csv(tmp_path, content, message):
    p = tmp_path / "in.csv"
    if content is not None:
        p.write_text(content)
    with pytest.raises(InputError) as err:
        load("csv", p)
    assert message in str(err.value)


def test_bad_movielens_and_format(tmp_path):
    (tmp_path / "u.data").write_text("1\t2\tx\t3\n")
    with pytest.raises(InputError, match="column 'rating' is not numeric"):
        load("movielens", tmp_path / "u.data")
    with pytest.raises(InputError, match="no MovieLens ratings file"):
        load("movielens", _empty_dir(tmp_path))
    with pytest.raises(InputError, match="unknown format 'parquet'"):
        load("parquet", tmp_path / "u.data")


def _empty_dir(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d


def test_user_temporal_split_holds_out_each_users_latest():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 15, 40)
    users = np.repeat(np.arange(40), n)
    df = pd.DataFrame({"user": users, "item": np.arange(len(users)), "timestamp": rng.integers(0, 5, len(users))})
    train, test = user_temporal_split(df, 0.2, seed=3)
    assert len(train) + len(test) == len(df)
    per_user = test.groupby("user").size()
    counts = pd.Series(n, index=np.arange(40))
    expect = np.maximum(1, np.rint(counts * 0.2)).astype(int)[counts >= 2]
    pd.testing.assert_series_equal(per_user.sort_index(), expect.sort_index(), check_names=False)
    # every held-out interaction is at or after the user's latest training one
    last_train = train.groupby("user").timestamp.max()
    first_test = test.groupby("user").timestamp.min()
    assert (first_test >= last_train.reindex(first_test.index)).all()
    # equal times are ordered by the seeded shuffle: same seed same split, another seed may differ
    pd.testing.assert_frame_equal(test, user_temporal_split(df, 0.2, seed=3)[1])
    assert any(not test.equals(user_temporal_split(df, 0.2, seed=s)[1]) for s in range(4, 8))
    with pytest.raises(InputError, match="timestamp or day"):
        user_temporal_split(df.drop(columns="timestamp"))


def test_user_temporal_split_reads_days_too():
    df = pd.DataFrame({"user": [0] * 5 + [1] * 5, "item": range(10), "day": [1, 2, 3, 4, 5, 5, 4, 3, 2, 1]})
    _, test = user_temporal_split(df, 0.2)
    assert sorted(test["item"]) == [4, 5]
