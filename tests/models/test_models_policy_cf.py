"""Item-item models as A/B arms: ``cf = "itemknn" | "rp3beta" | "ease"`` in the cf and hybrid policies."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.core.errors import InputError
from recsys.models import EASE, DenseHybrid, ItemKNN
from recsys.core.page import Layout, UserContext
from recsys.policies import make_policy
from recsys.core.rng import KeyedRandom
from recsys.core.logs import PLAY_SCHEMA, Logs, frame
from recsys.world.catalog import make_catalog
from recsys.world.config import WorldConfig

N_USERS = 300
LAYOUT = Layout(5, 8)


@pytest.fixture(scope="module")
def setup():
    catalog, _ = make_catalog(WorldConfig(titles=300, cast=100), 3)
    rng = np.random.default_rng(1)
    old = np.flatnonzero(catalog.release_day < -7)
    n = rng.poisson(10, N_USERS) + 1
    users = np.repeat(np.arange(N_USERS), n)
    titles = rng.choice(old, len(users))
    m = len(users)
    plays = frame(PLAY_SCHEMA, dict(
        user_id=users, day=rng.integers(-28, 0, m), session=np.zeros(m), title=titles, artwork=np.zeros(m),
        source=np.zeros(m), minutes=catalog.runtime[titles] * rng.random(m), completed=np.zeros(m, bool),
        abandoned_early=np.zeros(m, bool), episodes=np.ones(m), p_abandon=rng.random(m)))
    return catalog, Logs(plays=plays)


def _ctx(catalog, users, recent):
    z = np.zeros(len(users), np.int32)
    return UserContext(day=0, user_ids=np.asarray(users, np.int64), recent=recent,
                       genre_profile=np.zeros((len(users), catalog.n_genres), np.float32),
                       plays=z, sessions=z, signup_day=z)


@pytest.mark.parametrize("name, params, scorer", [
    ("cf", {"cf": "ease", "cf_params": {"l2": 50.0}}, EASE),
    ("cf", {"cf": "itemknn", "cf_params": {"neighbours": 30, "weighting": "bm25"}, "diversity": 0.3}, ItemKNN),
    ("cf", {"cf": "rp3beta"}, None),
    ("hybrid", {"cf": "ease", "content_weight": 0.2}, DenseHybrid),
])
def test_item_item_arms_build_pages(setup, name, params, scorer):
    catalog, logs = setup
    pol = make_policy(name, params, seed=0).fit(logs, catalog, day=0, n_users=N_USERS)
    if scorer is not None:
        assert isinstance(pol.scorer_, scorer)
    users = np.array([0, 5, 17, N_USERS + 4])             # the last signed up after the fit
    recent = np.full((len(users), 4), -1, np.int32)
    recent[0, :2] = logs.plays.title[logs.plays.user_id == 0].to_numpy()[:2]
    recent[3, 0] = recent[0, 0]
    page = pol.pages(_ctx(catalog, users, recent), LAYOUT, KeyedRandom.from_seed(0, "t"))
    flat = page.titles.reshape(len(users), -1)
    assert (flat >= 0).all()
    assert all(len(np.unique(row)) == len(row) for row in flat)          # no title twice on a page
    assert not np.isin(recent[0, :2], flat[0]).any()                      # recent plays are left out
    assert catalog.available(0)[flat].all()


@pytest.mark.parametrize("params, message", [
    ({"cf": "svd"}, "cf must be one of als, bpr, itemknn, rp3beta, ease"),
    ({"cf": "ease", "cf_params": {"lambda": 3}}, "unknown parameter 'lambda' for model 'ease'"),
    ({"cf": "ease", "cf_params": {"l2": -1}}, "l2 must be a number > 0"),
    ({"cf": "itemknn", "cf_params": {"weighting": "idf"}}, "weighting must be one of"),
    ({"cf": "itemknn", "factors": 8}, "factors does not apply to cf = 'itemknn' (use cf_params)"),
    ({"cf": "ease", "cf_params": [1, 2]}, "cf_params must be a table"),
    ({"cf": "als", "cf_params": {"l2": 3}}, "cf_params applies to item-item cf models"),
])
def test_bad_item_item_parameters(params, message):
    for name in ("cf", "hybrid"):
        with pytest.raises(InputError) as err:
            make_policy(name, params)
        assert message in str(err.value)
