"""The world's mechanisms one at a time, on hand-made inputs or tiny worlds: return counts, the
examination cascade, refit schedules, boredom (and habit's tolerance of it) and taste drift,
habit, the page's look and the switches that turn the change reaction off."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recsys.core.errors import InputError
from recsys.core.page import ROW_KIND
from recsys.core.rng import KeyedRandom
from recsys.experiment.config import ArmConfig, ExperimentConfig
from recsys.experiment import runner as runner_mod
from recsys.experiment.runner import run_experiment
from recsys.simulate.behaviour import LOOK_ROWS, BehaviourModel
from recsys.simulate.engine import end_of_day, in_view, page_look
from recsys.simulate.state import ShardState
from recsys.simulate.tables import return_counts
from recsys.world.build import build_world
from recsys.world.config import WorldConfig

TINY = WorldConfig(users=600, titles=200, cast=80)


def test_return_counts_by_hand():
    # user 5 visits days 0, 1, 3 (twice on day 3) and 6; user 7 only day 6; user 9 never
    s = pd.DataFrame({"user_id": [5, 5, 5, 5, 5, 7], "day": [0, 1, 3, 3, 6, 6]})
    c = return_counts(s, np.array([9, 5, 7]), last_day=6)
    assert c["next_day_returns"].tolist() == [0, 1, 0]        # 0 -> 1
    assert c["return_chances"].tolist() == [0, 3, 0]          # days 0, 1, 3 have a next day in the window
    assert c["returns"].tolist() == [0, 3, 0]                 # 1, 3 and 6 are returns
    assert c["gap_days"].tolist() == [0, 6, 0]                # 1 + 2 + 3
    # the window's last day decides which visit days could be followed by one
    assert return_counts(s, np.array([5]), last_day=7)["return_chances"].tolist() == [4]


def test_the_per_user_table_carries_the_return_columns():
    cfg = ExperimentConfig(users=600, days=3, warmup_days=7, seed=2, world=TINY,
                           arms=(ArmConfig("p", "popularity", 0.5), ArmConfig("r", "random", 0.5)), control="p")
    t = run_experiment(cfg, keep_impressions=False).table
    for c in ("next_day_returns", "return_chances", "returns", "gap_days"):
        assert c in t and (t[c] >= 0).all()
    assert (t["returns"] == np.maximum(t["active_days"] - 1, 0)).all()
    assert (t["next_day_returns"] <= t["return_chances"]).all() and (t["gap_days"] >= t["returns"]).all()


def _model(**world):
    w = build_world(dataclasses.replace(TINY, **world), 1)
    return BehaviourModel(w.config, w.catalog, w.truth), w


def test_cascade_examination_sees_blocks_with_the_configured_chances():
    model, _ = _model()
    cfg = model.config
    m, S = 60_000, cfg.slots
    sess = KeyedRandom.from_seed(3, "t").prefix(np.arange(m), 0, 0)
    seen = in_view(model, sess, np.zeros((m, S), np.int32)).reshape(m, cfg.rows, cfg.row_length)
    # a block: rows reached are the first few, and in each row the cards seen are the first few
    reached = seen[:, :, 0]
    assert not (~reached[:, :-1] & reached[:, 1:]).any()
    assert not (~seen[:, :, :-1] & seen[:, :, 1:]).any()
    truth = np.outer(cfg.row_examination, cfg.position_examination)
    np.testing.assert_allclose(seen.mean(0), truth, atol=0.01)
    # slot by slot: the same chances, but a card may be seen beyond a skipped one
    model_p, _ = _model(examination="position")
    seen_p = in_view(model_p, sess, np.zeros((m, S), np.int32)).reshape(m, cfg.rows, cfg.row_length)
    np.testing.assert_allclose(seen_p.mean(0), truth, atol=0.01)
    assert (~seen_p[:, :, :-1] & seen_p[:, :, 1:]).any()
    with pytest.raises(InputError, match="examination"):
        WorldConfig(examination="dbn").validate()
    with pytest.raises(InputError, match="do not rise"):
        WorldConfig(position_examination=(1.0, 0.9, 0.95, 0.6, 0.5, 0.4, 0.3, 0.2)).validate()


def test_refit_schedules_and_overrides():
    arms = (ArmConfig("p", "popularity", 0.25), ArmConfig("h", "hybrid", 0.25), ArmConfig("r", "random", 0.25),
            ArmConfig("q", "popularity", 0.25, retrain_every=0))
    cfg = ExperimentConfig(arms=arms, control="p")
    assert [cfg.refit_every(a) for a in arms] == [1, 7, 0, 0]       # production schedules; q frozen by its file
    every3 = cfg.replace(retrain_every=3)
    assert [every3.refit_every(a) for a in arms] == [3, 3, 3, 0]    # the arm's own setting wins
    assert [cfg.replace(retrain_every=0).refit_every(a) for a in arms] == [0, 0, 0, 0]
    table = {"experiment": {"control": "a"}, "arms": [{"name": "a", "policy": "random", "share": 0.5},
                                                      {"name": "b", "policy": "random", "share": 0.5}]}
    table["arms"][0]["retrain_every"] = -1
    with pytest.raises(InputError, match="retrain_every"):
        ExperimentConfig.from_dict(table)
    table["arms"][0]["retrain_every"] = 2
    loaded = ExperimentConfig.from_dict(table)
    assert loaded.arms[0].retrain_every == 2 and ExperimentConfig.from_dict(loaded.to_dict()) == loaded


def test_the_control_refits_daily_and_a_refit_keeps_the_artwork_bandit(monkeypatch):
    calls = []
    real = runner_mod.refit

    def spy(arm, policy, logs, world, day):
        before = (policy.artwork, getattr(policy.artwork, "n_updates_", None))
        out = real(arm, policy, logs, world, day)
        calls.append((policy.name, day, before, (policy.artwork, getattr(policy.artwork, "n_updates_", None))))
        return out

    monkeypatch.setattr(runner_mod, "refit", spy)
    arms = (ArmConfig("pop", "popularity", 0.4, {"artwork": "bandit-play"}),
            ArmConfig("frozen", "popularity", 0.3, retrain_every=0), ArmConfig("rnd", "random", 0.3))
    cfg = ExperimentConfig(users=600, days=4, warmup_days=7, seed=4, world=TINY, arms=arms, control="pop")
    run_experiment(cfg, keep_impressions=False)
    assert [(n, d) for n, d, _, _ in calls] == [("popularity", 1), ("popularity", 2), ("popularity", 3)]
    for _, _, (art0, n0), (art1, n1) in calls:
        assert art1 is art0 and n1 == n0 > 0      # the same, learnt bandit before and after the refit


def test_boredom_is_the_share_of_viewing_and_tastes_drift_toward_it():
    model, world = _model()
    b = dataclasses.replace(model.b, taste_drift=0.05, genre_drift=0.2, genre_forget=0.0)
    model = BehaviourModel(dataclasses.replace(model.config, behaviour=b), world.catalog, world.truth)
    st = ShardState.new(world, 0, 3)
    g = world.catalog.genres.toarray()
    one = np.flatnonzero(g.sum(1) == 1)
    t = one[g[one].argmax(1) == g[one].argmax(1)[0]][:2]             # two titles of one genre only
    genre = int(g[t[0]].argmax())
    plays = dict(user_id=np.array([0, 0]), title=t.astype(np.int32), minutes=world.catalog.runtime[t],
                 episodes=np.ones(2, np.int8), abandoned_early=np.zeros(2, bool), completed=np.ones(2, bool))
    taste0, aff0 = st.taste.copy(), st.affinity.copy()
    zero = np.zeros(3, np.float32)
    end_of_day(st, model, 0, KeyedRandom(1), np.ones(3, bool), np.array([1, 0, 0], np.float32),
               np.array([1, 0, 0], np.float32), plays)
    assert st.boredom[0, genre] == pytest.approx(1 - b.boredom_decay)   # all of the day's viewing in one genre
    assert st.boredom[0].sum() == pytest.approx(1 - b.boredom_decay) and st.boredom[1:].sum() == 0
    assert st.affinity[0, genre] > aff0[0, genre] and np.array_equal(st.affinity[1:], aff0[1:])
    lat = world.truth.latent[t].sum(0)
    assert st.taste[0] @ lat > taste0[0] @ lat and np.array_equal(st.taste[1:], taste0[1:])
    assert np.linalg.norm(st.taste[0]) == pytest.approx(1.0, abs=1e-5)
    # habit: up on the active day, down for the absent
    h0 = ShardState.new(world, 0, 3).habit
    assert st.habit[0] > h0[0] and (st.habit[1:] < h0[1:]).all()
    del zero


def test_habit_raises_the_share_of_a_genre_that_bores():
    """Boredom bites above a tolerance that rises with habit (comfort viewing): the same
    concentrated viewing bores a user with little habit and spares a habitual one, as
    ``boredom_weight x sensitivity x (boredom - tolerance(habit))+^power`` by hand."""
    model, world = _model()
    b = dataclasses.replace(model.b, boredom_habit=0.2)
    model = BehaviourModel(dataclasses.replace(model.config, behaviour=b), world.catalog, world.truth)
    st = ShardState.new(world, 0, 2)
    boredom = np.zeros_like(st.boredom)
    boredom[:, 3] = 0.34
    habit = np.array([0.1, 0.9], np.float32)
    view = model.view(st.users, st.taste, st.affinity, st.satiation, boredom, habit)
    tol = b.boredom_tolerance + b.boredom_habit * (habit - b.habit_reference)      # 0.21 and 0.37
    bored = b.boredom_weight * st.users.satiation * np.maximum(0.34 - tol, 0.0) ** b.boredom_power
    np.testing.assert_allclose(view.boredom_term[:, 3], (1 - b.boredom_click) * bored, rtol=1e-5)
    assert view.boredom_term[0, 3] > 0 and view.boredom_term[1, 3] == 0
    assert (view.boredom_term[:, np.arange(boredom.shape[1]) != 3] == 0).all()
    flat = BehaviourModel(model.config.with_overrides(behaviour=dataclasses.replace(b, boredom_habit=0.0)),
                          world.catalog, world.truth).view(st.users, st.taste, st.affinity, st.satiation, boredom, habit)
    assert flat.boredom_term[0, 3] == pytest.approx(flat.boredom_term[1, 3] * st.users.satiation[0] / st.users.satiation[1])


def test_page_look_and_change():
    model, world = _model()
    R, L = model.config.rows, model.config.row_length
    titles = np.arange(2 * R * L, dtype=np.int32).reshape(2, R * L)
    default = world.catalog.default_art[titles]
    art = np.stack([default[0], default[1] + 1])          # the second page shows other variants
    kinds = np.array([[ROW_KIND["popular_now"]] * R, [ROW_KIND["top_picks"]] * R])
    look = page_look(model, titles, art, kinds)
    assert look[0, ROW_KIND["popular_now"]] == pytest.approx(1.0) and look[1, ROW_KIND["top_picks"]] == pytest.approx(1.0)
    assert look[0, LOOK_ROWS + 1] == 0.0 and look[1, LOOK_ROWS + 1] == pytest.approx(1.0)
    d = model.page_change(look[[1]], look[[0]])
    b = model.b
    total = b.change_rows + b.change_titles + b.change_artwork
    assert d[0] >= (b.change_rows + b.change_artwork) / total - 1e-6    # rows and artwork all changed
    assert model.page_change(look[[0]], look[[0]])[0] == 0.0
    assert model.page_change(look[[0]], np.full_like(look[[0]], -1))[0] == 0.0   # nothing familiar yet: no change
    assert model.change_felt(np.array([b.change_threshold * 0.5]))[0] == 0.0


def test_the_steady_state_switch_keeps_users_and_draws():
    """change_reaction = false: the same users, arms and random streams; only the reaction is gone
    (zero strength for everyone), so the two worlds part only where a page changed."""
    model, world = _model()
    st = ShardState.new(world, 0, 50)
    on = model.view(st.users, st.taste, st.affinity, st.satiation, st.boredom, st.habit)
    b = dataclasses.replace(model.b, change_reaction=False)
    off_model = BehaviourModel(dataclasses.replace(model.config, behaviour=b), world.catalog, world.truth)
    off = off_model.view(st.users, st.taste, st.affinity, st.satiation, st.boredom, st.habit)
    assert (on.change != 0).all() and (off.change == 0).all()
    assert np.array_equal(on.genre_term, off.genre_term) and np.array_equal(on.boredom_term, off.boredom_term)
    arms = (ArmConfig("pop", "popularity", 0.5), ArmConfig("hyb", "hybrid", 0.5))
    base = ExperimentConfig(users=600, days=2, warmup_days=7, seed=5, world=TINY, arms=arms, control="pop")
    a = run_experiment(base)
    c = run_experiment(base.replace(world=dataclasses.replace(TINY, behaviour=dataclasses.replace(
        TINY.behaviour, change_reaction=False))))
    np.testing.assert_array_equal(a.arm, c.arm)
    # the first day of the warm-up: nobody has a familiar look yet, so nothing differs
    first = a.warmup.logs.sessions["day"].min()
    pd.testing.assert_frame_equal(a.warmup.logs.sessions.query("day == @first").reset_index(drop=True),
                                  c.warmup.logs.sessions.query("day == @first").reset_index(drop=True))
    # day 0 of the experiment: both arms show users a new page; with the reaction on, clicks differ
    ia, ic = a.logs.impressions, c.logs.impressions
    assert len(ia) and len(ic) and not ia["p_click"].equals(ic["p_click"])


def test_the_reaction_switched_off_from_day_0_keeps_the_warm_up():
    """change_reaction_until = 0, an experiment's steady-state truth: the warm-up (logs, segments,
    the policies fitted on it) is the same as with the reaction on; from day 0 the reaction is
    gone, so clicks differ where a page changed."""
    arms = (ArmConfig("pop", "popularity", 0.5), ArmConfig("hyb", "hybrid", 0.5))
    base = ExperimentConfig(users=600, days=2, warmup_days=7, seed=5, world=TINY, arms=arms, control="pop")
    a = run_experiment(base)
    c = run_experiment(base.replace(world=dataclasses.replace(TINY, behaviour=dataclasses.replace(
        TINY.behaviour, change_reaction_until=0))))
    for kind in ("plays", "sessions"):        # the warm-up keeps no impressions
        wa, wc = getattr(a.warmup.logs, kind), getattr(c.warmup.logs, kind)
        assert len(wa)
        pd.testing.assert_frame_equal(wa.reset_index(drop=True), wc.reset_index(drop=True))
    np.testing.assert_array_equal(a.warmup.segment, c.warmup.segment)
    np.testing.assert_array_equal(a.arm, c.arm)
    ia, ic = a.logs.impressions, c.logs.impressions
    assert len(ia) and not ia["p_click"].equals(ic["p_click"])
    # a value that is not a day is refused
    with pytest.raises(InputError):
        WorldConfig.from_dict({"behaviour": {"change_reaction_until": "day 0"}})


def test_cumulative_tables_carry_the_return_columns_of_each_window():
    """Day by day, the tally of visit days gives what return_counts gives on the sessions so far."""
    from recsys.core.logs import Logs
    from recsys.simulate.tables import cumulative_tables

    rng = np.random.default_rng(0)
    s = pd.DataFrame({"user_id": rng.integers(0, 40, 400), "day": rng.integers(0, 9, 400)})
    s = s.assign(session=0, impressions=1, clicks=0, plays=0, seconds_to_first_play=np.nan, repetition=0.0)
    ids = np.arange(3, 45)
    logs = Logs(plays=Logs().plays, sessions=s, impressions=None)
    n = len(ids)
    for d, tab in cumulative_tables(logs, ids, np.full(n, "a", object), np.full(n, "regular", object),
                                    np.full(n, 32767), days=range(9)):
        want = return_counts(s[s["day"] <= d], ids, last_day=d)
        for c, v in want.items():
            np.testing.assert_array_equal(tab[c].to_numpy(), v, err_msg=f"{c} day {d}")
