"""Bring your own recommender: a class outside the package as an A/B arm (1 and 2 workers, Dask)
and in ``recsys evaluate --model``; each kind of bad plugin fails with one line and exit 2,
writing nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.cli import main
from recsys.policies import plugins
from recsys.simulate import runner

#: a small recommender written as a user would: item co-occurrence, no recsys import at all
PLUGIN = '''
import numpy as np


class CoVisit:
    """Scores a title by how often it was watched with the user's titles (shrunk co-counts)."""

    def __init__(self, shrink=5.0):
        self.shrink = shrink

    def fit(self, X, items=None):
        B = (X > 0).astype(np.float32)
        co = (B.T @ B).toarray()
        np.fill_diagonal(co, 0.0)
        counts = np.asarray(B.sum(axis=0)).ravel()
        self.sim_ = co / (counts[None, :] + self.shrink)
        self.pop_ = counts / max(counts.sum(), 1.0)
        return self

    def score(self, users, X):
        B = (X[users] > 0).astype(np.float32)
        return np.asarray(B @ self.sim_) + 1e-3 * self.pop_[None, :]


class FailingFit(CoVisit):
    def fit(self, X, items=None):
        raise RuntimeError("the model could not converge")


class NoScore:
    def fit(self, X, items=None):
        return self


class NotSelf(CoVisit):
    def fit(self, X, items=None):
        super().fit(X, items)
        return None


def not_a_class():
    return None


class NewestFirst:
    """A whole-page policy: every user gets the newest released titles, the page built by hand."""

    def fit(self, logs, catalog, *, day, n_users):
        from recsys.core.page import Page
        self.page_ = Page
        released = np.flatnonzero(catalog.release_day <= day)
        self.order_ = released[np.argsort(-catalog.release_day[released], kind="stable")].astype(np.int32)
        return self

    def pages(self, ctx, layout, rand):
        ranked = np.broadcast_to(self.order_[:layout.slots], (len(ctx), min(layout.slots, len(self.order_))))
        return self.page_.from_ranked(np.ascontiguousarray(ranked), layout, row_kind="new_this_week")
