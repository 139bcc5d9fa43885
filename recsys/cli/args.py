"""Argument helpers shared by the commands: value types, the parallel options, and the run of an
experiment command (``recsys ab`` and ``recsys demo``) from its parsed arguments."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
from concurrent.futures import Executor
from pathlib import Path

from recsys.core.errors import InputError


def bounded(cast, ok, expected: str):
    """An argparse ``type``: ``cast`` the text and keep it when ``ok(value)``; otherwise the one-line
    error "expected <expected>, got '<text>'" (argparse prefixes the option's name)."""
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


positive_int = bounded(int, lambda v: v > 0, "a positive integer")
probability = bounded(float, lambda v: 0.0 <= v <= 1.0, "a probability in [0, 1]")


def add_run_arguments(parser, *, users_help: str, days_help: str, seed_help: str) -> None:
    """The options every experiment-running command shares: sizes, parallelism, resume, the JSON copy,
    the daily monitor and quiet."""
    parser.add_argument("--users", type=positive_int, help=users_help)
    parser.add_argument("--days", type=positive_int, help=days_help)
    parser.add_argument("--seed", type=int, help=seed_help)
    add_parallel_arguments(parser)
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run into the same --out (same configuration and seed); on "
                             "a finished run, print its result")
    parser.add_argument("--json", help="also write the analysis JSON here (its folder is created)")
    parser.add_argument("--daily", action="store_true",
                        help="print the always-valid daily monitor day by day (always in the JSON)")
    parser.add_argument("--quiet", action="store_true", help="no progress display")


def with_overrides(config, args):
    """``config`` with the --users/--days/--seed the command line gave."""
    overrides = {k: getattr(args, k) for k in ("users", "days", "seed") if getattr(args, k) is not None}
    return config.replace(**overrides) if overrides else config


def load_experiment(path: str | Path, *, reader=None):
    """An experiment file, with its own folder on the plugins' search path first, so an arm's
    ``policy = "mymodule:MyClass"`` finds ``mymodule.py`` beside the file (as ``python -m`` would)."""
    from recsys.experiment.config import ExperimentConfig
    from recsys.policies import plugins

    folder = str(Path(path).resolve().parent)
    if folder not in plugins.SEARCH_PATH:
        plugins.SEARCH_PATH.insert(0, folder)
    return (reader or ExperimentConfig.load)(path)


def add_parallel_arguments(parser) -> None:
    """``--workers``, ``--dask`` and ``--scheduler`` for a command that runs shards in parallel."""
    parser.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1: inline)")
    parser.add_argument("--dask", action="store_true", help="run the workers as a local dask.distributed cluster")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786")


def executor_from_args(args) -> contextlib.AbstractContextManager[Executor | None]:
    """The executor the parallel options ask for (:func:`recsys.core.parallel.executor`)."""
    from recsys.core.parallel import executor

    return executor(args.workers, dask=getattr(args, "dask", False), scheduler=getattr(args, "scheduler", None))


def announce(config, workers: int) -> None:
    """Before a large run: its estimated time and memory on stderr, and a warning when the
    memory exceeds what this machine has available."""
    from recsys.jobs import estimate_run

    est = estimate_run(config, workers)
    gb = est.peak_bytes / 1e9
    if est.too_big:
        print(f"recsys: warning: {config.world.users:,} users need about {gb:,.0f} GB of memory, more than the "
              f"{est.available_bytes / 1e9:,.0f} GB available here; this run will likely fail (fewer --users, "
              "or a cluster with --scheduler)", file=sys.stderr)
    elif est.user_days >= 10_000_000:
        minutes = est.seconds / 60
        print(f"recsys: note: {config.world.users:,} users x {config.warmup_days + config.days} days: about "
              f"{minutes:,.0f} min and {gb:,.1f} GB of memory on {workers} worker{'s' * (workers > 1)} (estimated "
              "from this project's benchmarks on a 2-core machine)", file=sys.stderr)


def run_experiment_command(config, args, out: Path, *, report: bool, previews: bool = False, surrogate=None):
    """The body of ``recsys ab`` and ``recsys demo``: resume a finished run (exit 0 with its
    result), or announce, run, analyse, decide, render the report and write everything whole.
    Returns the analysis JSON (a finished run's, or the new one) and the job (None if finished).
    ``surrogate``: a fitted :class:`~recsys.stats.surrogate.SurrogateIndex` whose long-term
    prediction is added to the analysis JSON as ``surrogate``."""
    from recsys.core.io import prepare_out_dir
    from recsys.jobs import finished_run, gather_evidence, job_steps, open_work_dir, run_job, write_outputs
    from recsys.core.progress import Progress

    if args.json:
        from recsys.core.io import check_writable

        check_writable(args.json)
    if getattr(args, "resume", False):
        done = finished_run(out, config)
        if done is not None:
            print(f"recsys: {out} already holds this finished run; nothing to resume (its result is below)",
                  file=sys.stderr)
            if args.json:
                from recsys.core.io import write_json

                write_json(args.json, done)
            return done, None
    prepare_out_dir(out)
    announce(config, args.workers)
    bar = Progress(job_steps(config) + int(report), enabled=not args.quiet)
    resume = getattr(args, "resume", False)
    try:
        with executor_from_args(args) as ex:
            work = open_work_dir(config, out, resume=resume)
            try:
                job = run_job(config, executor=ex, progress=bar, work=work)
            except InputError:   # bad input (a plugin's failing fit, ...): nothing is left behind to resume
                if not resume:
                    shutil.rmtree(work, ignore_errors=True)
                raise
        if surrogate is not None:
            from recsys.experiment.bank import long_term_prediction

            job.json["surrogate"] = long_term_prediction(surrogate, job.result)
        extra = {}
        if report:
            from recsys.report.experiment import render_job_report

            with bar.stage("report"):
                evidence = gather_evidence(job.result, list(job.json["arms"]), homepages=previews)
                extra["report.html"] = render_job_report(job, evidence)
    finally:
        bar.close()
    write_outputs(job, out, args.json, extra)
    return job.json, job
