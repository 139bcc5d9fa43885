"""Interleaving against A/B testing, measured in the world: the users each needs for 80% power.

For each world (one seed) the warm-up runs once and every ranker is fitted once; then for each
pair of rankers an A/B test (CTR, analysed as ``recsys ab`` does, CUPED included) and a
team-draft interleaving experiment (the per-user preference on clicks, and the per-user click
difference) run on the same users from the same post-warm-up state
(:func:`recsys.experiment.sensitivity.paired_designs`). Over the worlds:
:func:`recsys.stats.interleaving.design_comparison` gives the users each design needs, their
ratio with a bootstrap interval over worlds, and whether the winners agree. The figures are in
docs/interleaving.md and the README.

    nice -n 10 python benchmarks/interleaving.py --worlds 10 --users 2000 --days 5 --warmup-days 14 --json interleaving.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from recsys.core.parallel import executor
from recsys.experiment.config import ExperimentConfig
from recsys.experiment.sensitivity import sensitivity_replicates
from recsys.stats.interleaving import design_comparison

#: the rankers compared (name -> policy, parameters as in an experiment file)
RANKERS = {
    "popularity": ("popularity", {}),
    "random": ("random", {}),
    "hybrid": ("hybrid", {"diversity": 0.3}),
    "hybrid-d0": ("hybrid", {"diversity": 0.0}),
    "als": ("cf", {"cf": "als"}),
    "bpr": ("cf", {"cf": "bpr"}),
    "itemknn": ("cf", {"cf": "itemknn"}),
    "ease": ("cf", {"cf": "ease"}),
}
#: (A, B) pairs, from far apart to close
PAIRS = [
    ("popularity", "random"),
    ("popularity", "hybrid"),
    ("popularity", "als"),
    ("als", "hybrid"),
    ("als", "bpr"),
    ("itemknn", "ease"),
    ("hybrid-d0", "hybrid"),
]


def _fmt_users(x: float) -> str:
    return "inf" if not np.isfinite(x) else f"{x:,.0f}"


def table(cmp, designs=("interleaving", "interleaving_diff")) -> str:
    """The README's markdown table."""
    effect = "interleaving preference for B" if designs[0] == "interleaving" else \
        "interleaving click difference per user, B - A"
    lines = [f"| pair (B vs A) | A/B CTR lift of B | A/B users for 80% power [95% CI] | {effect} "
             "| interleaving users [95% CI] | ratio A/B / interleaving [95% CI] | winners agree (worlds) |",
             "|---|---|---|---|---|---|---|"]
    for _, r in cmp[cmp["design"] == designs[0]].iterrows():
        lo, hi = r["ref_users_needed_ci"]
        ilo, ihi = r["users_needed_ci"]
        rlo, rhi = r["ratio_ci"]
        lines.append(f"| {r['pair']} | {r['ref_rel_lift']:+.1%} | {_fmt_users(r['ref_users_needed'])} "
                     f"[{_fmt_users(lo)}, {_fmt_users(hi)}] | {r['effect']:+.3f} | {_fmt_users(r['users_needed'])} "
                     f"[{_fmt_users(ilo)}, {_fmt_users(ihi)}] | {r['ratio']:.2f} [{rlo:.2f}, {rhi:.2f}] | "
                     f"{'yes' if r['winners_agree'] else 'no'} ({r['worlds_agreeing']:.0%}) |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=10, help="replicate worlds (seeds 1..N)")
    ap.add_argument("--users", type=int, default=4000)
    ap.add_argument("--days", type=int, default=7, help="experiment days")
    ap.add_argument("--warmup-days", type=int, default=21)
    ap.add_argument("--titles", type=int, default=None, help="catalog size (default: the default world's)")
    ap.add_argument("--pairs", type=int, default=len(PAIRS), help="the first N pairs only")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", help="write rows and the comparison here")
    args = ap.parse_args(argv)

    cfg = ExperimentConfig().replace(users=args.users, days=args.days, warmup_days=args.warmup_days)
    if args.titles:
        import dataclasses

        cfg = cfg.replace(world=dataclasses.replace(cfg.world, titles=args.titles, cast=max(args.titles // 2, 50)))
    pairs = PAIRS[:args.pairs]
    t0 = time.time()
    with executor(args.workers) as ex:
        rows = sensitivity_replicates(cfg, range(1, args.worlds + 1), RANKERS, pairs, executor=ex)
    seconds = time.time() - t0
    cmp = design_comparison(rows)
    print(f"{args.worlds} worlds x {len(pairs)} pairs; {args.users:,} users each, {args.warmup_days} warm-up and "
          f"{args.days} experiment days; {seconds:.0f} s on {args.workers} worker(s)\n")
    print("interleaving = the per-user preference (sign of the click difference):")
    print(table(cmp))
    print("\ninterleaving_diff = the per-user click difference:")
    print(table(cmp, ("interleaving_diff",)))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "worlds": args.worlds, "users": args.users, "days": args.days, "warmup_days": args.warmup_days,
            "seconds": seconds, "workers": args.workers, "rows": rows.to_dict(orient="records"),
            "comparison": cmp.to_dict(orient="records")}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
