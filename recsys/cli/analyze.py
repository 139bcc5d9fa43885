"""`recsys analyze TABLE --control ARM ... --json PATH`: analyse a per-user table (contracts section 3)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from recsys.decision import Roles, parse_guardrails
from recsys.errors import InputError
from recsys.io import read_table, write_json
from recsys.report.text import render_analysis
from recsys.stats.analysis import analyze, check_alpha
from recsys.stats.corrections import CORRECTIONS


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help="analyse a per-user A/B table (Parquet or CSV)",
                              description="Compare every arm with the control on every metric (per segment "
                                          "with --segments), correct for multiple comparisons, check the sample "
                                          "ratio and decide ship / no-ship / investigate.")
    p.add_argument("table", help="per-user table, .parquet or .csv (contracts section 1)")
    p.add_argument("--control", required=True, help="the control arm's name")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level, in (0, 1) (default 0.05)")
    p.add_argument("--correction", default="holm", choices=CORRECTIONS,
                   help="multiple-comparison correction across arms x metrics x segments (default holm)")
    p.add_argument("--no-cuped", action="store_true", help="do not adjust with pre_* covariates")
    p.add_argument("--segments", action="store_true", help="also compare within each label of the segment column")
    p.add_argument("--metrics", help="comma-separated metrics (default: all of contracts section 2)")
    p.add_argument("--primary", help="the metric that decides (default ctr)")
    p.add_argument("--secondary", help="comma-separated secondary metrics (default watch_minutes,completion_rate)")
    p.add_argument("--guardrail", action="append", default=[], metavar="M=TOL",
                   help="guardrail metric and its worst acceptable relative change, e.g. churn_rate=0.0 "
                        "(repeatable; replaces the defaults; 'none' for no guardrails)")
    p.add_argument("--shares", action="append", default=[], metavar="ARM=SHARE",
                   help="configured traffic share of an arm for the sample-ratio test (repeatable; default equal)")
    p.add_argument("--bootstrap", action="append", default=[], metavar="M",
                   help="also test this metric by bootstrap instead of its closed form (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--json", metavar="PATH", help="write the analysis JSON here")
    p.set_defaults(run=run)
    return p


def _roles(args) -> Roles:
    base = Roles()
    guardrails = base.guardrails
    if args.guardrail:
        guardrails = {} if [g.strip().lower() for g in args.guardrail] == ["none"] else parse_guardrails(args.guardrail)
    secondary = base.secondary if args.secondary is None else tuple(s.strip() for s in args.secondary.split(",") if s.strip())
    return Roles(primary=args.primary or base.primary, secondary=secondary, guardrails=guardrails)


def _shares(items: list[str]) -> dict[str, float] | None:
    if not items:
        return None
    out = {}
    for item in items:
        arm, sep, value = item.partition("=")
        try:
            out[arm.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not arm.strip():
            raise InputError(f"--shares expects ARM=SHARE, got {item!r}")
    return out


def _check_output(path: str | None) -> None:
    """Fail before any work if the JSON cannot be written."""
    if path is None:
        return
    parent = Path(path).parent if str(Path(path).parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write {path}: directory {parent} is not writable")


def run(args) -> int:
    alpha = check_alpha(args.alpha)
    _check_output(args.json)
    roles = _roles(args)
    metrics = None if args.metrics is None else [m.strip() for m in args.metrics.split(",") if m.strip()]
    table = read_table(args.table)
    result = analyze(table, args.control, alpha=alpha, correction=args.correction, cuped=not args.no_cuped,
                     segments=args.segments, metrics=metrics, shares=_shares(args.shares), seed=args.seed,
                     roles=roles, bootstrap=tuple(args.bootstrap))
    print(render_analysis(result))
    if args.json:
        write_json(args.json, result)
    return 0
