"""Team-draft interleaving: the merge and its credit, checked against cases worked by hand; the
interleaved run in the world (identical on 1 and 2 workers) and ``recsys interleave``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys.cli import main
from recsys.core.logs import IMPRESSION_SCHEMA, PLAY_SCHEMA, SESSION_SCHEMA, Logs, frame
from recsys.core.page import Layout, UserContext
from recsys.core.parallel import executor
from recsys.core.rng import KeyedRandom
from recsys.experiment.config import ExperimentConfig
from recsys.experiment.interleave import credit_table, run_interleaving
from recsys.policies.artwork.base import ArtworkPolicy
from recsys.policies.base import Policy
from recsys.policies.interleave import TEAM_A, TEAM_B, TeamDraftInterleaving, team_draft
from recsys.stats.interleaving import preference_test

A, B = TEAM_A, TEAM_B


# ---------------------------------------------------------------- the merge, by hand

def test_team_draft_matches_a_hand_worked_merge():
    """A = 1 2 3 4, B = 2 5 1 6; coins at the start of each round: A first, B first, A first.
    Round 1: A takes 1, B takes 2. Round 2: B takes 5, A skips 2 (placed) and takes 3.
    Round 3: A takes 4, B skips 1 (placed) and takes 6."""
    a = np.array([[1, 2, 3, 4]])
    b = np.array([[2, 5, 1, 6]])
    coin = np.array([[0.3, 0.9, 0.7, 0.9, 0.1, 0.9]])
    items, team, src = team_draft(a, b, coin, 6)
    assert items.tolist() == [[1, 2, 5, 3, 4, 6]]
    assert team.tolist() == [[A, B, B, A, A, B]]
    assert src.tolist() == [[0, 0, 1, 2, 3, 3]]


def test_team_draft_coin_only_matters_when_picks_are_level():
    """The coin at a pick where one team is behind is ignored: the team behind picks."""
    a = np.array([[10, 11, 12, 13]])
    b = np.array([[20, 21, 22, 23]])
    for coin_b in (0.0, 0.99):
        coin = np.array([[0.9, coin_b, 0.2, coin_b]])
        items, team, _ = team_draft(a, b, coin, 4)
        assert items.tolist() == [[20, 10, 11, 21]]
        assert team.tolist() == [[B, A, A, B]]


def test_team_draft_exhausted_team_yields_and_lists_may_be_short():
    a = np.array([[1, -1, -1], [-1, -1, -1]])
    b = np.array([[1, 2, 3], [-1, -1, -1]])
    coin = np.full((2, 4), 0.9)
    items, team, src = team_draft(a, b, coin, 4)
    assert items.tolist() == [[1, 2, 3, -1], [-1, -1, -1, -1]]
    assert team.tolist() == [[B, B, B, -1], [-1, -1, -1, -1]]
    assert src.tolist() == [[0, 1, 2, -1], [-1, -1, -1, -1]]


def test_team_draft_identical_lists_give_the_list_with_balanced_fair_teams():
    rng = np.random.default_rng(0)
    n, k = 4000, 8
    a = np.argsort(rng.random((n, 50)), 1)[:, :k]
    items, team, _ = team_draft(a, a.copy(), rng.random((n, k)), k)
    np.testing.assert_array_equal(items, a)
    per_user = (team == A).sum(1)
    assert set(per_user.tolist()) == {k // 2}               # every round gives one card to each team
    share_first = (team[:, 0] == A).mean()                    # who leads is a fair coin
    assert abs(share_first - 0.5) < 3 * np.sqrt(0.25 / n)


def test_team_draft_is_vectorised_per_user_independent():
    """Each user's merge depends on their own lists and coins only (a batch of two = two batches of one)."""
    rng = np.random.default_rng(1)
    a = np.argsort(rng.random((2, 30)), 1)[:, :10]
    b = np.argsort(rng.random((2, 30)), 1)[:, :10]
    coin = rng.random((2, 10))
    both = team_draft(a, b, coin, 10)
    for i in range(2):
        one = team_draft(a[i:i + 1], b[i:i + 1], coin[i:i + 1], 10)
        for x, y in zip(both, one):
            np.testing.assert_array_equal(x[i:i + 1], y)


# ---------------------------------------------------------------- the interleaved page

