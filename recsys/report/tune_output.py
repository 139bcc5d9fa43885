"""The sweep's output directory, written whole or not at all.

``OUT/sweep.parquet`` and ``OUT/sweep.csv`` (the tidy table: one row per variant, arm, segment
and metric), ``OUT/replicates.parquet`` / ``.csv`` (one row per replicate as well),
``OUT/summary.json``, ``OUT/config.toml`` (the sweep as run), ``OUT/{frontier,lifts,exposure}.png``
and ``OUT/report.html`` (self-contained).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from recsys.core.errors import InputError
from recsys.report.tune import render_charts, render_tune_report
from recsys.core.io import atomic_dir, check_writable, prepare_out_dir, write_json


def check_outputs(out: str | os.PathLike, json_path: str | os.PathLike | None = None) -> Path:
    """Refuse an existing or unwritable ``out`` and a ``json_path`` with no writable directory,
    before any work starts."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise InputError(f"--out {out} already exists (choose a new directory)")
    prepare_out_dir(out)
    if json_path is not None:
        check_writable(json_path)
    return out


def write_outputs(result, out: str | os.PathLike, json_path: str | os.PathLike | None = None) -> Path:
    """Render and write everything for ``result`` (a SweepResult) into the new directory ``out``."""
    charts = render_charts(result)
    page = render_tune_report(result, charts)
    with atomic_dir(out) as tmp:
        result.table.to_parquet(tmp / "sweep.parquet", index=False)
        result.table.to_csv(tmp / "sweep.csv", index=False)
        result.replicates.to_parquet(tmp / "replicates.parquet", index=False)
        result.replicates.to_csv(tmp / "replicates.csv", index=False)
        write_json(tmp / "summary.json", result.summary)
        (tmp / "config.toml").write_text(result.config.to_toml(), encoding="utf-8")
        for name, uri in charts.items():
            (tmp / f"{name}.png").write_bytes(base64.b64decode(uri.split(",", 1)[1]))
        (tmp / "report.html").write_text(page, encoding="utf-8")
    if json_path is not None:
        write_json(json_path, result.summary)
    return Path(out)
