"""``recsys ab CONFIG``: run an experiment file, write the per-user table, config, analysis and report."""

from __future__ import annotations

from pathlib import Path

from recsys.cli.args import add_run_arguments, load_experiment, run_experiment_command, with_overrides


def add_parser(sub, name: str) -> None:
    p = sub.add_parser(name, help="run an A/B experiment defined in a TOML file",
                       description="Run an experiment file: warm-up, training, assignment, simulation, analysis, "
                                   "decision (docs/contracts.md section 5).")
    p.add_argument("config", help="experiment TOML file (docs/contracts.md section 5)")
    p.add_argument("--out", required=True, help="output directory (users.parquet, config.toml, analysis.json)")
    p.add_argument("--report", action="store_true",
                   help="also write OUT/report.html: the verdict, trade-offs, lifts, daily curves, monitoring, "
                        "sample sizes, offline metrics, exposure and methods")
    add_run_arguments(p, users_help="override [experiment] users", days_help="override [experiment] days",
                      seed_help="override [experiment] seed")
    p.add_argument("--surrogate", metavar="MODEL",
                   help="a surrogate index (model_<outcome>.json from recsys surrogate-bank): add its prediction of "
                        "the long-term effect, from this experiment's first days, to the analysis")
    p.set_defaults(run=run)


def run(args) -> int:
    from recsys.report.text import render_analysis, render_sequential

    config = load_experiment(args.config)
    config = with_overrides(config, args)
    model = None
    if args.surrogate:
        from recsys.core.errors import InputError
        from recsys.stats.surrogate import SurrogateIndex

        model = SurrogateIndex.load(args.surrogate)
        if model.window_ is not None and config.days < model.window_:
            raise InputError(f"the experiment runs {config.days} days, shorter than the surrogate window of "
                             f"{model.window_} days the model was fitted on")
    analysis, job = run_experiment_command(config, args, Path(args.out), report=args.report, surrogate=model)
    print(render_analysis(analysis))
    print(render_sequential(analysis.get("sequential") or [], analysis["alpha"], daily=args.daily,
                            verdicts=analysis.get("sequential_decision")))
    if job is not None:
        print(f"wrote {args.out}/users.parquet, config.toml, analysis.json" + (", report.html" if args.report else ""))
    return 0