class _Fixed(Policy):
    """A page from a fixed list per user (for hand-checking the interleaved page)."""

    def __init__(self, lists):
        super().__init__()
        self.lists = lists

    def rank(self, ctx, k, rand):
        return self.lists[ctx.user_ids][:, :k], None


class _Art(ArtworkPolicy):
    """Artwork stand-in: artwork id = offset + title, propensity 0.5 (the first ranker) or 1."""

    def __init__(self, offset, prop):
        self.offset, self.prop = offset, prop

    def select(self, titles, ctx, rand):
        return np.where(titles >= 0, self.offset + titles, -1), np.full(titles.shape, self.prop)


def test_interleaved_page_keeps_each_card_from_its_ranker():
    layout = Layout(2, 3)
    la = np.array([[1, 2, 3, 4, 5, 6]])
    lb = np.array([[6, 5, 4, 3, 2, 1]])
    first, second = _Fixed(la), _Fixed(lb)
    first.artwork, second.artwork = _Art(1000, 0.5), _Art(2000, 1.0)
    pol = TeamDraftInterleaving(first, second)
    ctx = UserContext(0, np.array([0]), np.full((1, 4), -1, np.int32), np.zeros((1, 3), np.float32),
                      np.zeros(1, np.int32), np.zeros(1, np.int32), np.zeros(1, np.int32))
    page = pol.pages(ctx, layout, KeyedRandom(3))
    titles, team = page.titles.reshape(-1), page.team.reshape(-1)
    assert sorted(titles.tolist()) == [1, 2, 3, 4, 5, 6]
    assert set(team.tolist()) == {A, B} and (team == A).sum() == 3
    # each card carries the artwork its own ranker chose, with that choice's propensity
    art, prop = page.artwork.reshape(-1), page.propensity.reshape(-1)
    assert (art[team == A] == 1000 + titles[team == A]).all() and (prop[team == A] == 0.5).all()
    assert (art[team == B] == 2000 + titles[team == B]).all() and (prop[team == B] == 1.0).all()
    # each team's cards appear in its own ranker's order
    for t, lst in ((A, la[0]), (B, lb[0])):
        mine = titles[team == t]
        order = [list(lst).index(x) for x in mine]
        assert order == sorted(order)


# ---------------------------------------------------------------- credit, by hand

def _logs():
    imps = frame(IMPRESSION_SCHEMA, dict(
        user_id=[1, 1, 1, 1, 2, 2, 3], day=[0, 0, 0, 1, 0, 0, 0], session=[0, 0, 0, 0, 0, 0, 0],
        row=[0] * 7, position=[0, 1, 2, 0, 0, 1, 0], title=[10, 11, 12, 10, 20, 21, 30],
        artwork=[0] * 7, clicked=[True, False, True, True, True, True, False], p_click=[.1] * 7,
        propensity=[1.0] * 7, team=[A, B, B, B, A, B, A]))
    plays = frame(PLAY_SCHEMA, dict(
        user_id=[1, 1, 1, 2, 2, 3], day=[0, 0, 1, 0, 0, 0], session=[0, 0, 0, 0, 0, 0],
        title=[10, 12, 10, 20, 21, 99], artwork=[0, 0, 0, 0, 0, -1], source=[0, 0, 0, 0, 0, 1],
        minutes=[50.0, 1.0, 30.0, 1.5, 40.0, 60.0], completed=[1, 0, 0, 0, 1, 1],
        abandoned_early=[0, 1, 0, 1, 0, 0], episodes=[1] * 6, p_abandon=[.1] * 6))
    return Logs(plays=plays, sessions=frame(SESSION_SCHEMA, {c: [] for c in SESSION_SCHEMA}), impressions=imps)


def test_credit_table_matches_hand_counts():
    """User 1: A's card 10 clicked and played 50 min (a qualified play); B's 12 clicked and
    abandoned (a click, not qualified); on day 1 B's card 10 clicked and played (qualified).
    User 2: A's click abandoned, B's click played. User 3: nothing clicked; its search play
    belongs to neither. User 4: no impressions."""
    t = credit_table(_logs(), np.array([1, 2, 3, 4]))
    assert t["impressions_a"].tolist() == [1, 1, 1, 0]
    assert t["impressions_b"].tolist() == [3, 1, 0, 0]
    assert t["clicks_a"].tolist() == [1, 1, 0, 0]
    assert t["clicks_b"].tolist() == [2, 1, 0, 0]
    assert t["qualified_plays_a"].tolist() == [1, 0, 0, 0]
    assert t["qualified_plays_b"].tolist() == [1, 1, 0, 0]
    # on clicks user 1 prefers B, user 2 ties; on qualified plays user 1 ties, user 2 prefers B
    clicks = preference_test(t["clicks_a"], t["clicks_b"])
    assert (clicks.n, clicks.wins_a, clicks.wins_b, clicks.ties) == (2, 0, 1, 1)
    q = preference_test(t["qualified_plays_a"], t["qualified_plays_b"])
    assert (q.n, q.wins_a, q.wins_b, q.ties) == (2, 0, 1, 1)


