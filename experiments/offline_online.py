"""Offline against online in one command: >= 10 policies (models x diversity weights x artwork),
each one's offline figures (NDCG@10, coverage, off-policy estimates from the warm-up's logs)
beside its A/B lift over popularity in the same world; Kendall's tau per offline figure and a
scatter chart. The figures are discussed in docs/offline_online.md.

    nice -n 10 python experiments/offline_online.py --out offline_online          # the default world
    python experiments/offline_online.py --users 6000 --days 7 --out /tmp/oo      # a quick look

Writes OUT/policies.csv (one row per policy), OUT/taus.csv, OUT/agreement.json and the chart as
OUT/agreement.png and OUT/agreement.svg (all whole or not at all).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from recsys.core.io import atomic_dir, write_bytes, write_json, write_text
from recsys.core.parallel import executor
from recsys.evaluate.offline_online import POLICIES, offline_online
from recsys.experiment.config import ExperimentConfig
from recsys.report.agreement import agreement_chart


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="an experiment file for the world, sizes and seed (its arms are replaced)")
    ap.add_argument("--users", type=int, default=26_000, help="users in the experiment (default 26,000: 2,000 per arm)")
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--warmup-days", type=int, default=28)
    ap.add_argument("--window", type=int, default=7, help="last warm-up days the off-policy estimates use")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--policies", help="a comma-separated subset of the study's policies (default: all of them; "
                                       "popularity, the control, is always included)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    base = ExperimentConfig.load(args.config) if args.config else ExperimentConfig()
    base = base.replace(users=args.users, days=args.days, warmup_days=args.warmup_days, seed=args.seed)
    specs = dict(POLICIES)
    if args.policies:
        names = ["popularity"] + [n.strip() for n in args.policies.split(",") if n.strip() != "popularity"]
        unknown = [n for n in names if n not in POLICIES]
        if unknown:
            ap.error(f"unknown policies {', '.join(unknown)} (known: {', '.join(POLICIES)})")
        specs = {n: POLICIES[n] for n in names}
    t0 = time.time()
    with executor(args.workers) as ex:
        res = offline_online(base, specs, window=args.window, executor=ex)
    seconds = time.time() - t0
    df, taus = res.policies, res.taus
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.precision", 4):
        print(df[["arm", "users", "ctr", "ctr_lift", "watch_minutes_lift", "ndcg", "coverage", "ope_ctr",
                  "ope_ctr_truth", "ope_qualified"]].to_string(index=False))
        print()
        print(taus.to_string(index=False))
    print(f"\n{len(df)} policies, {args.users:,} users, {args.warmup_days} + {args.days} days: {seconds:.0f} s")
    with atomic_dir(args.out) as tmp:
        write_text(tmp / "policies.csv", df.to_csv(index=False))
        write_text(tmp / "taus.csv", taus.to_csv(index=False))
        write_json(tmp / "agreement.json", {"seconds": seconds, "config": res.config.to_dict(),
                                            "offline_note": res.offline_note,
                                            "policies": df.to_dict(orient="records"),
                                            "taus": taus.to_dict(orient="records")})
        for fmt in ("png", "svg"):
            write_bytes(tmp / f"agreement.{fmt}", agreement_chart(df, taus, fmt=fmt))
    print(f"wrote {args.out}/policies.csv, taus.csv, agreement.json, agreement.png, agreement.svg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
