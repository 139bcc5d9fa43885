"""``recsys surrogate-bank --out DIR``: run a bank of long experiments, fit the surrogate index
on it, and check it by leaving each experiment out (docs/long_term.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from recsys.cli.args import add_parallel_arguments, executor_from_args, positive_int


def add_parser(sub, name: str) -> None:
    p = sub.add_parser(name, help="build a bank of long experiments and fit the surrogate index",
                       description="Run RUNS experiments (popularity against arms drawn from a menu of policies, "
                                   "diversity weights and artwork policies, each on its own seed) for HORIZON days; "
                                   "fit, for each long-term outcome, a model of it from the first WINDOW days' "
                                   "per-user metrics; report how well each held-out experiment's long-term effect "
                                   "is predicted, against the naive 'the short-term effect is the long-term "
                                   "effect'. Writes bank.parquet, bank.json, model_<outcome>.json, validation.json.")
    p.add_argument("--out", required=True, help="new output directory")
    p.add_argument("--from", dest="source", metavar="DIR",
                   help="refit on the bank of an earlier run's folder instead of simulating")
    p.add_argument("--runs", type=positive_int, default=8, help="experiments in the bank (default 8; at least 5)")
    p.add_argument("--users", type=positive_int, default=2000, help="users in each experiment's world (default 2000)")
    p.add_argument("--horizon", type=positive_int, default=60, help="days each experiment runs (default 60)")
    p.add_argument("--window", type=positive_int, default=14, help="days of short-term metrics (default 14)")
    p.add_argument("--warmup-days", type=positive_int, default=28, help="warm-up days before each (default 28)")
    p.add_argument("--arms-per-run", type=positive_int, default=3, help="treatment arms per experiment (default 3)")
    p.add_argument("--seed", type=int, default=1, help="first seed (run r uses seed + r)")
    p.add_argument("--ridge", type=float, default=1.0, help="ridge penalty on standardised features (default 1)")
    p.add_argument("--no-calibration", action="store_true",
                   help="use the index as Athey et al. define it, without calibrating its effects on the bank's")
    p.add_argument("--json", help="also write validation.json here")
    add_parallel_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(run=run)


def _load_bank(folder: Path):
    import json

    from recsys.core.errors import InputError
    from recsys.core.io import read_table
    from recsys.stats.surrogate import Bank

    try:
        meta = json.loads((folder / "bank.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"--from {folder}: no bank.json there ({exc})") from None
    return Bank(read_table(folder / "bank.parquet"), meta["controls"], meta.get("runs", {}), meta.get("window"),
                meta.get("horizon"))


def run(args) -> int:
    from recsys.core.errors import InputError
    from recsys.core.io import atomic_dir, check_writable, prepare_out_dir, write_json, write_table
    from recsys.experiment.bank import bank_configs, build_bank, check_sizes
    from recsys.stats.surrogate import OUTCOMES, SurrogateIndex, validate

    t0 = time.perf_counter()
    if args.json:
        check_writable(args.json)
    if args.ridge < 0:
        raise InputError(f"--ridge must be non-negative, got {args.ridge:g}")
    out = Path(args.out)
    if args.source:
        bank = _load_bank(Path(args.source))
        check_sizes(len(bank.controls), int(bank.window), int(bank.horizon))
        prepare_out_dir(out)
    else:
        check_sizes(args.runs, args.window, args.horizon)
        configs = bank_configs(args.runs, users=args.users, horizon=args.horizon, window=args.window, seed=args.seed,
                               arms_per_run=args.arms_per_run, warmup_days=args.warmup_days)
        prepare_out_dir(out)

        def note(i, cfg, seconds):
            if not args.quiet:
                arms = ", ".join(a.name for a in cfg.arms[1:])
                print(f"  run {i + 1}/{len(configs)} (seed {cfg.seed}; {arms}): {seconds:.0f} s", file=sys.stderr)

        with executor_from_args(args) as ex:
            bank = build_bank(configs, args.window, executor=ex, on_run=note)
    fit_t0 = time.perf_counter()
    models, checks = {}, {}
    for outcome in OUTCOMES:
        if outcome not in bank.table.columns:
            continue
        m = SurrogateIndex(outcome=outcome, ridge=args.ridge, calibrate=not args.no_calibration).fit(bank.table, bank.controls, window=bank.window,
                                                                   horizon=bank.horizon)
        models[outcome], checks[outcome] = m, validate(m)
    summary = {"runs": len(bank.controls), "users": int(len(bank.table)), "window": bank.window,
               "horizon": bank.horizon, "seconds_total": round(time.perf_counter() - t0, 1),
               "seconds_fit_and_validate": round(time.perf_counter() - fit_t0, 1),
               "seconds_per_run": {k: v.get("seconds") for k, v in bank.meta.items()}, "outcomes": checks}
    with atomic_dir(out, exist_ok=True) as tmp:
        write_table(tmp / "bank.parquet", bank.table)
        write_json(tmp / "bank.json", {"controls": dict(bank.controls), "runs": dict(bank.meta),
                                       "window": bank.window, "horizon": bank.horizon})
        for outcome, m in models.items():
            write_json(tmp / f"model_{outcome}.json", m.to_dict())
        write_json(tmp / "validation.json", summary)
    if args.json:
        write_json(args.json, summary)
    print(render(summary))
    return 0


def render(summary: dict) -> str:
    lines = [f"Surrogate bank: {summary['runs']} experiments, {summary['users']:,} users, window {summary['window']} "
             f"days, horizon {summary['horizon']} days ({summary['seconds_total']:.0f} s)"]
    for outcome, v in summary["outcomes"].items():
        s, n = v["surrogate"], v.get("naive")
        lines.append(f"  {outcome}: {v['comparisons']} held-out comparisons; model error sd {v['tau2'] ** 0.5:.3f} "
                     "(log scale)")
        name = "surrogate index, calibrated" if v.get("calibrated") else "surrogate index"
        lines.append(f"    {name}: {1 - v['alpha']:.0%} interval covers the long-term effect in "
                     f"{s['coverage']:.0%}; Kendall's tau with it {s['kendall_tau']:+.2f}; mean abs error "
                     f"{s['mean_abs_error']:.3f}")
        if v.get("index"):
            i = v["index"]
            cal = v["calibration"]
            lines.append(f"    (uncalibrated index: covers {i['coverage']:.0%}; Kendall's tau {i['kendall_tau']:+.2f}; mean "
                         f"abs error {i['mean_abs_error']:.3f}; calibration truth = {cal['a']:+.3f} + "
                         f"{cal['b']:.2f} x index)")
        if n:
            lines.append(f"    naive (short-term effect = long-term): covers {n['coverage']:.0%}; Kendall's tau "
                         f"{n['kendall_tau']:+.2f}; mean abs error {n['mean_abs_error']:.3f}")
        pol = v.get("policies")
        if pol:
            lines.append(f"    ranking of {pol['count']} policies (each averaged over {pol['experiments_per_policy']:.1f} "
                         f"experiments): Kendall's tau {pol['surrogate_kendall_tau']:+.2f} (surrogate), "
                         f"{pol['index_kendall_tau']:+.2f} (uncalibrated)"
                         + (f", {pol['naive_kendall_tau']:+.2f} (naive)" if "naive_kendall_tau" in pol else ""))
    return "\n".join(lines)
