"""``recsys demo``: the main job end to end on an embedded default experiment."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from recsys.cli.args import add_run_arguments, run_experiment_command, with_overrides
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
    add_run_arguments(p, users_help="users in the world (default 20000)", days_help="experiment days (default 14)",
                      seed_help="seed (default 7)")
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
    config = with_overrides(config, args)
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
