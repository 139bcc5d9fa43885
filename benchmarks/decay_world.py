"""The decay test's false-flag rate and power in the world (issue 19's acceptance study).

Runs ``--worlds`` small worlds (seeds ``--seed`` ..), each with three frozen arms (popularity,
the hybrid with fixed artwork and an identical copy of it; see
:mod:`recsys.experiment.decay_study`), once with the world's change reaction (novelty and
change aversion) off and once on, and prints per comparison the share of worlds the
early-vs-late test flags as decaying or growing at alpha 5%, with its exact binomial interval.
The hybrid against its copy is a null that holds by construction; the hybrid against
popularity shows the trend the world has without novelty and what novelty adds.

    python benchmarks/decay_world.py [--worlds 100] [--users 3000] [--seed 1] [--workers 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json

from recsys.experiment.decay_study import format_table, timed_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=100)
    ap.add_argument("--users", type=int, default=3000, help="users per world (a third per arm)")
    ap.add_argument("--seed", type=int, default=1, help="the first world's seed")
    ap.add_argument("--warmup-days", type=int, default=14)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--workers", type=int, default=1, help="worlds run in this many processes")
    ap.add_argument("--json", help="write the summary and every world's record here")
    args = ap.parse_args()
    out = timed_study(args.worlds, args.users, seed=args.seed, workers=args.workers,
                      warmup_days=args.warmup_days, days=args.days)
    print(f"{args.worlds} worlds x 2 (reaction off, on) of {args.users:,} users, {args.warmup_days} warm-up and "
          f"{args.days} experiment days, frozen policies: {out['seconds']} s on {args.workers} worker(s)")
    print(format_table(out["summary"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2, default=float)


if __name__ == "__main__":
    main()
