"""How fast the simulator runs and how much memory it takes, by number of users and workers.

Two benchmarks, each size measured in a fresh process (so its peak RSS is its own):

* ``--mode sim`` (the simulator alone): world, a 7-day warm-up, then 14 days of two arms,
  popularity vs random. Reports user-sessions per second and user-days per second of the
  experiment days, and the end-to-end time.
* ``--mode experiment`` (the harness, issue 8's benchmark): ``recsys ab``'s run of the demo's
  experiment (popularity vs the hybrid with diversity and bandit artwork, 28 warm-up days,
  14 days), logs streamed to partitioned Parquet in a scratch folder, per-user table built.

Peak RSS: the driver's, and all processes' together (driver, pool server and workers), sampled
from /proc every 0.2 s.

    python benchmarks/simulate.py --mode sim --users 10000 100000
    python benchmarks/simulate.py --mode experiment --users 10000 100000 1000000 --workers 1 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time


def _tree_rss_mb() -> tuple[float, float]:
    """RSS of this process and of this process plus all its descendants (worker pools fork
    from a server process, so ``RUSAGE_CHILDREN`` would miss them), from /proc."""
    parent, rss = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            parent[int(d)] = int(fields[1])
            rss[int(d)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, IndexError, ValueError):
            continue
    me = os.getpid()
    tree, frontier = {me}, [me]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier and p not in tree]
        tree.update(kids)
        frontier = kids
    return rss.get(me, 0.0), sum(rss.get(p, 0.0) for p in tree)


class PeakRSS:
    """Peak RSS of the driver and of all processes together, sampled every 0.2 s in a thread."""

    def __init__(self):
        self.driver = self.total = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.2):
            own, total = _tree_rss_mb()
            self.driver, self.total = max(self.driver, own), max(self.total, total)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.driver = max(self.driver, own)
        self.total = max(self.total, self.driver)


def measure_sim(users: int, days: int, workers: int) -> dict:
    import numpy as np

    from recsys.core import parallel
    from recsys.policies.reference import PopularityPolicy, RandomPolicy
    from recsys.core.rng import KeyedRandom
    from recsys.simulate.runner import Simulation
    from recsys.experiment.warmup import warm_up
    from recsys.world.build import build_world
    from recsys.world.config import WorldConfig

    with PeakRSS() as peak:
        t0 = time.perf_counter()
        world = build_world(dataclasses.replace(WorldConfig(), users=users), seed=1)
        t_world = time.perf_counter() - t0
        with parallel.executor(workers) as ex:
            sim = Simulation(world, 1, executor=ex)
            t0 = time.perf_counter()
            warm = warm_up(sim, 7)
            t_warm = time.perf_counter() - t0
            policies = [PopularityPolicy(), RandomPolicy()]
            for p in policies:
                p.fit(warm.logs.observed(), world.catalog, day=0, n_users=users)
            sim.set_arms((np.arange(users) % 2).astype(np.int8))
            rands = [KeyedRandom.from_seed(1, "policy", name) for name in ("popularity", "random")]
            t0 = time.perf_counter()
            logs = sim.run(policies, range(days), rands, keep_impressions=False)
            t_sim = time.perf_counter() - t0
            sim.close()
        sessions = len(logs.sessions)
    return {"mode": "sim", "users": users, "days": days, "workers": workers, "world_s": t_world, "warmup_s": t_warm,
            "sim_s": t_sim, "end_to_end_s": t_world + t_warm + t_sim, "sessions": sessions,
            "sessions_per_s": sessions / t_sim, "user_days_per_s": users * days / t_sim,
            "peak_rss_mb": peak.driver, "peak_rss_all_mb": peak.total}


def measure_experiment(users: int, days: int, workers: int, dask: bool) -> dict:
    from recsys.core import parallel
    from recsys.cli.demo import default_config
    from recsys.jobs import run_job

    config = default_config().replace(users=users, days=days)
    t0 = time.perf_counter()
    with PeakRSS() as peak, tempfile.TemporaryDirectory() as tmp, parallel.executor(workers, dask=dask) as ex:
        job = run_job(config, executor=ex, progress=False, work=__import__("pathlib").Path(tmp))
        sessions = int(job.result.table["sessions"].sum())
    total = time.perf_counter() - t0
    return {"mode": "experiment", "users": users, "days": days, "workers": workers, "dask": dask,
            "end_to_end_s": total, "experiment_sessions": sessions,
            "user_days_per_s": users * (days + config.warmup_days) / total,
            "peak_rss_mb": peak.driver, "peak_rss_all_mb": peak.total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("sim", "experiment"), default="sim")
    ap.add_argument("--users", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--workers", type=int, nargs="+", default=[1])
    ap.add_argument("--dask", action="store_true", help="workers as a dask LocalCluster")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child process: one measurement
    args = ap.parse_args()
    if args.one:
        n, w = args.users[0], args.workers[0]
        res = measure_sim(n, args.days, w) if args.mode == "sim" else measure_experiment(n, args.days, w, args.dask)
        print(json.dumps(res))
        return
    rows = []
    for n in args.users:
        for w in args.workers:
            cmd = [sys.executable, __file__, "--one", "--mode", args.mode, "--users", str(n), "--days", str(args.days),
                   "--workers", str(w)] + (["--dask"] if args.dask else [])
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            row = json.loads(out)
            rows.append(row)
            print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    base = {r["users"]: r for r in rows if r["workers"] == 1}
    for r in rows:
        if r["workers"] > 1 and r["users"] in base:
            print(f"users {r['users']}: {r['workers']} workers are "
                  f"{base[r['users']]['end_to_end_s'] / r['end_to_end_s']:.2f}x one worker (end to end)")


if __name__ == "__main__":
    main()
