"""``recsys ab CONFIG``: run an experiment file, write the per-user table, config and analysis."""

from __future__ import annotations

from pathlib import Path

from recsys import parallel
from recsys.cli import positive_int
from recsys.errors import InputError
from recsys.experiment.config import ExperimentConfig
from recsys.io import prepare_out_dir


def add_parser(sub, name: str) -> None:
    p = sub.add_parser(name, help="run an A/B experiment defined in a TOML file",
                       description="Run an experiment file: warm-up, training, assignment, simulation, analysis.")
    p.add_argument("config", help="experiment TOML file (contracts section 5)")
    p.add_argument("--out", required=True, help="output directory (users.parquet, config.toml, analysis.json)")
    p.add_argument("--json", help="also write the analysis JSON here")
    parallel.add_arguments(p)
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run into the same --out (same configuration and seed)")
    p.add_argument("--users", type=positive_int, help="override [experiment] users")
    p.add_argument("--days", type=positive_int, help="override [experiment] days")
    p.add_argument("--seed", type=int, help="override [experiment] seed")
    p.add_argument("--daily", action="store_true",
                   help="print the always-valid sequential test day by day (always in the JSON)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def run(args) -> int:
    from recsys.jobs import open_work_dir, run_job, write_outputs
    from recsys.report.text import render_analysis, render_sequential

    config = ExperimentConfig.load(args.config)
    overrides = {k: getattr(args, k) for k in ("users", "days", "seed") if getattr(args, k) is not None}
    if overrides:
        config = config.replace(**overrides)
    prepare_out_dir(args.out)
    if args.json and not Path(args.json).resolve().parent.is_dir():
        raise InputError(f"--json {args.json}: directory does not exist")
    with parallel.from_args(args) as ex:
        work = open_work_dir(config, args.out, resume=args.resume)
        job = run_job(config, executor=ex, progress=not args.quiet, work=work)
    print(render_analysis(job.analysis))
    print(render_sequential(job.analysis.get("sequential") or [], job.analysis["alpha"], daily=args.daily))
    write_outputs(job, args.out, args.json)
    print(f"wrote {args.out}/users.parquet, config.toml, analysis.json")
    return 0
