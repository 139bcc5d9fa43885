"""How fast the simulator runs and how much memory it takes, by number of users and workers.

Two benchmarks, each size measured in a fresh process (so its peak RSS is its own):

* ``--mode sim`` (the simulator alone): world, a 7-day warm-up, then 14 days of two arms,
  popularity vs random. Reports user-sessions per second and user-days per second of the
  experiment days, and the end-to-end time.
* ``--mode experiment`` (the harness, issue 8's benchmark): ``recsys ab``'s run of the demo's
  experiment (popularity vs the hybrid with diversity and bandit artwork, 28 warm-up days,
  14 days), logs streamed to partitioned Parquet in a scratch folder, per-user table built.

Peak RSS is the driver's, plus the largest worker's when there are workers.

    python benchmarks/simulate.py --mode sim --users 10000 100000
    python benchmarks/simulate.py --mode experiment --users 10000 100000 1000000 --workers 1 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time


def _rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def measure_sim(users: int, days: int, workers: int) -> dict:
    import numpy as np

    from recsys import parallel
    from recsys.policy import PopularityPolicy, RandomPolicy
    from recsys.rng import KeyedRandom
    from recsys.simulate.runner import Simulation
    from recsys.simulate.warmup import warm_up
    from recsys.world.build import build_world
    from recsys.world.config import WorldConfig

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
    own, kids = _rss_mb()
    return {"mode": "sim", "users": users, "days": days, "workers": workers, "world_s": t_world, "warmup_s": t_warm,
            "sim_s": t_sim, "end_to_end_s": t_world + t_warm + t_sim, "sessions": sessions,
            "sessions_per_s": sessions / t_sim, "user_days_per_s": users * days / t_sim,
            "peak_rss_mb": own, "peak_worker_rss_mb": kids}


def measure_experiment(users: int, days: int, workers: int, dask: bool) -> dict:
    from recsys import parallel
    from recsys.cli.demo import default_config
    from recsys.jobs import run_job

    config = default_config().replace(users=users, days=days)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, parallel.executor(workers, dask=dask) as ex:
        job = run_job(config, executor=ex, progress=False, work=__import__("pathlib").Path(tmp))
        sessions = int(job.result.table["sessions"].sum())
    total = time.perf_counter() - t0
    own, kids = _rss_mb()
    return {"mode": "experiment", "users": users, "days": days, "workers": workers, "dask": dask,
            "end_to_end_s": total, "experiment_sessions": sessions,
            "user_days_per_s": users * (days + config.warmup_days) / total,
            "peak_rss_mb": own, "peak_worker_rss_mb": kids}


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
