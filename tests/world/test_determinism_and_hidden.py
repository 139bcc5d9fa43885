"""No policy but the oracle reads hidden fields; same seed, same tables, whatever the workers or arms."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recsys.core import parallel
from recsys.experiment.config import ArmConfig
from recsys.experiment.runner import run_experiment
from recsys.core.page import Layout
from recsys.policies import make_policy
from recsys.core.rng import KeyedRandom, generator
from recsys.world.build import World

from world_config import small_config


def shuffled_world(world: World) -> World:
    rng = generator(99, "shuffle")
    return dataclasses.replace(world, truth=world.truth.shuffled(rng), user_truth=world.user_truth.shuffled(rng))


@pytest.mark.parametrize("name,params", [("random", {}), ("popularity", {}), ("cf", {}), ("content", {}),
                                         ("hybrid", {"diversity": 0.3})])
def test_policies_ignore_hidden_fields(three_policy_run, name, params):
    res = three_policy_run
    world, logs = res.world, res.warmup.logs.observed()
    fake = shuffled_world(world)
    layout = Layout(world.config.rows, world.config.row_length)
    rows = np.arange(0, world.n_users, 7)
    from recsys.simulate.state import ShardState
    ctx = ShardState.new(world, 0, world.n_users).context(rows, 0)
    pages = []
    for w in (world, fake):
        p = make_policy(name, params, seed=1, world=w).fit(logs, w.catalog, day=0, n_users=w.n_users)
        pages.append(p.pages(ctx, layout, KeyedRandom.from_seed(1, "p")))
    np.testing.assert_array_equal(pages[0].titles, pages[1].titles)
    np.testing.assert_array_equal(pages[0].artwork, pages[1].artwork)


def test_oracle_does_read_hidden_fields(three_policy_run):
    """The check above can fail: the oracle's pages change when the truth is shuffled."""
    res = three_policy_run
    world = res.world
    layout = Layout(world.config.rows, world.config.row_length)
    from recsys.simulate.state import ShardState
    ctx = ShardState.new(world, 0, 500).context(np.arange(500), 0)
    a = make_policy("oracle", {}, world=world).fit(res.warmup.logs, world.catalog, day=0, n_users=world.n_users)
    b = make_policy("oracle", {}, world=shuffled_world(world)).fit(res.warmup.logs, world.catalog, day=0,
                                                                  n_users=world.n_users)
    r = KeyedRandom.from_seed(1, "p")
    assert (a.pages(ctx, layout, r).titles != b.pages(ctx, layout, r).titles).mean() > 0.5


def _cfg(arms, **kw):
    return small_config(arms, users=4000, days=4, seed=21, **kw)


TWO = [ArmConfig("pop", "popularity", 0.5), ArmConfig("hyb", "hybrid", 0.5, {"diversity": 0.3})]


def test_same_table_with_one_or_two_workers():
    one = run_experiment(_cfg(TWO)).table
    with parallel.executor(2) as ex:
        two = run_experiment(_cfg(TWO), executor=ex).table
    pd.testing.assert_frame_equal(one, two)


def test_adding_an_arm_leaves_other_users_unchanged():
    """With frozen models: a model refitted on its own arm's logs depends on who is in the arm,
    as in production; the random draws of a user who keeps the arm do not."""
    base = run_experiment(_cfg(TWO, retrain_every=0)).table.set_index("user_id")
    three = [ArmConfig("pop", "popularity", 0.4), ArmConfig("hyb", "hybrid", 0.4, {"diversity": 0.3}),
             ArmConfig("rnd", "random", 0.2)]
    more = run_experiment(_cfg(three, retrain_every=0)).table.set_index("user_id")
    both = base.index.intersection(more.index)
    same_arm = both[base.loc[both, "arm"].to_numpy() == more.loc[both, "arm"].to_numpy()]
    assert len(same_arm) > 2000
    assert set(more.loc[same_arm, "arm"]) == {"pop", "hyb"}
    pd.testing.assert_frame_equal(base.loc[same_arm], more.loc[same_arm])
