"""Run a segment A/B comparison from an experiment file and read it per segment.

    python experiments/segment_ab.py experiments/hybrid_vs_popularity.toml --out results
    python experiments/segment_ab.py experiments/new_users_only.toml --users 5000 --days 7 --out results

The same as `recsys ab`, in the library's own terms: load and validate the file, run it, analyse
per segment, decide, and keep the per-user table for your own analysis.
"""

import argparse

import pandas as pd

from recsys.core import parallel
from recsys.experiment.config import ExperimentConfig
from recsys.jobs import run_job, write_outputs

ap = argparse.ArgumentParser()
ap.add_argument("config")
ap.add_argument("--out", required=True)
ap.add_argument("--users", type=int)
ap.add_argument("--days", type=int)
ap.add_argument("--workers", type=int, default=1)
args = ap.parse_args()

config = ExperimentConfig.load(args.config)
overrides = {k: v for k, v in (("users", args.users), ("days", args.days)) if v is not None}
config = config.replace(**overrides) if overrides else config

with parallel.executor(args.workers) as executor:
    job = run_job(config, executor=executor, progress=False)
results = pd.DataFrame(job.json["results"])
cols = ["metric", "segment", "arm", "control", "treatment", "rel_lift", "rel_ci_low", "rel_ci_high", "p_adjusted"]
primary = job.json["decision"]["roles"]["primary"]
print(results.loc[results["metric"] == primary, cols].round(4).to_string(index=False))
print("verdict:", job.json["decision"]["verdict"])
write_outputs(job, args.out, None)
print(f"wrote {args.out}/users.parquet, config.toml, analysis.json")
