"""`recsys power`: plan the decision (users for the rule to ship with the wanted power), or one test.

Two modes. ``--from users.parquet`` plans the whole decision rule from a previous run (or any
per-user table): baselines, per-user standard deviations, their correlations and CUPED's
variance reduction are read from it; the roles come from ``--config`` or the flags. Without
``--from``, ``--metric --baseline --mde`` (or ``--users``) plans one two-sided test.
"""

from __future__ import annotations

import argparse

import numpy as np

from recsys.cli import positive_int
from recsys.core.errors import InputError
from recsys.core.io import check_writable, read_table, write_json
from recsys.report.text import render_decision_plan, render_power
from recsys.stats.power import plan
from recsys.stats.roles import Levels, Roles, parse_guardrail


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help="users needed for the decision rule (or one test) to find an effect",
                              description=__doc__.split("\n\n")[0] + " " + __doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("--from", dest="pilot", metavar="TABLE",
                   help="plan the decision from this per-user table (a previous run's users.parquet)")
    p.add_argument("--config", metavar="FILE", help="roles, alpha, correction and decision levels from an experiment "
                                                    "file or a run's config.toml (with --from)")
    p.add_argument("--control", help="with --from: read baselines from this arm's users (default: every user)")
    p.add_argument("--primary", help="the primary success metric (default ctr)")
    p.add_argument("--success", help="comma-separated further success metrics")
    p.add_argument("--guardrail", action="append", default=[], metavar="M=MARGIN[:absolute]",
                   help="guardrail and margin, as for recsys analyze (repeatable; default churn_rate and regret_ratio "
                        "at +10%%; 'none' for no guardrails)")
    p.add_argument("--shares", help="traffic shares, control first, comma-separated (default equal, two arms)")
    p.add_argument("--no-cuped", action="store_true", help="plan without CUPED's variance reduction")
    p.add_argument("--metric", help="one test: the metric (docs/contracts.md section 2)")
    p.add_argument("--baseline", type=float, help="one test: the control's mean or rate")
    p.add_argument("--sd", type=float, help="one test: per-user standard deviation (means and ratios)")
    p.add_argument("--mde", action="append", default=[], metavar="[M=]EFFECT",
                   help="minimum detectable effect: with --from, relative, for every success metric or per metric "
                        "(ctr=0.05); for one test, absolute (relative with --relative)")
    p.add_argument("--users", type=positive_int, help="with --from: total users, report the rule's power there; "
                                                       "one test: users per arm, report the detectable effect")
    p.add_argument("--alpha", type=float, default=None, help="significance level (default 0.05)")
    p.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    p.add_argument("--relative", action="store_true", help="one test: --mde is a fraction of the baseline")
    p.add_argument("--looks", help="a group-sequential design: the number of equally spaced looks, or the "
                                   "information fractions (0.25,0.5,1); users are inflated accordingly")
    p.add_argument("--spending", default="obrien-fleming",
                   help="alpha spending with --looks: obrien-fleming (default), pocock, hsd or power")
    p.add_argument("--json", metavar="PATH", help="write the result as JSON here")
    p.set_defaults(run=run)
    return p


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in (text or "").split(",") if s.strip())


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a number") from None


