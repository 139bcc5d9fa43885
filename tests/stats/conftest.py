"""Shared fixtures for the statistics tests: small synthetic per-user tables."""

from __future__ import annotations

import pytest

from recsys.stats.synthetic import synthetic_table


@pytest.fixture(scope="session")
def small_table():
    """4,000 users, two arms, a real CTR lift of 8% in the treatment."""
    return synthetic_table(4000, ("popularity", "hybrid"), seed=11, effects={"hybrid": {"ctr": 1.08}})


@pytest.fixture(scope="session")
def three_arm_table():
    return synthetic_table(3000, ("control", "a", "b"), seed=5, effects={"b": {"watch_minutes": 2.0}})
