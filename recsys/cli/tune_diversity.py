"""``recsys tune-diversity [CONFIG]``: sweep the re-ranker's weights over replicates, per segment."""

from __future__ import annotations

import time

from recsys.cli.args import add_parallel_arguments, executor_from_args, positive_int


def add_parser(sub, name: str) -> None:
    p = sub.add_parser(name, help="sweep the re-ranker's weights and recommend one per segment",
                       description="Run each grid point of the re-ranker's weights against weight 0 over independent "
                                   "replicates, per segment; report intervals, the CTR-vs-retention frontier and the "
                                   "best weight under the guardrails (default: the embedded tune.toml).")
    p.add_argument("config", nargs="?", help="sweep TOML file: [experiment], [world] and [tune] (default: embedded)")
    p.add_argument("--out", required=True, help="new output directory (tables, summary.json, charts, report.html)")
    p.add_argument("--json", help="also write the JSON summary here")
    p.add_argument("--replicates", type=positive_int, help="override [tune] replicates")
    p.add_argument("--grid", action="append", metavar="AXIS=W,W,...",
                   help="replace [tune.grid], e.g. diversity=0,0.3,0.6 (repeat for calibration, longtail)")
    p.add_argument("--users", type=positive_int, help="override [experiment] users")
    p.add_argument("--days", type=positive_int, help="override [experiment] days")
    p.add_argument("--seed", type=int, help="override [experiment] seed")
    add_parallel_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def load(args):
    """The sweep the arguments ask for, validated (InputError on anything wrong)."""
    from recsys.tune import Grid, TuneConfig, default_config

    config = TuneConfig.load(args.config) if args.config else default_config()
    overrides = {k: getattr(args, k) for k in ("users", "days", "seed", "replicates") if getattr(args, k) is not None}
    if args.grid is not None:
        overrides["grid"] = Grid.parse(args.grid)
    return config.replace(**overrides) if overrides else config


def run(args) -> int:
    from recsys.report.tune import render_text
    from recsys.tune import sweep
    from recsys.report.tune_output import check_outputs, write_outputs

    t0 = time.perf_counter()
    config = load(args)
    check_outputs(args.out, args.json)
    with executor_from_args(args) as ex:  # an unreachable scheduler fails here, before any work
        result = sweep(config, executor=ex, progress=not args.quiet)
    write_outputs(result, args.out, args.json)
    print(render_text(result))
    print(f"\nFinished in {time.perf_counter() - t0:.0f} s. Report: {args.out}/report.html")
    return 0

