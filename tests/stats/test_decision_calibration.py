"""What the decision rule says, in a closed loop (issue 14's acceptance; slow: about 30 minutes on
2 cores). 1,000 synthetic experiments per scenario with a known truth; the figures are printed
and quoted in the README (``python benchmarks/decision_calibration.py`` prints the same study)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.decision.study import STUDY_ROLES, decision_study
from recsys.stats.planning import pilot_from_table, plan_decision
from recsys.stats.roles import Levels
from recsys.stats.synthetic import synthetic_table

REPS = 1000
LEVELS = Levels()


def _mc(p: float) -> float:
    return 3 * np.sqrt(p * (1 - p) / REPS)


@pytest.mark.slow
def test_aa_ships_at_most_alpha_and_calls_harm_at_its_level():
    res = decision_study("aa", 20_000, REPS, seed=101)
    print(res.to_dict())
    assert res.rate("ship") <= LEVELS.alpha
    for metric in res.guardrail_status:
        assert res.status_rate(metric, "harmed") <= LEVELS.deterioration_alpha + _mc(LEVELS.deterioration_alpha)


@pytest.mark.slow
def test_a_true_win_ships_at_the_planned_power():
    pilot = pilot_from_table(synthetic_table(400_000, ("a", "b"), seed=20_251), STUDY_ROLES.deciding())
    plan = plan_decision(pilot, STUDY_ROLES, {"ctr": 0.05, "watch_minutes": 0.05}, power=0.8)
    n = plan.at_plan.users_per_arm["treatment"]
    res = decision_study("win", n, REPS, seed=102)
    print(n, res.to_dict())
    assert abs(res.rate("ship") - 0.80) <= 0.03


@pytest.mark.slow
def test_a_win_that_raises_churn_is_no_ship_with_churn_harmed():
    res = decision_study("win_churn_harm", 100_000, REPS, seed=103)
    print(res.to_dict())
    assert res.rate("no-ship") >= 0.95
    assert res.status_rate("churn_rate", "harmed") >= 0.95
