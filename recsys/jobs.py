"""End-to-end jobs behind ``recsys ab`` and ``recsys demo``: run, analyse, decide, write.

A job with an output folder streams its logs into a scratch folder next to it
(``.OUT.partial``, see :func:`work_dir`) and renames that folder to ``OUT`` only when the
per-user table, configuration, analysis and report are all written: an interrupted job leaves
no ``OUT`` at all, and ``--resume`` continues it from the scratch folder.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.metrics.daily import churn_day_of
from recsys.core.logs import Logs
from recsys.simulate.tables import cumulative_tables
from recsys.decision import Decision, daily_verdicts, decide
from recsys.experiment.config import ExperimentConfig
from recsys.experiment.runner import ExperimentResult, run_experiment
from recsys.metrics.exposure import exposure_table, strategic_records
from recsys.core.errors import InputError
from recsys.core.io import atomic_dir, write_bytes, write_json, write_table, write_text
from recsys.core.progress import Progress
from recsys.simulate.store import RunStore
from recsys.simulate.tables import user_day_table
from recsys.stats.analysis import Analysis, analyze


@dataclass
class Evidence:
    """What a report shows beyond the analysis, computed from a run's logs and policies
    (descriptive aggregates only; inference stays in the analysis)."""

    arms: list[str]
    daily: pd.DataFrame           # per (arm, day): users, sessions, clicks, ctr, minutes (recsys.metrics.daily)
    survival: pd.DataFrame        # per (arm, day): users not yet churned
    churn_exact: bool
    exposure: pd.DataFrame        # per arm: coverage, long-tail share, homogenisation
    genre_share: pd.DataFrame     # per (arm, genre): share of plays
    offline: pd.DataFrame | None  # per arm: offline metrics of its scorer
    offline_note: str
    homepages: tuple = ()         # per arm: one active user's page per segment (recsys.experiment.preview)


def gather_evidence(result: ExperimentResult, arms: list[str], *, offline: bool = True,
                    homepages: bool = False) -> Evidence:
    """The report's descriptive evidence from ``result``'s logs (and, with ``offline``, the
    offline evaluation of each arm's scorer on the warm-up; with ``homepages``, each arm's page
    for one active user per segment)."""
    from recsys.experiment.preview import segment_homepages

    from recsys.metrics import daily as dly
    from recsys.evaluate.arms import arm_offline_metrics
    from recsys.metrics.exposure import genre_shares

    t = result.table
    ids, arm = t["user_id"].to_numpy(), t["arm"].to_numpy()
    days = range(result.config.days)
    churn_day, exact = dly.churn_day_of(result)
    cat = result.world.catalog
    warm = np.bincount(result.warmup.logs.plays["title"].to_numpy(np.int64), minlength=cat.n_titles)
    users = t[["user_id", "arm"]]
    genres = genre_shares(result.logs.plays, users, cat.genres, names=cat.genre_names)
    off, note = arm_offline_metrics(result) if offline else (None, "not asked for")
    return Evidence(
        arms=list(arms),
        daily=dly.daily_metrics(result.logs.sessions, result.logs.plays, ids, arm, days=days, arm_order=arms),
        survival=dly.retention(churn_day, arm, days, arm_order=arms),
        churn_exact=exact,
        exposure=exposure_table(result.logs.plays, users, cat.n_titles, popularity=warm, seed=result.config.seed)
        .set_index("arm").reindex(arms).reset_index(),
        genre_share=genres.melt(id_vars="arm", var_name="genre", value_name="share"),
        offline=off, offline_note=note,
        homepages=tuple(h for h in (segment_homepages(result, a) for a in arms) if h is not None) if homepages else ())


@dataclass
class JobOutput:
    """A finished job: the run (``result``), its :class:`~recsys.stats.analysis.Analysis` and
    :class:`~recsys.decision.Decision`, the per-arm ``summary``, and ``json``, what analysis.json
    holds (the analysis, ``decision``, the daily ``sequential`` records and their
    ``sequential_decision``, the ``arm_summary`` and the ``strategic`` catalog metrics)."""

    result: ExperimentResult
    json: dict
    summary: pd.DataFrame
    analysis: Analysis | None = None
    decision: Decision | None = None

    @property
    def table(self) -> pd.DataFrame:
        """The per-user table (docs/contracts.md section 1)."""
        return self.result.table

    @property
    def config(self) -> ExperimentConfig:
        return self.result.config

    @property
    def world(self):
        return self.result.world


def arm_summary(table: pd.DataFrame, plays: pd.DataFrame, n_titles: int, *, popularity=None,
                seed: int = 0) -> pd.DataFrame:
    """Descriptive per-arm figures for the terminal and the report (no inference here), with the
    catalog exposure of each arm's plays (:func:`recsys.metrics.exposure.exposure_table`; the long tail
    is the titles outside the head of ``popularity``, e.g. the warm-up's play counts)."""
    g = table.groupby("arm", sort=False)
    s = g[["impressions", "clicks", "plays", "watch_minutes", "completions", "early_abandons", "sessions", "churned"]].sum()
    n = g.size()
    out = pd.DataFrame({
        "users": n,
        "ctr": s["clicks"] / s["impressions"],
        "watch_min_per_user": s["watch_minutes"] / n,
        "watch_min_per_session": s["watch_minutes"] / s["sessions"],
        "completion_rate": s["completions"] / s["plays"],
        "regret_ratio": s["early_abandons"] / s["plays"],
        "churn_rate": s["churned"] / n,
    })
    if {"next_day_returns", "return_chances", "returns", "gap_days"} <= set(table.columns):
        r = g[["next_day_returns", "return_chances", "returns", "gap_days"]].sum()
        out["return_rate"] = r["next_day_returns"] / r["return_chances"]     # next-day return per visit day
        out["mean_gap_days"] = r["gap_days"] / r["returns"]                  # days between visits
    exposure = exposure_table(plays, table, n_titles, popularity=popularity, seed=seed).set_index("arm")
    return out.join(exposure[["coverage", "long_tail_share", "homogenization"]])


