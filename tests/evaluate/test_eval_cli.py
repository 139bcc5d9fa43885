"""``recsys evaluate`` end to end on a generated MovieLens fixture, and its bad-input cases."""

from __future__ import annotations

import json
import sys
import types

import pytest

from recsys.cli import main
from recsys.evaluate import load_movielens, planted_dataset

METRIC_KEYS = {"precision", "recall", "ndcg", "map", "coverage", "ild", "novelty"}


def test_movielens_end_to_end(ml100k, tmp_path, capsys):
    out = tmp_path / "eval.json"
    rc = main(["evaluate", "--interactions", str(ml100k), "--format", "movielens", "--k", "10",
               "--json", str(out), "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "ndcg" in text and "hybrid" in text
    res = json.loads(out.read_text())
    assert res["k"] == 10 and res["split"] == "user-temporal"
    assert set(res["models"]) == {"random", "popularity", "als", "bpr", "itemknn", "rp3beta", "ease", "content", "hybrid"}
    assert all(METRIC_KEYS <= set(m) for m in res["models"].values())
    m = res["models"]
    assert m["als"]["ndcg"] > 1.2 * m["popularity"]["ndcg"] > 1.2 * m["random"]["ndcg"]
    # the default split counts every user with two or more ratings, and says so
    inter, _ = load_movielens(ml100k)
    per_user = inter.groupby("user").size()
    assert res["users_evaluated"] == (per_user >= 2).sum() > 200 and res["users_total"] == len(per_user)
    assert f"{res['users_evaluated']} of {res['users_total']} users evaluated" in text
    assert "per-user temporal" in res["split_description"] and "per-user temporal" in text
    # intervals and paired tests, keys added beside section 6's
    ref = res["reference"]
    assert ref == max(m, key=lambda n: m[n]["ndcg"])
    for name, block in m.items():
        lo, hi = block["intervals"]["ndcg"]
        assert lo < block["ndcg"] < hi
        paired = block["paired"]
        assert paired["reference"] == ref and paired["test"] == "paired t"
        assert paired["diff"] == pytest.approx(block["ndcg"] - m[ref]["ndcg"], abs=1e-12)
        if name != ref:
            assert paired["ci_low"] <= paired["diff"] <= paired["ci_high"] and 0 <= paired["p_value"] <= 1


def test_csv_with_segments_and_random_split(tmp_path, capsys):
    inter, items = planted_dataset(200, 80, clusters=3, mean_plays=10, seed=4)
    p = tmp_path / "plays.csv"
    inter.assign(segment=inter.cluster.map(lambda c: f"c{c}")).drop(columns="cluster").to_csv(p, index=False)
    out = tmp_path / "r.json"
    rc = main(["evaluate", "--interactions", str(p), "--split", "random", "--k", "5", "--models", "popularity,als",
               "--segment-column", "segment", "--json", str(out), "--no-progress"])
    assert rc == 0
    res = json.loads(out.read_text())
    assert set(res["models"]) == {"popularity", "als"} and set(res["segments"]) == {"c0", "c1", "c2"}


def test_temporal_split_that_leaves_few_users_gets_a_note(tmp_path, capsys):
    """Users who stop before the cut or start after it are not evaluated; the CLI says so."""
    inter, _ = planted_dataset(200, 80, clusters=3, mean_plays=10, seed=5)
    inter = inter.drop(columns="cluster")
    # most users' plays in one burst: their own start time, spread over the whole span
    start = inter["user"].map(dict(zip(range(200), range(0, 200_000, 1000))))
    inter["timestamp"] = start + inter.groupby("user").cumcount()
    p = tmp_path / "bursts.csv"
    inter.to_csv(p, index=False)
    assert main(["evaluate", "--interactions", str(p), "--models", "popularity", "--split", "temporal",
                 "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "note: only" in err and "--split random" in err
    assert main(["evaluate", "--interactions", str(p), "--models", "popularity", "--split", "random",
                 "--no-progress"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_synthetic_world_is_the_default(monkeypatch, tmp_path, capsys):
    fake = types.ModuleType("recsys.experiment.warmup")
    fake.synthetic_interactions = lambda world_config=None, seed=0: planted_dataset(150, 60, mean_plays=8, seed=seed)
    monkeypatch.setitem(sys.modules, "recsys.experiment.warmup", fake)
    assert main(["evaluate", "--models", "popularity", "--no-progress"]) == 0
    assert "synthetic world" in capsys.readouterr().out


@pytest.mark.parametrize("setup, args, message", [
    (None, ["--interactions", "{d}/missing.csv"], "interactions file not found"),
    ("user,item\n1,2\n1,3\n", ["--interactions", "{f}", "--format", "tsv"], "invalid choice: 'tsv'"),
    ("user,item\n1,2\n1,3\n", ["--interactions", "{f}", "--k", "0"], "expected a positive integer"),
    ("user,item\n1,2\n1,3\n", ["--interactions", "{f}", "--k", "-2"], "expected a positive integer"),
    ("usr,item,timestamp\n1,2,3\n", ["--interactions", "{f}"], "missing user column"),
    ("user,movie,timestamp\n1,2,3\n", ["--interactions", "{f}"], "missing item column"),
    ("user,item,timestamp\n1,2,x\n", ["--interactions", "{f}"], "column 'timestamp' is not numeric"),
    ("\x00\x01garbage", ["--interactions", "{f}", "--format", "movielens"], "MovieLens"),
    ("user,item,timestamp\n1,2,3\n", ["--interactions", "{f}", "--models", "svd"], "unknown model 'svd'"),
    ("user,item,timestamp\n1,2,3\n", ["--interactions", "{f}", "--json", "{f}/r.json"], "is not a directory"),
])
def test_bad_input_one_line_exit_2_no_output(tmp_path, capsys, setup, args, message):
    f = tmp_path / "in.csv"
    if setup is not None:
        f.write_text(setup)
    out = tmp_path / "r.json"
    argv = ["evaluate", *[a.format(f=f, d=tmp_path) for a in args], "--no-progress"]
    if "--json" not in argv:
        argv += ["--json", str(out)]
    rc = main(argv)
    cap = capsys.readouterr()
    assert rc == 2
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], cap.err
    assert not out.exists()


def test_movielens_1m_layout_end_to_end(tmp_path, capsys):
    """ratings.dat / movies.dat with '::' separators, from the directory or the file."""
    from movielens_fixture import write_movielens

    path = write_movielens(tmp_path / "ml-1m", "1m", n_users=150, n_items=60)
    out = tmp_path / "r.json"
    assert main(["evaluate", "--interactions", str(path.parent), "--format", "movielens", "--models",
                 "popularity,ease,hybrid", "--json", str(out), "--no-progress"]) == 0
    res = json.loads(out.read_text())
    assert set(res["models"]) == {"popularity", "ease", "hybrid"} and res["users_evaluated"] > 100
    assert res["models"]["hybrid"]["ild"] == res["models"]["hybrid"]["ild"]   # genres read from movies.dat


def test_csv_with_user_id_item_id_columns(tmp_path, capsys):
    inter, items = planted_dataset(150, 60, clusters=3, mean_plays=10, seed=6)
    p, it = tmp_path / "events.csv", tmp_path / "items.csv"
    inter.rename(columns={"user": "user_id", "item": "item_id"}).to_csv(p, index=False)
    items.assign(genres=items.genres.map("|".join)).rename(columns={"item": "item_id"})[["item_id", "genres"]].to_csv(
        it, index=False)
    out = tmp_path / "r.json"
    assert main(["evaluate", "--interactions", str(p), "--items", str(it), "--models", "popularity,itemknn,hybrid",
                 "--json", str(out), "--no-progress"]) == 0
    res = json.loads(out.read_text())
    assert res["split"] == "user-temporal" and res["users_evaluated"] == res["users_total"] - (
        inter.groupby("user").size() < 2).sum()


@pytest.mark.parametrize("setup, args, message", [
    ("user_id,item_id,timestamp\n1,2,3\n1,4,5\n", ["--split", "kfold"], "invalid choice: 'kfold'"),
    ("user_id,item_id,timestamp\n1,2,3\n1,4,5\n", ["--reference", "svd"], "--reference 'svd' is not among"),
    ("user_id,item_id,timestamp\n1,2,3\n1,4,5\n", ["--split", "random", "--new-titles"], "--new-titles needs --split temporal"),
    ("uid,item_id,timestamp\n1,2,3\n", [], "missing user column (user or user_id"),
    ("user_id,item_id\n1,2\n1,3\n", [], "per-user temporal split needs a timestamp or day column"),
    ("1::2::5::3\n1::x::4::5\n", ["--format", "movielens", "--interactions", "{d}/ratings.dat"], "column 'item' is not numeric"),
])
def test_new_options_bad_input_one_line_exit_2(tmp_path, capsys, setup, args, message):
    f = tmp_path / "in.csv"
    f.write_text(setup)
    (tmp_path / "ratings.dat").write_text(setup)
    out = tmp_path / "r.json"
    argv = ["evaluate", "--interactions", str(f), *[a.format(d=tmp_path) for a in args], "--no-progress",
            "--json", str(out)]
    rc = main(argv)
    cap = capsys.readouterr()
    assert rc == 2 and cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], cap.err
    assert not out.exists()
