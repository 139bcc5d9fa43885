"""The decision rule in a closed loop: how often it says ship, no-ship, inconclusive, and
harmed, when the truth is known (issue 14's acceptance study).

1. Plans the size with ``recsys power``'s planner (:func:`recsys.stats.planning.plan_decision`)
   from a pilot A/A table, for success metrics ctr and watch_minutes at +5% and guardrails
   churn_rate and regret_ratio at +10%.
2. Runs ``--replicates`` synthetic experiments (recsys.stats.synthetic) of each scenario:
   an A/A at 20,000 users per arm; a true +5% on ctr and watch time, guardrails unchanged, at the
   planned size; +5% ctr with +20% churn at 100,000 users per arm.
3. Prints the rates with their Monte Carlo standard errors, and writes them as JSON.

    python benchmarks/decision_calibration.py [--replicates 1000] [--json out.json]

Not a test (tests/stats/test_decision_calibration.py runs the same study, slow-marked).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from recsys.decision.study import STUDY_ROLES, decision_study
from recsys.stats.planning import pilot_from_table, plan_decision
from recsys.stats.synthetic import synthetic_table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    pilot = pilot_from_table(synthetic_table(400_000, ("a", "b"), seed=20_250), STUDY_ROLES.deciding())
    plan = plan_decision(pilot, STUDY_ROLES, {"ctr": 0.05, "watch_minutes": 0.05}, power=0.8)
    n_plan = plan.at_plan.users_per_arm["treatment"]
    print(f"planned: {plan.at_plan.users:,} users ({n_plan:,} per arm) for 80% power of the rule; "
          f"the paper's Bonferroni-beta design: {plan.users_bonferroni:,}")
    out = {"plan": plan.to_dict(), "studies": []}
    for scenario, n in (("aa", 20_000), ("win", n_plan), ("win_churn_harm", 100_000)):
        s0 = time.perf_counter()
        res = decision_study(scenario, n, args.replicates, seed=7)
        d = res.to_dict()
        d["seconds"] = round(time.perf_counter() - s0, 1)
        out["studies"].append(d)
        se = lambda p: np.sqrt(p * (1 - p) / args.replicates)  # noqa: E731
        v = d["verdicts"]
        print(f"{scenario:15s} {n:>7,}/arm  " + "  ".join(f"{k} {100 * p:.1f}% (±{100 * se(p):.1f})"
                                                         for k, p in v.items() if p > 0)
              + f"  [{d['seconds']} s]")
        for m, st in d["guardrails"].items():
            print(f"{'':15s} {m:>12s}: " + "  ".join(f"{k} {100 * p:.1f}%" for k, p in st.items()))
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"total {out['seconds']} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