def work_dir(out: str | Path) -> Path:
    """The scratch folder a run for ``out`` streams its logs and checkpoints into."""
    out = Path(out)
    return out.parent / f".{out.name}.partial"


def open_work_dir(config: ExperimentConfig, out: str | Path, *, resume: bool) -> Path:
    """Create (or, with ``resume``, reopen) the scratch folder of a run whose output is ``out``.

    A resumed run must have the same resolved configuration as the interrupted one; without
    ``resume`` a leftover folder is discarded and the run starts again.
    """
    work = work_dir(out)
    text = config.to_toml()
    if work.exists():
        previous = work / "config.toml"
        if not resume:
            print(f"recsys: note: discarding the interrupted run in {work} (use --resume to continue it)")
            shutil.rmtree(work)
        elif not previous.is_file() or previous.read_text() != text:
            raise InputError(f"--resume: {work} was started with a different configuration")
    work.mkdir(exist_ok=True)
    write_text(work / "config.toml", text)
    return work


@dataclass(frozen=True)
class RunEstimate:
    """What a run will roughly cost, from the project's benchmarks on a 2-core machine
    (README "Speed and memory": 45,000 user-days per second on one worker, 1.6x on two; peak
    memory of all processes about 0.3 GB + 0.3 GB per extra worker + 4 KB per user)."""

    user_days: int
    seconds: float
    peak_bytes: float
    available_bytes: float | None

    @property
    def too_big(self) -> bool:
        return self.available_bytes is not None and self.peak_bytes > self.available_bytes


