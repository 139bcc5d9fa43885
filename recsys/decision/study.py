"""Closed-loop checks of what the decision rule *says*: replicate synthetic experiments with a
known truth, analyse and decide each, and count how often each word is said.

Used by the slow tests (tests/stats/test_decision_calibration.py) and by
``python benchmarks/decision_calibration.py``, which prints the figures quoted in the README.
The tables come from :func:`recsys.stats.synthetic.synthetic_table` (gamma-Poisson activity,
per-user click propensity, zero-inflated lognormal minutes, churn near 4%, correlated pre_*).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from recsys.stats.analysis import analyze
from recsys.stats.roles import Guardrail, Levels, Roles
from recsys.stats.synthetic import synthetic_table

#: the roles of the study: two success metrics, two guardrails at +10%
STUDY_ROLES = Roles(success=("ctr", "watch_minutes"),
                    guardrails=(Guardrail("churn_rate", 0.10), Guardrail("regret_ratio", 0.10)), secondary=())

SCENARIOS: dict[str, Mapping[str, float]] = {
    "aa": {},
    "win": {"ctr": 1.05, "watch_minutes": 1.05},
    "win_churn_harm": {"ctr": 1.05, "churn_rate": 1.20},
}


@dataclass
class StudyResult:
    scenario: str
    users_per_arm: int
    replicates: int
    verdicts: Counter = field(default_factory=Counter)
    guardrail_status: dict[str, Counter] = field(default_factory=dict)

    def rate(self, verdict: str) -> float:
        return self.verdicts[verdict] / self.replicates

    def status_rate(self, metric: str, status: str) -> float:
        return self.guardrail_status[metric][status] / self.replicates

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "users_per_arm": self.users_per_arm, "replicates": self.replicates,
                "verdicts": {k: self.rate(k) for k in ("ship", "no-ship", "inconclusive", "investigate")},
                "guardrails": {m: {s: self.status_rate(m, s) for s in ("non-inferior", "inconclusive", "harmed")}
                               for m in self.guardrail_status}}


def decision_study(scenario: str, users_per_arm: int, replicates: int, *, seed: int = 0,
                   roles: Roles = STUDY_ROLES, levels: Levels | None = None) -> StudyResult:
    """Run ``replicates`` experiments of ``scenario`` (a key of :data:`SCENARIOS`) with
    ``users_per_arm`` users in each of two arms; count verdicts and guardrail statuses."""
    from recsys.decision import decide

    effects = {"b": dict(SCENARIOS[scenario])}
    out = StudyResult(scenario, users_per_arm, replicates,
                      guardrail_status={g.metric: Counter() for g in roles.guardrails})
    seeds = np.random.SeedSequence([seed, users_per_arm]).spawn(replicates)
    for ss in seeds:
        table = synthetic_table(2 * users_per_arm, ("a", "b"), seed=int(ss.generate_state(1)[0]), effects=effects)
        d = decide(analyze(table, "a", roles=roles, levels=levels))
        out.verdicts[d.verdict] += 1
        for t in d.tradeoffs.itertuples():
            if t.role == "guardrail":
                out.guardrail_status[t.metric][t.guardrail] += 1
    return out