def _plan_decision(args) -> dict:
    from recsys.cli.analyze import _from_config
    from recsys.stats.planning import pilot_from_table, plan_decision

    roles, levels, control = Roles(), Levels(), None
    if args.config:
        roles, levels, control, _ = _from_config(args.config)
    if args.primary or args.success:
        primary = args.primary or roles.primary
        roles = Roles(success=(primary, *[m for m in _split(args.success) if m != primary]),
                      guardrails=roles.guardrails, secondary=roles.secondary)
    if args.guardrail:
        items = [g.strip() for g in args.guardrail]
        guards = () if [i.lower() for i in items] == ["none"] else tuple(parse_guardrail(g) for g in items)
        roles = Roles(success=roles.success, guardrails=guards, secondary=roles.secondary)
    if args.alpha is not None:
        levels = Levels(args.alpha, levels.guardrail_alpha, levels.deterioration_alpha, levels.quality_alpha,
                        levels.correction)
    if not args.mde:
        raise InputError("give --mde: the relative change each success metric should be planned for (e.g. 0.05)")
    mde: dict[str, float] = {}
    for item in args.mde:
        name, sep, value = item.partition("=")
        if sep:
            mde[name.strip()] = _number(value, f"--mde {name}")
        else:
            v = _number(item, "--mde")
            from recsys.stats.metrics import get_metric

            for m in roles.success:   # one relative effect in each success metric's good direction
                mde.setdefault(m, -abs(v) if get_metric(m).lower_is_better else abs(v))
    shares = [_number(s, "--shares") for s in _split(args.shares)] or None
    table = read_table(args.pilot)
    pilot = pilot_from_table(table, roles.validate(table.columns).deciding(), control=args.control or None,
                             cuped=not args.no_cuped)
    del control
    res = plan_decision(pilot, roles, mde, levels=levels, power=args.power, shares=shares, users=args.users)
    return {"mode": "decision", "roles": roles.to_dict(), "levels": levels.to_dict(), **res.to_dict(),
            "users_given": args.users}


def _looks(text: str | None):
    if not text:
        return None
    parts = _split(text)
    if len(parts) == 1 and parts[0].isdigit():
        n = int(parts[0])
        if n < 1:
            raise InputError(f"--looks must be at least 1, got {n}")
        return n
    return [_number(p, "--looks") for p in parts]


def _sequential(out: dict, args, users_key: str, alpha: float, power: float) -> None:
    """Inflate the planned users for a group-sequential design of ``--looks``."""
    from recsys.stats.group_sequential import design, equally_spaced, sample_size_inflation

    looks = _looks(args.looks)
    if looks is None:
        return
    factor = sample_size_inflation(looks, alpha, power, args.spending)
    fractions = equally_spaced(looks) if isinstance(looks, int) else looks
    d = design(fractions, alpha, args.spending)
    out["group_sequential"] = {"looks": list(map(float, fractions)), "spending": args.spending,
                               "inflation": float(factor), "bounds": list(map(float, d.bounds)),
                               "users": int(np.ceil(out[users_key] * factor))}


def run(args) -> int:
    if args.json:
        check_writable(args.json)
    if args.looks is None and args.spending != "obrien-fleming":
        raise InputError("--spending applies to --looks")
    if args.pilot:
        if args.metric or args.baseline is not None or args.sd is not None or args.relative:
            raise InputError("--from plans the whole decision; --metric/--baseline/--sd/--relative are for one test")
        out = _plan_decision(args)
        _sequential(out["at_plan"], args, "users", out["levels"]["alpha"], args.power)
        print(render_decision_plan(out))
    else:
        if not args.metric:
            raise InputError("give --from users.parquet to plan the decision, or --metric, --baseline and --mde "
                             "(or --users) for one test")
        if args.baseline is None:
            raise InputError(f"--baseline is required for one test of {args.metric}")
        if args.relative and not args.mde:
            raise InputError("--relative applies to --mde only")
        if len(args.mde) > 1 or (args.mde and "=" in args.mde[0]):
            raise InputError("one test takes a single --mde value")
        if bool(args.mde) == (args.users is not None):
            raise InputError("give exactly one of --mde and --users")
        res = plan(args.metric, args.baseline, sd=args.sd, mde=_number(args.mde[0], "--mde") if args.mde else None,
                   users=args.users, alpha=0.05 if args.alpha is None else args.alpha, power=args.power,
                   relative=args.relative)
        out = res.to_dict()
        _sequential(out, args, "users_per_arm", res.alpha, res.power)
        print(render_power(out))
    if args.json:
        write_json(args.json, out)
    return 0
