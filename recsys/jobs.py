"""End-to-end jobs behind ``recsys ab`` and ``recsys demo``: run, analyse, decide, write.

Everything is computed first and written last, into a temporary directory renamed into place,
so an interrupted job leaves no partial output.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.decision import Roles
from recsys.experiment.config import ExperimentConfig
from recsys.experiment.runner import ExperimentResult, run_experiment
from recsys.io import atomic_dir, write_json, write_table, write_text
from recsys.stats.analysis import analyze


@dataclass
class JobOutput:
    result: ExperimentResult
    analysis: dict
    summary: pd.DataFrame


def arm_summary(table: pd.DataFrame, logs_plays: pd.DataFrame, arm_of: np.ndarray, n_titles: int) -> pd.DataFrame:
    """Descriptive per-arm figures for the terminal and the report (no inference here)."""
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
    # strategic: catalog exposure of plays per arm
    arm_names = table.drop_duplicates("arm").set_index("user_id")["arm"]
    plays = logs_plays.assign(arm=table.set_index("user_id")["arm"].reindex(logs_plays["user_id"]).to_numpy())
    plays = plays[plays["arm"].notna()]
    counts = np.bincount(plays["title"].to_numpy(), minlength=n_titles)
    head = np.argsort(-counts)[: max(1, n_titles // 5)]
    is_head = np.zeros(n_titles, bool)
    is_head[head] = True
    cov = plays.groupby("arm")["title"].nunique() / n_titles
    tail = plays.assign(tail=~is_head[plays["title"].to_numpy()]).groupby("arm")["tail"].mean()
    out["coverage"] = cov.reindex(out.index)
    out["long_tail_share"] = tail.reindex(out.index)
    del arm_names
    return out


def run_job(config: ExperimentConfig, *, executor: Executor | None = None, progress: bool = True,
            segments: bool = True) -> JobOutput:
    """Run ``config`` (shards on ``executor``, see :mod:`recsys.parallel`), analyse it and decide."""
    result = run_experiment(config, executor=executor, progress=progress)
    m = config.metrics
    roles = Roles(primary=m.primary, secondary=tuple(m.secondary), guardrails=dict(m.guardrails), strategic=())
    shares = {a.name: a.share for a in config.arms}
    analysis = analyze(result.table, config.control, alpha=config.alpha, correction=config.correction,
                       cuped=config.cuped, segments=segments, shares=shares, seed=config.seed, roles=roles)
    summary = arm_summary(result.table, result.logs.plays, result.arm, result.world.catalog.n_titles)
    analysis["arm_summary"] = summary.reset_index().rename(columns={"index": "arm"}).to_dict(orient="records")
    return JobOutput(result, analysis, summary)


def write_outputs(job: JobOutput, out: str | Path | None, json_path: str | Path | None,
                  extra: dict[str, str | bytes] | None = None, *, exist_ok: bool = False) -> Path | None:
    """Write users.parquet, config.toml, analysis.json (+ extra files) into ``out``, whole or not at all."""
    written = None
    if out is not None:
        with atomic_dir(out, exist_ok=exist_ok) as tmp:
            job.result.table.to_parquet(tmp / "users.parquet", index=False)
            (tmp / "config.toml").write_text(job.result.config.to_toml())
            write_json(tmp / "analysis.json", job.analysis)
            for name, data in (extra or {}).items():
                if isinstance(data, bytes):
                    (tmp / name).write_bytes(data)
                else:
                    (tmp / name).write_text(data, encoding="utf-8")
        written = Path(out)
    if json_path is not None:
        write_json(json_path, job.analysis)
    return written


__all__ = ["JobOutput", "run_job", "write_outputs", "arm_summary", "write_table", "write_text"]
