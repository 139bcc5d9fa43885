"""``recsys interleave CONFIG``: team-draft interleaving of two arms of an experiment file."""

from __future__ import annotations

from pathlib import Path

from recsys.cli.args import add_parallel_arguments, executor_from_args, load_experiment, positive_int, with_overrides


def add_parser(sub, name: str) -> None:
    p = sub.add_parser(name, help="compare two rankers by team-draft interleaving",
                       description="Run an experiment file's world, warm-up and days with every user shown the "
                                   "team-draft merge of two of its arms' pages; credit clicks and qualified plays "
                                   "to the ranker of each card and test the users' preference (docs/interleaving.md).")
    p.add_argument("config", help="experiment TOML file (docs/contracts.md section 5)")
    p.add_argument("--out", required=True, help="output directory (users.parquet, config.toml, analysis.json)")
    p.add_argument("--arms", metavar="A,B",
                   help="the two arms to interleave (default: the control and the first other arm)")
    p.add_argument("--credit", choices=("clicks", "qualified_plays"), default="clicks",
                   help="the primary credit (default clicks; both are reported)")
    p.add_argument("--users", type=positive_int, help="override [experiment] users")
    p.add_argument("--days", type=positive_int, help="override [experiment] days")
    p.add_argument("--seed", type=int, help="override [experiment] seed")
    add_parallel_arguments(p)
    p.add_argument("--json", help="also write the analysis JSON here (its folder is created)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(run=run)


def run(args) -> int:
    from recsys.core.errors import InputError
    from recsys.core.io import check_writable, prepare_out_dir
    from recsys.core.progress import Progress
    from recsys.experiment.interleave import choose_arms, run_interleaving
    from recsys.jobs import interleaving_analysis, write_interleaving
    from recsys.report.text import render_interleaving

    config = with_overrides(load_experiment(args.config), args)   # plugin arms found beside the file
    arms = None
    if args.arms:
        parts = [a.strip() for a in args.arms.split(",")]
        if len(parts) != 2 or not all(parts):
            raise InputError(f"--arms must name two arms as A,B, got {args.arms!r}")
        arms = (parts[0], parts[1])
    choose_arms(config, arms)                  # a bad arm fails before any work
    if args.json:
        check_writable(args.json)
    out = prepare_out_dir(Path(args.out))
    bar = Progress(config.warmup_days + config.days + 1, enabled=not args.quiet)
    try:
        with executor_from_args(args) as ex:
            res = run_interleaving(config, arms, executor=ex, progress=bar)
    finally:
        bar.close()
    analysis = interleaving_analysis(res, primary=args.credit)
    write_interleaving(res, analysis, out, args.json)
    print(render_interleaving(analysis))
    print(f"wrote {out}/users.parquet, config.toml, analysis.json")
    return 0
