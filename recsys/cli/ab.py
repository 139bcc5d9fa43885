"""``recsys ab CONFIG``: run an experiment file, write the per-user table, config and analysis."""

from __future__ import annotations

from recsys import parallel
from recsys.cli import positive_int
from recsys.experiment.config import ExperimentConfig
from recsys.io import check_writable, prepare_out_dir


def add_parser(sub, name: str) -> None:
    p = sub.add_parser(name, help="run an A/B experiment defined in a TOML file",
                       description="Run an experiment file: warm-up, training, assignment, simulation, analysis.")
    p.add_argument("config", help="experiment TOML file (docs/contracts.md section 5)")
    p.add_argument("--out", required=True, help="output directory (users.parquet, config.toml, analysis.json)")
    p.add_argument("--json", help="also write the analysis JSON here")
    p.add_argument("--report", action="store_true",
                   help="also write OUT/report.html: the verdict, trade-offs, lifts, daily curves, monitoring, "
                        "sample sizes, offline metrics, exposure and methods")
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
    if args.json:
        check_writable(args.json)
    with parallel.from_args(args) as ex:
        work = open_work_dir(config, args.out, resume=args.resume)
        job = run_job(config, executor=ex, progress=not args.quiet, work=work)
    print(render_analysis(job.analysis))
    print(render_sequential(job.analysis.get("sequential") or [], job.analysis["alpha"], daily=args.daily,
                            verdicts=job.analysis.get("sequential_decision")))
    extra = {}
    if args.report:
        from recsys.report.experiment import render_job_report

        extra["report.html"] = render_job_report(job)
    write_outputs(job, args.out, args.json, extra)
    print(f"wrote {args.out}/users.parquet, config.toml, analysis.json" + (", report.html" if args.report else ""))
    return 0
