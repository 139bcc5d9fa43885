"""``recsys demo``: the main job end to end on an embedded default experiment."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from recsys.cli.args import add_parallel_arguments, positive_int, run_experiment_command
from recsys.core.config import read_toml
from recsys.experiment.config import ExperimentConfig


def default_config() -> ExperimentConfig:
    path = resources.files("recsys") / "defaults" / "demo.toml"
    return ExperimentConfig.from_dict(read_toml(Path(str(path))))


def add_parser(sub, name: str) -> None:
    p = sub.add_parser(name, help="run the default hybrid-vs-popularity experiment end to end",
                       description="Build the default world, warm up history, train popularity and the hybrid, "
                                   "run a 14-day A/B, analyse, decide and write a report.")
    p.add_argument("--out", help="output directory (default: a new recsys-demo-N folder here)")
    p.add_argument("--users", type=positive_int, help="users in the world (default 20000)")
    p.add_argument("--days", type=positive_int, help="experiment days (default 14)")
    p.add_argument("--seed", type=int, help="seed (default 7)")
    add_parallel_arguments(p)
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run into the same --out (same configuration and seed); on a "
                        "finished run, print its result")
    p.add_argument("--json", help="also write the analysis JSON here (its folder is created)")
    p.add_argument("--daily", action="store_true",
                   help="print the always-valid daily monitor day by day (always in the JSON)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(run=run)


def _new_out_dir() -> Path:
    i = 1
    while Path(f"recsys-demo-{i}").exists():
        i += 1
    return Path(f"recsys-demo-{i}")


def run(args) -> int:
    from recsys.report.reasons import verdict_text
    from recsys.report.text import render_analysis, render_arm_summary, render_sequential

    t0 = time.perf_counter()
    config = default_config()
    overrides = {k: getattr(args, k) for k in ("users", "days", "seed") if getattr(args, k) is not None}
    if overrides:
        config = config.replace(**overrides)
    out = Path(args.out) if args.out else _new_out_dir()
    analysis, _ = run_experiment_command(config, args, out, report=True, previews=True)
    print()
    print(render_arm_summary(analysis.get("arm_summary") or []))
    print()
    print(render_analysis(analysis, segments=False))
    print(render_sequential(analysis.get("sequential") or [], analysis["alpha"], daily=args.daily,
                            verdicts=analysis.get("sequential_decision")))
    print(f"\nVerdict: {verdict_text(analysis['decision'])} (reasons under Decision above; trade-offs in the report)")
    print(f"\nFinished in {time.perf_counter() - t0:.0f} s. Report: {out / 'report.html'}")
    return 0
