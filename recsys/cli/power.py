"""`recsys power`: users per arm for a minimum detectable effect, or the effect n users detect."""

from __future__ import annotations

import argparse

from recsys.cli import positive_int
from recsys.errors import InputError
from recsys.io import write_json
from recsys.report.text import render_power
from recsys.stats.power import plan


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help="sample size for a minimum detectable effect, or the effect n users detect",
                              description="Two-sided two-arm power: give --mde for users per arm, or --users for "
                                          "the detectable effect. Means (and ratios) need --sd, the per-user "
                                          "standard deviation (recsys analyze reports it as sd_control).")
    p.add_argument("--metric", required=True, help="metric name (contracts section 2)")
    p.add_argument("--baseline", type=float, required=True, help="the control's mean or rate")
    p.add_argument("--sd", type=float, help="per-user standard deviation (means and ratios)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--mde", type=float, help="minimum detectable effect (absolute, or relative with --relative)")
    group.add_argument("--users", type=positive_int, help="users per arm")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    p.add_argument("--relative", action="store_true", help="--mde is a fraction of the baseline")
    p.add_argument("--json", metavar="PATH", help="write the result as JSON here")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    if args.relative and args.mde is None:
        raise InputError("--relative applies to --mde only")
    res = plan(args.metric, args.baseline, sd=args.sd, mde=args.mde, users=args.users, alpha=args.alpha,
               power=args.power, relative=args.relative)
    print(render_power(res.to_dict()))
    if args.json:
        write_json(args.json, res.to_dict())
    return 0