# ---------------------------------------------------------------- in the world

TINY = """
[experiment]
name = "tiny-interleave"
seed = 3
users = 1200
days = 3
warmup_days = 7
control = "popularity"
[world]
titles = 400
cast = 200
[[arms]]
name = "popularity"
policy = "popularity"
share = 0.5
[[arms]]
name = "random"
policy = "random"
share = 0.5
"""


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("il") / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def one_worker(tiny_config):
    return run_interleaving(ExperimentConfig.load(tiny_config))


def test_interleaving_in_the_world_is_identical_on_one_and_two_workers(tiny_config, one_worker):
    cfg = ExperimentConfig.load(tiny_config)
    one = one_worker
    with executor(2) as ex:
        two = run_interleaving(cfg, executor=ex)
    pd.testing.assert_frame_equal(one.table, two.table)
    imps = one.result.logs.impressions
    assert set(imps["team"].unique()) == {A, B}
    # every examined card is credited to one team, and the teams' counts add up to the table's
    t = one.table
    assert (t["impressions_a"] + t["impressions_b"] == t["impressions"]).all()
    assert (t["clicks_a"] + t["clicks_b"] == t["clicks"]).all()
    # popularity beats random on clicks in this world, and interleaving sees it
    pref = preference_test(t["clicks_a"], t["clicks_b"])
    assert pref.delta > 0 and pref.p_value < 0.05


def test_recsys_interleave_on_dask_writes_table_config_and_analysis(tiny_config, one_worker, tmp_path):
    """The command on a Dask LocalCluster of 2 workers: the same per-user table as in-process."""
    out = tmp_path / "out"
    js = tmp_path / "res.json"
    assert main(["interleave", str(tiny_config), "--out", str(out), "--json", str(js), "--quiet",
                 "--workers", "2", "--dask"]) == 0
    table = pd.read_parquet(out / "users.parquet")
    pd.testing.assert_frame_equal(table, one_worker.table, check_dtype=False)
    assert {"clicks_a", "clicks_b", "qualified_plays_a", "qualified_plays_b"} <= set(table.columns)
    res = json.loads(js.read_text())
    assert res == json.loads((out / "analysis.json").read_text())
    assert res["first"] == "popularity" and res["second"] == "random"
    assert [r["credit"] for r in res["preferences"]] == ["clicks", "qualified_plays"]
    assert (out / "config.toml").exists()


def test_recsys_interleave_rejects_an_unknown_arm(tiny_config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["interleave", str(tiny_config), "--out", str(out), "--arms", "popularity,hybrid"]) == 2
    assert "unknown arm 'hybrid'" in capsys.readouterr().err
    assert not out.exists()


def test_an_arm_given_as_an_object_is_interleaved():
    """run_interleaving(objects=...) puts the object in the arm's place, as run_experiment does."""
    from recsys.models import Popularity

    cfg = ExperimentConfig.from_dict({
        "experiment": {"users": 300, "days": 1, "warmup_days": 7, "control": "a"}, "world": {"titles": 200, "cast": 100},
        "arms": [{"name": "a", "policy": "random", "share": 0.5}, {"name": "mine", "policy": "random", "share": 0.5}]})
    model = Popularity()
    with_object = run_interleaving(cfg, objects={"mine": model}).result.logs.impressions
    by_name = run_interleaving(cfg).result.logs.impressions
    assert not hasattr(model, "scores_") and not hasattr(model, "popularity_"), "the caller's object is not fitted"
    b_obj = with_object.loc[with_object["team"] == B, "title"]
    b_name = by_name.loc[by_name["team"] == B, "title"]
    # popularity's cards concentrate on few titles; random's spread over the catalog
    assert b_obj.nunique() < b_name.nunique() / 2
