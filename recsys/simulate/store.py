"""A run's logs and checkpoints on disk: partitioned Parquet written by the workers themselves.

Layout under the store's root (one folder per phase, e.g. ``warmup`` and ``experiment``)::

    PHASE/logs/KIND/day=D/shard=S.parquet    KIND in impressions, plays, sessions
    PHASE/state/day=D/shard=S.npz            the shard's dynamic state at the end of day D

Each shard-day is written by the task that simulated it, every file atomically (temporary
name, then rename), logs before state: a state file therefore proves its logs are complete.
Only the two most recent days of state are kept. An interrupted run can be resumed: completed
days are replayed from their logs (so the policies learn exactly what they learnt before), the
latest states are loaded, and only the missing shards are simulated.

State files are numpy archives read with ``allow_pickle=False``: nothing here unpickles.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.core.logs import IMPRESSION_SCHEMA, PLAY_SCHEMA, SESSION_SCHEMA, Logs, empty_frame, frame

KINDS = {"impressions": IMPRESSION_SCHEMA, "plays": PLAY_SCHEMA, "sessions": SESSION_SCHEMA}
_DAY = re.compile(r"^day=(-?\d+)$")
_SHARD = re.compile(r"^shard=(\d+)\.(npz|parquet)$")


def _replace(tmp: Path, path: Path) -> None:
    os.replace(tmp, path)


@dataclass(frozen=True)
class RunStore:
    """Where one phase of a run keeps its logs and shard states (picklable: workers get a copy)."""

    root: Path
    impressions: bool = True   # write the impression log (always written when a policy learns from it)

    def phase(self, name: str, *, impressions: bool | None = None) -> "RunStore":
        return RunStore(Path(self.root) / name, self.impressions if impressions is None else impressions)

    # -- written by workers -------------------------------------------------------------------
    def write_logs(self, day: int, shard: int, columns: dict[str, dict[str, np.ndarray] | None]) -> None:
        for kind, cols in columns.items():
            if cols is None:
                continue
            schema = KINDS[kind]
            # straight from the arrays to Arrow, in the schema's order and dtypes (no DataFrame)
            table = pa.table({c: np.asarray(cols[c]).astype(t, copy=False) if cols else np.empty(0, dtype=t)
                              for c, t in schema.items()})
            path = self._log_path(kind, day, shard)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            # no dictionary encoding: 3x faster to write (a shard-day's impressions: 89 -> 27 ms)
            # for 20% larger files; these columns are mostly ids and floats of high cardinality
            pq.write_table(table, tmp, use_dictionary=False)
            _replace(tmp, path)

    def write_state(self, day: int, shard: int, arrays: dict[str, np.ndarray]) -> None:
        path = self._state_path(day, shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        _replace(tmp, path)

    # -- read by the driver -------------------------------------------------------------------
    def done_shards(self, day: int) -> set[int]:
        folder = Path(self.root) / "state" / f"day={day}"
        if not folder.is_dir():
            return set()
        return {int(m.group(1)) for m in (_SHARD.match(p.name) for p in folder.iterdir()) if m}

    def state_days(self) -> list[int]:
        folder = Path(self.root) / "state"
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for m in (_DAY.match(p.name) for p in folder.iterdir()) if m)

    def read_state(self, day: int, shard: int) -> dict[str, np.ndarray]:
        with np.load(self._state_path(day, shard), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def read_logs(self, day: int, shards: list[int], kinds: tuple[str, ...]) -> dict[str, pd.DataFrame]:
        out = {}
        for kind in kinds:
            parts = [pq.read_table(self._log_path(kind, day, s)).to_pandas() for s in shards
                     if self._log_path(kind, day, s).exists()]
            df = pd.concat(parts, ignore_index=True) if parts else empty_frame(KINDS[kind])
            out[kind] = frame(KINDS[kind], {c: df[c].to_numpy() for c in KINDS[kind]})
        return out

    def forget_states_before(self, day: int) -> None:
        for d in self.state_days():
            if d < day:
                shutil.rmtree(Path(self.root) / "state" / f"day={d}", ignore_errors=True)

    def drop_states(self) -> None:
        shutil.rmtree(Path(self.root) / "state", ignore_errors=True)

    def _log_path(self, kind: str, day: int, shard: int) -> Path:
        return Path(self.root) / "logs" / kind / f"day={day}" / f"shard={shard:05d}.parquet"

    def _state_path(self, day: int, shard: int) -> Path:
        return Path(self.root) / "state" / f"day={day}" / f"shard={shard:05d}.npz"


def logs_from_frames(frames: dict[str, pd.DataFrame], with_impressions: bool) -> Logs:
    return Logs(plays=frames["plays"], sessions=frames["sessions"],
                impressions=frames.get("impressions") if with_impressions else None)
