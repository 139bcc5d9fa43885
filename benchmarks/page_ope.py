"""How much must the warm-up logger randomise? Whole-page off-policy estimates against exploration.

For each exploration rate (the share of the logger's slots given to a uniformly drawn title,
``warmup_explore`` with ``warmup_explore_draw = "uniform"``) one world is warmed up, page
policies are fitted on the warm-up before its last ``--window`` days and estimated on those days
(:func:`recsys.evaluate.page_ope.estimate_page_policies`), beside the simulated truth. Printed:
the estimate, its standard error, the cards the estimate rests on (the effective sample size
of the weights) and the error against the truth, per rate. The figures are quoted in
docs/offline_online.md ("How much the logger must randomise").

    nice -n 10 python benchmarks/page_ope.py --users 20000 --explore 0.05 0.1 0.25 0.5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from recsys.evaluate.page_ope import coverage_replicates
from recsys.experiment.config import ExperimentConfig

POLICIES = {"popularity": ("popularity", {}), "hybrid": ("hybrid", {"diversity": 0.3}), "random": ("random", {})}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--warmup-days", type=int, default=28)
    ap.add_argument("--window", type=int, default=7)
    ap.add_argument("--explore", type=float, nargs="+", default=[0.05, 0.1, 0.25, 0.5])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    rows = []
    t0 = time.time()
    for eps in args.explore:
        cfg = ExperimentConfig().replace(users=args.users, days=1, warmup_days=args.warmup_days,
                                         warmup_explore=eps, warmup_explore_draw="uniform")
        df = coverage_replicates(cfg, [args.seed], POLICIES, window=args.window)
        df.insert(0, "explore", eps)
        rows.append(df)
        print(f"explore {eps}: {time.time() - t0:.0f} s", flush=True)
    out = pd.concat(rows, ignore_index=True)
    out["error"] = out["value"] - out["truth"]
    out["rel_se"] = out["se"] / out["truth"]
    cols = ["explore", "policy", "reward", "estimator", "value", "se", "rel_se", "truth", "error", "covered",
            "effective_cards", "cards", "share_of_cards_matched"]
    with pd.option_context("display.width", 200, "display.precision", 4):
        print(out[out["estimator"] == "snips"][cols].to_string(index=False))
    print(f"\n{args.users:,} users, default world, {args.warmup_days}-day warm-up, window {args.window}: "
          f"{time.time() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out.to_dict(orient="records"), indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