def available_memory() -> float | None:
    """Bytes of memory available now (/proc/meminfo's MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def estimate_run(config: ExperimentConfig, workers: int = 1) -> RunEstimate:
    """A rough cost of running ``config`` on ``workers`` local workers (see :class:`RunEstimate`)."""
    users = config.world.users
    user_days = users * (config.warmup_days + config.days)
    rate = 45_000.0 * (1 + 0.6 * (max(workers, 1) - 1))
    seconds = user_days / rate + 6e-5 * users + 5.0           # simulation, the ALS fit (~1 min per 1M users), set-up
    peak = 3e8 + 3e8 * (max(workers, 1) - 1) + users * (3_800.0 + 26.0 * (config.warmup_days + config.days))
    return RunEstimate(int(user_days), float(seconds), float(peak), available_memory())


def finished_run(out: str | Path, config: ExperimentConfig) -> dict | None:
    """The analysis of a finished run in ``out`` of the same configuration (None if ``out``
    holds no finished run; InputError if it holds one of another configuration)."""
    out = Path(out)
    analysis, cfg = out / "analysis.json", out / "config.toml"
    if not (analysis.is_file() and cfg.is_file()):
        return None
    if cfg.read_text() != config.to_toml():
        raise InputError(f"--resume: {out} holds a finished run of a different configuration")
    import json

    return json.loads(analysis.read_text())


def sequential_monitoring(logs: Logs, user_ids, arms, segments, churn_day, pre: pd.DataFrame | None = None, *,
                          control: str, roles=None, levels=None, options=None,
                          days: Iterable[int] | None = None) -> list[dict]:
    """Always-valid monitoring of the decision's metrics (each treatment arm against
    ``control``) on the cumulative table of every day: :func:`recsys.stats.analysis.monitor`
    with the experiment's roles and levels; one record per (day, arm, metric)."""
    from recsys.stats.analysis import monitor

    tables = cumulative_tables(logs, user_ids, arms, segments, churn_day, pre, days)
    looks: list[int] = []

    def frames():  # one cumulative table alive at a time
        for d, t in tables:
            looks.append(d)
            yield t

    days = list(days) if days is not None else None
    records = monitor(frames(), control, roles, levels, options=options, planned=len(days) if days else None)
    for r in records:   # the looks are labelled by their calendar day
        r["day"] = looks[r["day"]]
    return records


def monitor_result(result, roles, levels, options=None) -> list[dict]:
    """:func:`sequential_monitoring` of an :class:`~recsys.experiment.runner.ExperimentResult`
    with the roles and levels of its analysis."""
    t = result.table
    cd, _ = churn_day_of(result)
    return sequential_monitoring(result.logs, t["user_id"].to_numpy(), t["arm"].to_numpy(), t["segment"].to_numpy(),
                                 cd, result.warmup.pre, control=result.config.control, roles=roles, levels=levels,
                                 options=options, days=range(result.config.days))


def job_steps(config: ExperimentConfig) -> int:
    """The units of a job's progress display: each simulated day, the fit, the analysis and the
    monitoring (a caller that also writes a report adds one)."""
    return config.warmup_days + config.days + 3


def run_job(config: ExperimentConfig, *, executor: Executor | None = None, progress: bool | Progress = True,
            segments: bool = True, work: Path | None = None, objects: Mapping[str, Any] | None = None) -> JobOutput:
    """Run ``config`` (shards on ``executor``, see :mod:`recsys.core.parallel`), analyse it and decide.

    With ``work`` (see :func:`open_work_dir`) the logs stream to partitioned Parquet there
    instead of being held in memory, and a run interrupted earlier resumes where it stopped.
    ``progress``: a :class:`~recsys.core.progress.Progress` to report to (its stages: warm-up days,
    fit, experiment days, analysis, monitoring), or True for one of the job's own. ``objects``: arm
    name -> the policy or scorer object that stands for that arm (:func:`recsys.api.run_experiment`).
    """
    own = not isinstance(progress, Progress)
    bar = Progress(job_steps(config), enabled=bool(progress)) if own else progress
    try:
        store = RunStore(work) if work is not None else None
        result = run_experiment(config, executor=executor, progress=bar, keep_impressions=store is None, store=store,
                                objects=objects)
        shares = {a.name: a.share for a in config.arms}
        with bar.stage("analysis"):
            ids, arm = result.table["user_id"].to_numpy(), result.table["arm"].to_numpy()
            stats = analyze(result.table, config.control, cuped=config.cuped, segments=segments, shares=shares,
                            seed=config.seed, roles=config.roles, levels=config.levels, options=config.analysis,
                            daily=user_day_table(result.logs, ids, arm))
            decision = decide(stats)
        with bar.stage("monitoring day by day"):
            sequential = monitor_result(result, config.roles, config.levels, config.analysis)  # daily looks
    finally:
        if own:
            bar.close()
    n_titles = result.world.catalog.n_titles
    warm = np.bincount(result.warmup.logs.plays["title"].to_numpy(), minlength=n_titles)
    summary = arm_summary(result.table, result.logs.plays, n_titles, popularity=warm, seed=config.seed)
    analysis = {**stats.to_dict(), "decision": decision.to_dict(), "sequential": sequential,
                "sequential_decision": daily_verdicts(sequential),
                "arm_summary": summary.reset_index().rename(columns={"index": "arm"}).to_dict(orient="records")}
    strategic = strategic_records(summary, config.roles.strategic, config.control)
    if strategic:
        analysis["strategic"] = strategic
    return JobOutput(result, analysis, summary, stats, decision)


