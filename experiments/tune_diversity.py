"""Sweep the re-ranker's diversity weight per segment and print the recommended weights.

    python experiments/tune_diversity.py --out runs/tune-1 --workers 2
    python experiments/tune_diversity.py --out /tmp/t --users 1500 --days 3 --replicates 1   # a quick look

Reads tune_diversity.toml next to this file; see docs/tune.md for the [tune] table.
"""

import argparse
from pathlib import Path

from recsys.core.parallel import executor
from recsys.report.tune import render_text
from recsys.tune import TuneConfig, sweep
from recsys.report.tune_output import check_outputs, write_outputs

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--config", default=Path(__file__).with_name("tune_diversity.toml"))
ap.add_argument("--users", type=int)
ap.add_argument("--days", type=int)
ap.add_argument("--replicates", type=int)
ap.add_argument("--workers", type=int, default=1)
args = ap.parse_args()

config = TuneConfig.load(args.config)
overrides = {k: v for k, v in vars(args).items() if k in ("users", "days", "replicates") and v is not None}
config = config.replace(**overrides)
check_outputs(args.out)
with executor(args.workers) as ex:
    result = sweep(config, executor=ex, progress=True)
write_outputs(result, args.out)

print(render_text(result))
table = result.table[(result.table["variant"] == result.main_variant) & (result.table["segment"] != "all")]
print(table.pivot_table(index=["segment", "arm"], columns="metric", values="rel_lift").round(4).to_string())
print(f"wrote {args.out}/ (report.html, sweep.parquet, summary.json)")
