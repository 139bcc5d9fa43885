"""``recsys demo``: the main job end to end on an embedded default experiment."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from recsys import parallel
from recsys.cli import positive_int
from recsys.config_util import read_toml
from recsys.experiment.config import ExperimentConfig
from recsys.io import prepare_out_dir


def default_config() -> ExperimentConfig:
    path = resources.files("recsys") / "defaults" / "demo.toml"
    return ExperimentConfig.from_dict(read_toml(Path(str(path))))


def add_parser(sub, name: str) -> None:
    p = sub.add_parser(name, help="run the default hybrid-vs-popularity experiment end to end",
                       description="Build the default world, warm up history, train popularity and the hybrid, "
                                   "run a 14-day A/B, analyse, decide and write a report.")
    p.add_argument("--out", help="output directory (default: a new recsys-demo-N folder here)")
    p.add_argument("--users", type=positive_int, help="users in the experiment (default 20000)")
    p.add_argument("--days", type=positive_int, help="experiment days (default 14)")
    p.add_argument("--seed", type=int, help="seed (default 7)")
    parallel.add_arguments(p)
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run into the same --out (same configuration and seed)")
    p.add_argument("--json", help="also write the analysis JSON here")
    p.add_argument("--daily", action="store_true",
                   help="print the always-valid sequential test day by day (always in the JSON)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def _new_out_dir() -> Path:
    i = 1
    while Path(f"recsys-demo-{i}").exists():
        i += 1
    return Path(f"recsys-demo-{i}")


def run(args) -> int:
    from recsys.jobs import open_work_dir, run_job, write_outputs
    from recsys.report.experiment import render_job_report
    from recsys.report.preview import segment_previews
    from recsys.report.reasons import verdict_text
    from recsys.report.text import render_analysis, render_sequential

    t0 = time.perf_counter()
    config = default_config()
    overrides = {k: getattr(args, k) for k in ("users", "days", "seed") if getattr(args, k) is not None}
    if overrides:
        config = config.replace(**overrides)
    out = Path(args.out) if args.out else _new_out_dir()
    prepare_out_dir(out)
    with parallel.from_args(args) as ex:
        work = open_work_dir(config, out, resume=args.resume)
        job = run_job(config, executor=ex, progress=not args.quiet, work=work)
    treatment = next(a.name for a in config.arms if a.name != config.control)
    html = render_job_report(job, segment_previews(job.result, treatment))
    write_outputs(job, out, args.json, {"report.html": html})
    print()
    print("Per arm:")
    print(job.summary.to_string(float_format=lambda x: f"{x:.4g}"))
    print()
    print(render_analysis(job.analysis, segments=False))
    print(render_sequential(job.analysis.get("sequential") or [], job.analysis["alpha"], daily=args.daily,
                            verdicts=job.analysis.get("sequential_decision")))
    print(f"\nVerdict: {verdict_text(job.analysis['decision'])} (reasons under Decision above; trade-offs in the "
          "report)")
    print(f"\nFinished in {time.perf_counter() - t0:.0f} s. Report: {out / 'report.html'}")
    return 0