def _write_results(job: JobOutput, folder: Path, extra: dict[str, str | bytes] | None) -> None:
    write_table(folder / "users.parquet", job.result.table)
    write_text(folder / "config.toml", job.result.config.to_toml())
    write_json(folder / "analysis.json", job.json)
    for name, data in (extra or {}).items():
        if isinstance(data, bytes):
            write_bytes(folder / name, data)
        else:
            write_text(folder / name, data)


def write_outputs(job: JobOutput, out: str | Path | None, json_path: str | Path | None,
                  extra: dict[str, str | bytes] | None = None, *, exist_ok: bool = False) -> Path | None:
    """Write users.parquet, config.toml, analysis.json (+ extra files) into ``out``, whole or not at all."""
    written = None
    work = work_dir(out) if out is not None else None
    if work is not None and work.is_dir():
        # a streamed run: finish its folder (logs already inside), then rename it into place
        _write_results(job, work, extra)
        for phase in work.iterdir():
            if phase.is_dir():
                shutil.rmtree(phase / "state", ignore_errors=True)
        out = Path(out)
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        os.replace(work, out)
        written = out
    elif out is not None:
        with atomic_dir(out, exist_ok=exist_ok) as tmp:
            _write_results(job, tmp, extra)
        written = Path(out)
    if json_path is not None:
        write_json(json_path, job.json)
    return written


def interleaving_analysis(res, *, alpha: float | None = None, primary: str = "clicks") -> dict:
    """The analysis JSON of an interleaving run (:class:`~recsys.experiment.interleave.InterleavingResult`):
    the merged arms, the per-user preference test on each credit
    (:func:`recsys.stats.interleaving.preference_test`; ``primary`` first) and each ranker's totals."""
    from recsys.experiment.interleave import CREDIT_COLUMNS, CREDITS
    from recsys.stats.interleaving import preference_test

    t = res.table
    alpha = res.config.alpha if alpha is None else alpha
    order = [primary] + [c for c in CREDITS if c != primary]
    prefs = [preference_test(t[f"{c}_a"], t[f"{c}_b"], credit=c, alpha=alpha).to_dict() for c in order]
    totals = {side: {c: int(t[f"{c}_{s}"].sum()) for c in CREDIT_COLUMNS}
              for side, s in ((res.first, "a"), (res.second, "b"))}
    for v in totals.values():
        v["ctr"] = v["clicks"] / v["impressions"] if v["impressions"] else None
    return {"kind": "interleaving", "method": "team-draft", "experiment": res.config.name, "first": res.first,
            "second": res.second, "users": int(len(t)), "alpha": alpha, "primary": primary,
            "preferences": prefs, "totals": totals}


def write_interleaving(res, analysis: dict, out: str | Path, json_path: str | Path | None) -> None:
    """users.parquet, config.toml and analysis.json of an interleaving run into ``out``, whole or not at all."""
    with atomic_dir(out) as tmp:
        write_table(tmp / "users.parquet", res.table)
        write_text(tmp / "config.toml", res.config.to_toml())
        write_json(tmp / "analysis.json", analysis)
    if json_path is not None:
        write_json(json_path, analysis)


__all__ = ["JobOutput", "run_job", "write_outputs", "arm_summary", "open_work_dir", "work_dir",
           "interleaving_analysis", "write_interleaving"]
