"""Offline evaluation on titles released after training: content beats ALS in the synthetic world.

Protocol (``evaluate_models(..., new_titles=True)``, docs/models.md "New titles offline"): a
temporal split at a cut day; models train on the plays up to the cut; the test targets are the
held-out plays of titles released after the cut (by their public ``release_day``; they have no
training plays), and the lists rank those titles only; NDCG@10 over the users with training
history who played at least one of them. ALS has all-zero factors for such titles, so its scores
tie; ties are broken at random per (user, title), so it ranks them like random instead of in one
index order shared by every user. Content scores them from metadata. The cut is at the median
play (``test_fraction=0.5``, day -14 of the four-week warm-up): with the default 20% the window
is six days, with about 16 new titles whose few plays (one user in 45) follow the order of the
logger's "New this week" row (docs/models.md).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.cli import main
from recsys.core.errors import InputError
from recsys.evaluate import evaluate_models, planted_dataset, temporal_split
from recsys.evaluate.offline import ranked_lists
from recsys.models import ALS, Content, Hybrid, Popularity, Random
from recsys.models.base import Scorer
from recsys.experiment.warmup import synthetic_interactions
from recsys.world.config import WorldConfig

CONFIG = WorldConfig(users=6000)    # the default catalogue: 3000 titles, 6% released within 4 weeks of day 0
SEED = 1
TEST_FRACTION = 0.5
#: the CF model as the policies configure it (recsys.policies.CF_DEFAULTS)
CF = dict(factors=16, regularization=10.0, alpha=40.0)


@pytest.fixture(scope="module")
def logs():
    inter, items = synthetic_interactions(CONFIG, seed=SEED)
    codes, _ = pd.factorize(inter["user"])
    return inter.drop(columns="segment").assign(user=codes), items


@pytest.fixture(scope="module")
def ndcg(logs):
    inter, items = logs
    models = {"random": Random(random_state=0), "popularity": Popularity(), "als": ALS(**CF, random_state=0),
              "content": Content(random_state=0), "hybrid": Hybrid(ALS(**CF), random_state=0)}
    res = evaluate_models(inter, items, models, k=10, new_titles=True, test_fraction=TEST_FRACTION)
    return res.set_index("model")


def test_the_new_title_hold_out_is_not_trivial(logs, ndcg):
    """Counted here from the frames, independently of evaluate_models."""
    inter, items = logs
    train, test = temporal_split(inter, TEST_FRACTION)
    cut, horizon = train["day"].max(), test["day"].max()
    release = items.set_index("item")["release_day"]
    new = release.index[(release > cut) & (release <= horizon)]
    assert not train["item"].isin(new).any()             # released after the cut: no training plays
    held = test[test["item"].isin(new) & test["user"].isin(train["user"])].drop_duplicates(["user", "item"])
    assert len(new) >= 30 and held["item"].nunique() >= 30, (len(new), held["item"].nunique())
    assert held["user"].nunique() >= 400 and len(held) >= 450, (held["user"].nunique(), len(held))
    assert (ndcg["users"] == held["user"].nunique()).all(), ndcg["users"]


def test_content_beats_als_on_titles_released_after_training(ndcg):
    n = ndcg["ndcg"]
    assert n["content"] > 1.25 * n["als"] and n["content"] - n["als"] > 0.03, n
    assert n["content"] > 1.25 * n["random"], n
    assert n["hybrid"] > 1.25 * n["als"], n      # its content component carries the new titles


def test_contents_lead_comes_from_metadata(logs, ndcg):
    """A permutation null: content fitted on the same metadata shuffled across titles (release
    days kept, so the same test set) shares content's form, including a ranking common to most
    users that may happen to follow the exposure, but not the link of metadata to taste. It
    scatters around random (0.08-0.13 over 8 shuffles on this world); the real metadata beats
    every shuffle."""
    inter, items = logs
    shuffled = []
    for s in range(4):
        perm = np.random.default_rng(s).permutation(len(items))
        fake = items.assign(**{c: items[c].to_numpy()[perm] for c in ("genres", "cast", "runtime", "kind")})
        res = evaluate_models(inter, fake, {"content": Content(random_state=0)}, k=10, new_titles=True,
                              test_fraction=TEST_FRACTION).set_index("model")
        assert res.loc["content", "users"] == ndcg.loc["content", "users"]
        shuffled.append(res.loc["content", "ndcg"])
    assert ndcg.loc["content", "ndcg"] > max(shuffled) + 0.01, (ndcg["ndcg"], shuffled)


def test_als_knows_nothing_of_new_titles(logs, ndcg):
    """ALS's scores for titles with no plays all tie: broken at random it ranks like random;
    in its own top-n order every user gets the same list."""
    n = ndcg["ndcg"]
    assert 0.8 * n["random"] < n["als"] < 1.25 * n["random"], n
    inter, items = logs
    own = evaluate_models(inter, items, {"als": ALS(**CF, random_state=0)}, k=10, new_titles=True,
                          test_fraction=TEST_FRACTION, ties="model").set_index("model")
    n_items = len(items)
    assert own.loc["als", "coverage"] == pytest.approx(10 / n_items), own
    assert ndcg.loc["als", "coverage"] > 3 * 10 / n_items, ndcg["coverage"]


class _Constant(Scorer):
    """Scores ``values`` (per title) for every user."""

    def __init__(self, values=None):
        self.values = values

    def fit(self, X, items=None):
        self.n_items_ = X.shape[1]
        return self

    def score(self, users, X=None):
        return np.broadcast_to(np.asarray(self.values, np.float32), (len(users), self.n_items_)).copy()


def test_random_ties_permute_only_within_equal_scores():
    X = sp.csr_matrix((50, 30), dtype=np.float32)
    values = np.r_[np.full(10, 2.0), np.full(20, 1.0)]          # titles 0-9 tie above titles 10-29
    model = _Constant(values).fit(X)
    users = np.arange(50)
    rec = ranked_lists(model, users, X, 15, None, 30, seed=3)
    assert (np.sort(rec[:, :10], axis=1) == np.arange(10)).all()  # the top group first, whole
    assert (rec[:, 10:] >= 10).all()
    assert len({tuple(r) for r in rec}) > 40                       # a different order per user
    np.testing.assert_array_equal(rec, ranked_lists(model, users, X, 15, None, 30, seed=3))
    np.testing.assert_array_equal(rec[:7], ranked_lists(model, users[:7], X, 15, None, 30, seed=3))
    own = ranked_lists(model, users, X, 15, None, 30, ties="model")
    assert len({tuple(r) for r in own}) == 1
    # a tie group reaching past the first fetch (2k) is fetched whole: 28 tied titles, k = 3
    flat = _Constant(np.r_[np.full(28, 1.0), 0.0, 0.0]).fit(X)
    top = ranked_lists(flat, users, X, 3, None, 30, seed=0)
    assert top.max() < 28 and len(np.unique(top)) > 20


def test_new_titles_on_planted_data():
    inter, items = planted_dataset(1500, 300, seed=2)
    res = evaluate_models(inter, items, {"als": ALS(factors=8, random_state=0), "content": Content(random_state=0)},
                          k=10, new_titles=True, test_fraction=0.3).set_index("model")
    assert res.loc["content", "ndcg"] > 1.5 * res.loc["als", "ndcg"], res["ndcg"]
    assert (res["users"] > 100).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(split="random"), "temporal split"),
    (dict(drop_release=True), "release_day"),
    (dict(test_fraction=0.001), "no title is released"),
    (dict(ties="first"), "unknown ties"),
])
def test_new_titles_bad_input(kwargs, message):
    inter, items = planted_dataset(300, 80, seed=1)
    if kwargs.pop("drop_release", False):
        items = items.drop(columns="release_day")
    with pytest.raises(InputError, match=message):
        evaluate_models(inter, items, {"popularity": Popularity()}, new_titles=True, **kwargs)


def test_cli_new_titles(tmp_path, capsys):
    inter, items = planted_dataset(600, 150, seed=5)
    p, q, out = tmp_path / "plays.csv", tmp_path / "items.csv", tmp_path / "r.json"
    inter.drop(columns="cluster").to_csv(p, index=False)
    items.assign(genres=items["genres"].map("|".join)).drop(columns="cluster").to_csv(q, index=False)
    rc = main(["evaluate", "--interactions", str(p), "--items", str(q), "--new-titles", "--models", "als,content",
               "--json", str(out), "--no-progress"])
    assert rc == 0
    assert "released after the cut" in capsys.readouterr().out
    res = json.loads(out.read_text())
    assert res["new_titles"] is True and res["test_fraction"] == 0.5
    assert res["models"]["content"]["ndcg"] > res["models"]["als"]["ndcg"]


@pytest.mark.parametrize("extra, message", [
    (["--split", "random"], "--new-titles needs --split temporal"),
    ([], "--new-titles needs release_day"),
])
def test_cli_new_titles_bad_input_one_line_exit_2(tmp_path, capsys, extra, message):
    p = tmp_path / "plays.csv"
    p.write_text("user,item,timestamp\n1,2,3\n1,3,4\n2,3,5\n")
    out = tmp_path / "r.json"
    rc = main(["evaluate", "--interactions", str(p), "--new-titles", *extra, "--json", str(out), "--no-progress"])
    cap = capsys.readouterr()
    assert rc == 2 and message in cap.err and len(cap.err.strip().splitlines()) == 1, cap.err
    assert not out.exists() and cap.out == ""