'''

CONFIG = """
[experiment]
name = "plugin-test"
seed = 5
users = 600
days = 2
warmup_days = 7
control = "popularity"

[world]
titles = 200

[[arms]]
name = "popularity"
policy = "popularity"
share = 0.5

[[arms]]
name = "mine"
policy = "{policy}"
share = 0.5
[arms.params]
{params}

[metrics]
primary = "ctr"
guardrails = {{ churn_rate = 0.1 }}
"""


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A folder outside the package holding the user's module and experiment file; the module
    is found because the experiment file sits beside it (not because of the test's cwd)."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "userrecs.py").write_text(PLUGIN)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(plugins, "SEARCH_PATH", [])
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield folder
    sys.modules.pop("userrecs", None)


def _config(folder: Path, policy: str, params: str = "shrink = 3.0\ndiversity = 0.2") -> Path:
    path = folder / "exp.toml"
    path.write_text(CONFIG.format(policy=policy, params=params))
    return path


def _ab(config: Path, out: Path, *extra: str) -> int:
    return main(["ab", str(config), "--out", str(out), "--quiet", *extra])


def test_a_plugin_arm_gives_one_table_on_one_and_two_workers_and_dask(plugin_dir, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(runner, "SHARD_SIZE", 300)   # two shards
    config = _config(plugin_dir, "userrecs:CoVisit")
    runs = {}
    for name, extra in (("one", []), ("two", ["--workers", "2"]), ("dask", ["--workers", "2", "--dask"])):
        out = tmp_path / name
        assert _ab(config, out, *extra) == 0, name
        runs[name] = (pd.read_parquet(out / "users.parquet"), json.loads((out / "analysis.json").read_text()))
    table, analysis = runs["one"]
    assert set(table["arm"]) == {"popularity", "mine"}
    assert table.loc[table["arm"] == "mine", "plays"].sum() > 0
    for name in ("two", "dask"):
        pd.testing.assert_frame_equal(runs[name][0], table)
        assert runs[name][1] == analysis, name
    # the plugin's parameters reached its constructor and the page-level ones the assembler
    written = (tmp_path / "one" / "config.toml").read_text()
    assert 'policy = "userrecs:CoVisit"' in written and "shrink = 3.0" in written


def test_the_plugin_changes_what_users_see(plugin_dir, tmp_path):
    """Not a no-op: the same arm with the built-in item-kNN gives a different table."""
    a, b = tmp_path / "plugin", tmp_path / "builtin"
    assert _ab(_config(plugin_dir, "userrecs:CoVisit"), a) == 0
    assert _ab(_config(plugin_dir, "itemknn", "diversity = 0.2"), b) == 0
    ta, tb = pd.read_parquet(a / "users.parquet"), pd.read_parquet(b / "users.parquet")
    mine = ta["arm"] == "mine"
    assert not ta.loc[mine, "clicks"].equals(tb.loc[tb["arm"] == "mine", "clicks"])
    pd.testing.assert_frame_equal(ta.loc[~mine].reset_index(drop=True), tb.loc[tb["arm"] != "mine"].reset_index(drop=True))


def test_evaluate_scores_the_plugin_beside_the_built_ins(plugin_dir, tmp_path, capsys, monkeypatch):
    from recsys.evaluate.synthetic import planted_dataset

    monkeypatch.chdir(plugin_dir)   # evaluate finds a plugin in the current directory

    inter, _ = planted_dataset(n_users=300, n_items=120, seed=3)
    path = plugin_dir / "plays.csv"
    inter[["user", "item"]].to_csv(path, index=False)
    out = tmp_path / "eval.json"
    rc = main(["evaluate", "--interactions", str(path), "--models", "popularity,itemknn", "--model",
               "userrecs:CoVisit", "--model", "mine=userrecs:CoVisit", "--json", str(out), "--no-progress",
               "--split", "random"])
    assert rc == 0, capsys.readouterr().err
    models = json.loads(out.read_text())["models"]
    assert {"popularity", "itemknn", "CoVisit", "mine"} <= set(models)
    assert models["CoVisit"]["ndcg"] == pytest.approx(models["mine"]["ndcg"])
    assert models["CoVisit"]["ndcg"] > models["popularity"]["ndcg"]   # co-occurrence finds the planted clusters


BAD = [
    ("unimportable", "nosuchmodule:Thing", ["arm 'mine'", "cannot import nosuchmodule"]),
    ("missing class", "userrecs:Nothing", ["arm 'mine'", "has no Nothing"]),
    ("not a class", "userrecs:not_a_class", ["arm 'mine'", "not a class"]),
    ("wrong contract", "userrecs:NoScore", ["arm 'mine'", "no score"]),
    ("constructor refuses", "userrecs:CoVisit?", ["arm 'mine'"]),
    ("failing fit", "userrecs:FailingFit", ["arm 'mine'", "fit failed", "could not converge"]),
    ("fit not returning self", "userrecs:NotSelf", ["arm 'mine'", "fit must return self"]),
]


@pytest.mark.parametrize("case,policy,needles", BAD, ids=[b[0] for b in BAD])
def test_a_bad_plugin_fails_with_one_line_and_writes_nothing(case, policy, needles, plugin_dir, tmp_path, capsys):
    params = "shrink = 3.0"
    if policy.endswith("?"):   # a parameter the constructor does not take
        policy, params = policy[:-1], "colour = 3"
    config = _config(plugin_dir, policy, params)
    before = sorted(tmp_path.rglob("*"))
    rc = _ab(config, tmp_path / "out")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and "Traceback" not in err[0], err
    for word in needles:
        assert word in err[0], (word, err[0])
    assert sorted(p for p in tmp_path.rglob("*") if "__pycache__" not in p.parts) == \
        [p for p in before if "__pycache__" not in p.parts], "nothing is written"


@pytest.mark.parametrize("spec,needle", [("nosuchmodule:Thing", "cannot import"), ("userrecs:NoScore", "no score"),
                                         ("userrecs:FailingFit", "fit failed")])
def test_evaluate_rejects_a_bad_plugin_in_one_line(spec, needle, plugin_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(plugin_dir)
    from recsys.evaluate.synthetic import planted_dataset

    inter, _ = planted_dataset(n_users=100, n_items=50, seed=3)
    inter[["user", "item"]].to_csv(plugin_dir / "plays.csv", index=False)
    out = tmp_path / "eval.json"
    rc = main(["evaluate", "--interactions", "plays.csv", "--models", "popularity", "--model", spec, "--json",
               str(out), "--no-progress", "--split", "random"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and needle in err[0], err
    assert not out.exists()


def test_scorer_objects_from_python_match_the_plugin_path(plugin_dir, tmp_path):
    """recsys.run_experiment with an object gives the table the file's import path gives."""
    import recsys

    sys.path.insert(0, str(plugin_dir))
    import userrecs

    out = tmp_path / "file"
    assert _ab(_config(plugin_dir, "userrecs:CoVisit"), out) == 0
    exp = recsys.run_experiment({"popularity": "popularity", "mine": (userrecs.CoVisit(shrink=3.0), {"diversity": 0.2})},
                                config=plugin_dir / "exp.toml")
    pd.testing.assert_frame_equal(exp.table, pd.read_parquet(out / "users.parquet"))
    model = userrecs.CoVisit(shrink=3.0)
    recsys.run_experiment({"popularity": "popularity", "mine": model}, config=plugin_dir / "exp.toml")
    assert not hasattr(model, "sim_"), "the caller's object is copied, not fitted in place"
    assert np.isfinite(exp.analysis.to_frame()["p_value"]).any()


def test_a_whole_page_policy_plugin_runs_with_its_own_pages(plugin_dir, tmp_path):
    """The policy contract: the class builds the pages; the arm's artwork policy fills artwork."""
    out = tmp_path / "pages"
    assert _ab(_config(plugin_dir, "userrecs:NewestFirst", 'artwork = "fixed"'), out, "--workers", "2") == 0
    table = pd.read_parquet(out / "users.parquet")
    mine = table[table["arm"] == "mine"]
    assert mine["impressions"].sum() > 0 and mine["clicks"].sum() > 0
    logs = pd.concat(pd.read_parquet(f) for f in (out / "experiment" / "logs" / "plays").rglob("*.parquet"))
    from recsys.world.build import build_world
    from recsys.experiment.config import ExperimentConfig

    cfg = ExperimentConfig.load(plugin_dir / "exp.toml")
    world = build_world(cfg.world, cfg.seed)
    home = logs[logs["user_id"].isin(mine["user_id"]) & (logs["source"] == 0)] if "source" in logs else \
        logs[logs["user_id"].isin(mine["user_id"])]
    # what the arm's users played from the homepage are recent releases
    assert np.median(world.catalog.release_day[home["title"].to_numpy()]) > np.median(world.catalog.release_day)


def test_a_plugin_arm_can_be_interleaved(plugin_dir, tmp_path, capsys):
    """recsys interleave finds the plugin beside the file, as recsys ab does; its cards carry team B."""
    out = tmp_path / "il"
    rc = main(["interleave", str(_config(plugin_dir, "userrecs:CoVisit")), "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    table = pd.read_parquet(out / "users.parquet")
    assert set(table["arm"]) == {"interleaved"}
    assert table["impressions_b"].sum() > 0 and table["clicks_b"].sum() > 0
    analysis = json.loads((out / "analysis.json").read_text())
    assert (analysis["first"], analysis["second"]) == ("popularity", "mine")
    bad = main(["interleave", str(_config(plugin_dir, "userrecs:FailingFit")), "--out", str(tmp_path / "bad"),
                "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert bad == 2 and len(err) == 1 and "could not converge" in err[0], err
    assert not (tmp_path / "bad").exists()
