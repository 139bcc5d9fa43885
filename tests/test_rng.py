"""Keyed randomness: pure functions of their counters, prefixes that give the same draws, spawned seeds."""

import numpy as np
from scipy import stats

from recsys.core.rng import KeyedRandom, generator


def test_a_draw_depends_only_on_its_counters():
    r = KeyedRandom.from_seed(5, "behaviour")
    users = np.arange(100, 200)
    whole = r.uniform(users, 3, 1, 7)
    part = r.uniform(users[40:60], 3, 1, 7)
    np.testing.assert_array_equal(whole[40:60], part)
    assert not np.array_equal(whole, r.uniform(users, 4, 1, 7))
    assert not np.array_equal(whole, KeyedRandom.from_seed(6, "behaviour").uniform(users, 3, 1, 7))


def test_prefix_gives_the_same_draws():
    r = KeyedRandom.from_seed(9, "x")
    uid = np.arange(1000, 1300)
    slots = np.arange(40)
    sess = r.prefix(uid, 12, 2)
    np.testing.assert_array_equal(r.uniform(uid[:, None], 12, 2, slots[None, :], 4),
                                  sess.column().uniform(slots[None, :], 4))
    idx = np.array([5, 5, 17, 299])
    np.testing.assert_array_equal(r.uniform(uid[idx], 12, 2, np.array([1, 2, 3, 4]), 8),
                                  sess.take(idx).uniform(np.array([1, 2, 3, 4]), 8))
    np.testing.assert_array_equal(r.normal(uid, 12, 2, 9, 1), sess.normal(9, 1))


def test_uniform_and_normal_are_what_they_claim():
    r = KeyedRandom.from_seed(1, "check")
    u = r.uniform(np.arange(200_000), 0)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    z = r.normal(np.arange(200_000), 1)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_generators_are_independent_streams_per_key():
    a = generator(3, "users", 0).random(5)
    np.testing.assert_array_equal(a, generator(3, "users", 0).random(5))
    assert not np.array_equal(a, generator(3, "users", 1).random(5))
