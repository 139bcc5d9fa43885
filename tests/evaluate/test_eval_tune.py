"""Tuning on a validation split of the training part: it never reads the test part; the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys.cli import main
from recsys.evaluate import evaluate_models
from recsys.evaluate.offline import holdout
from recsys.evaluate.splits import user_temporal_split
from recsys.evaluate.tune import candidates, tune_models
from recsys.models import ItemKNN
from recsys.models.base import Scorer, rows_for
from recsys.models.topn import top_n

N_USERS, N_ITEMS, PER_USER = 200, 40, 10
GROUPS = {"A": np.arange(0, 20), "B": np.arange(20, 40)}


class Favourite(Scorer):
    """Ranks the titles of one group first (a fixed order within it): a model whose one
    parameter decides which half of the catalogue it can ever hit."""

    def __init__(self, group: str = "B"):
        self.group = group

    def fit(self, X, items=None):
        self.n_items_ = X.shape[1]
        self.scores_ = np.zeros(self.n_items_, np.float32)
        g = GROUPS[self.group]
        self.scores_[g] = 1.0 + np.linspace(1.0, 0.0, len(g))
        return self

    def score(self, users, X=None, items=None):
        s = self.scores_ if items is None else self.scores_[np.asarray(items)]
        return np.broadcast_to(s, (len(users), len(s))).copy()

    def recommend(self, users, X=None, n=10, filter_seen=True, exclude=None):
        seen = rows_for(users, X, self.n_items_) if filter_seen else None
        return top_n(self, np.asarray(users, np.int64), X, n, filter=seen, exclude=exclude)


def _world(plant: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Users play group-A titles; with ``plant`` their held-out (test) interactions become
    group-B titles, a signal that lives in the test part alone."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(N_USERS), PER_USER)
    items = np.concatenate([rng.choice(GROUPS["A"], PER_USER, replace=False) for _ in range(N_USERS)])
    df = pd.DataFrame({"user": users, "item": items, "timestamp": np.tile(np.arange(PER_USER), N_USERS)})
    _, test = user_temporal_split(df, 0.2, seed=0)
    if plant:
        is_test = df.set_index(["user", "timestamp"]).index.isin(test.set_index(["user", "timestamp"]).index)
        df.loc[is_test, "item"] = rng.choice(GROUPS["B"], is_test.sum())
    catalogue = pd.DataFrame({"item": np.arange(N_ITEMS), "genres": [["a"] if i < 20 else ["b"] for i in range(N_ITEMS)]})
    return df, catalogue


def _tune(df, items):
    return tune_models(df, items, ["favourite", "itemknn"], n_trials=4, k=5, seed=0,
                       estimators={"favourite": Favourite("B"), "itemknn": ItemKNN()},
                       spaces={"favourite": {"group": ["A", "B"]}})


def test_tuning_never_reads_the_test_split():
    clean, items = _world(plant=False)
    planted, _ = _world(plant=True)
    # the plant changes only test rows: the training parts are the same
    a, b = holdout(clean, items, split="user-temporal"), holdout(planted, items, split="user-temporal")
    pd.testing.assert_frame_equal(a.train, b.train)
    assert not a.test.equals(b.test)
    # on the planted test part, the B model is the one that scores; a tuner peeking at it would pick B
    peek = evaluate_models(planted, items, {"A": Favourite("A"), "B": Favourite("B")}, k=5,
                           split="user-temporal").set_index("model")["ndcg"]
    assert peek["B"] > 0.1 and peek["A"] == 0.0
    r_clean, r_planted = _tune(clean, items), _tune(planted, items)
    for name in ("favourite", "itemknn"):
        assert r_clean.tuned[name].params == r_planted.tuned[name].params
        assert r_clean.tuned[name].trials == r_planted.tuned[name].trials   # same validation scores, exactly
    assert r_planted.tuned["favourite"].params == {"group": "A"}   # what validation shows
    test = r_planted.test.set_index("model")["ndcg"]
    assert test["favourite"] == 0.0                                # ... and the test part pays for it


def test_candidates_start_from_the_defaults_and_are_seeded():
    space = {"neighbours": [10, 50, 100], "shrinkage": [0.0, 10.0]}
    first = candidates("itemknn", ItemKNN(neighbours=77), space, 5, seed=3)
    assert first[0] == {"neighbours": 77, "shrinkage": 10.0}
    assert first == candidates("itemknn", ItemKNN(neighbours=77), space, 5, seed=3)
    assert len(first) == 5 and len({tuple(sorted(c.items())) for c in first}) == 5
    assert len(candidates("itemknn", ItemKNN(), space, 50, seed=3)) <= 7   # the grid and the defaults


def test_tuned_model_is_at_least_its_default_on_validation(ml100k):
    from recsys.evaluate import load_movielens

    inter, items = load_movielens(ml100k)
    r = tune_models(inter, items, ["popularity", "itemknn", "ease", "hybrid"], n_trials=3, seed=0)
    for name in ("itemknn", "ease"):
        default = r.tuned[name].trials[0][1]
        assert r.tuned[name].validation_ndcg >= default
    # each CF model alone is among the hybrid's candidates: it matches the best of them on validation
    assert r.tuned["hybrid"].validation_ndcg >= max(r.tuned[n].validation_ndcg for n in ("itemknn", "ease"))
    assert set(r.test["model"]) == {"popularity", "itemknn", "ease", "hybrid"}
    assert (r.test[r.test.segment == "all"]["users"] == r.test_users).all()


def test_tune_model_cli(ml100k, tmp_path, capsys):
    out = tmp_path / "tune.json"
    rc = main(["tune-model", "--interactions", str(ml100k), "--format", "movielens", "--models",
               "popularity,itemknn,ease", "--trials", "3", "--json", str(out), "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "chosen parameters" in text and "users evaluated" in text and "ndcg 95% CI" in text
    res = json.loads(out.read_text())
    assert set(res["tuned"]) == {"itemknn", "ease"} and set(res["models"]) == {"popularity", "itemknn", "ease"}
    assert set(res["tuned"]["itemknn"]["params"]) == {"neighbours", "shrinkage", "weighting"}
    assert res["tuning"]["validation_users"] > 0 and res["tuning"]["trials_per_model"] == 3
    history = res["tuned"]["ease"]["history"]
    assert len(history) == res["tuned"]["ease"]["trials"] and history[0]["params"] == {"l2": 200.0}
    assert max(h["validation_ndcg"] for h in history) == res["tuned"]["ease"]["validation_ndcg"]
    assert res["split"] == "user-temporal" and "paired" in res["models"]["itemknn"]


@pytest.mark.parametrize("args, message", [
    (["--trials", "0"], "expected a positive integer"),
    (["--models", "svd"], "unknown model 'svd'"),
    (["--models", "popularity,ease", "--reference", "als"], "--reference 'als' is not among the models tuned"),
    (["--validation-fraction", "1"], "strictly between 0 and 1"),
    (["--test-fraction", "0"], "strictly between 0 and 1"),
    (["--validation-fraction", "2"], "expected a probability"),
    (["--split", "kfold"], "invalid choice: 'kfold'"),
    (["--workers", "0"], "expected a positive integer"),
    (["--interactions", "{d}/missing.csv"], "interactions file not found"),
    (["--json", "{d}/t.json/x/t.json"], "is not a directory"),
])
def test_tune_model_bad_input_one_line_exit_2(ml100k, tmp_path, capsys, args, message):
    out = tmp_path / "t.json"
    if "is not a directory" in message:
        out.write_text("a file in the way")
    argv = ["tune-model", "--interactions", str(ml100k), "--format", "movielens", "--models", "popularity,ease",
            "--trials", "1", "--no-progress", *[a.format(d=tmp_path) for a in args]]
    if "--json" not in args:
        argv += ["--json", str(out)]
    rc = main(argv)
    cap = capsys.readouterr()
    assert rc == 2, cap.err
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], cap.err
    assert not out.exists() or out.read_text() == "a file in the way"


@pytest.mark.slow
def test_the_same_choice_and_figures_on_any_number_of_workers(ml100k):
    """Each trial carries its own seed: 1 or 2 worker processes choose the same parameters (about 10 s)."""
    from recsys.core import parallel
    from recsys.evaluate import load_movielens

    inter, items = load_movielens(ml100k)
    runs = []
    for workers in (1, 2):
        with parallel.executor(workers) as ex:
            r = tune_models(inter, items, ["popularity", "als", "itemknn", "ease", "hybrid"], n_trials=3, seed=0,
                            executor=ex)
        runs.append(({n: t.trials for n, t in r.tuned.items()}, r.test.drop(columns="fit_seconds")))
    assert runs[0][0] == runs[1][0]
    pd.testing.assert_frame_equal(runs[0][1], runs[1][1])
