"""Time `recsys analyze` end to end on a synthetic 1M-row per-user table.

Builds the table with recsys.stats.synthetic (2 arms, 4 segments, pre_* covariates), writes it
as Parquet to a temporary directory, and runs the command in-process with and without
--segments, printing wall-clock seconds (best of --repeat runs). Not a test: run it by hand.

    python benchmarks/analyze.py [--users 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

from recsys.cli import main
from recsys.stats.synthetic import synthetic_table


def _time(argv: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        sink = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(sink):
            rc = main(argv)
        best = min(best, time.perf_counter() - start)
        if rc != 0:
            raise SystemExit(f"recsys {' '.join(argv)} exited with {rc}")
    return best


def run(users: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "users.parquet"
        start = time.perf_counter()
        df = synthetic_table(users, ("popularity", "hybrid"), seed=1,
                             effects={"hybrid": {"ctr": 1.03, "watch_minutes": 1.02}})
        df.to_parquet(path, index=False)
        print(f"table: {len(df):,} rows x {df.shape[1]} columns, built and written in "
              f"{time.perf_counter() - start:.2f} s ({path.stat().st_size / 1e6:.1f} MB Parquet)")
        base = ["analyze", str(path), "--control", "popularity", "--json", str(Path(tmp) / "out.json")]
        for label, extra in (("analyze (all users)", []), ("analyze --segments", ["--segments"]),
                             ("analyze --no-cuped", ["--no-cuped"])):
            print(f"{label:24s} {_time(base + extra, repeat):6.2f} s  (best of {repeat})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run(args.users, args.repeat)
