"""Train every model and evaluate it offline in a few lines, then sweep the diversity weight.

    python experiments/train_and_evaluate.py                      # the synthetic world's warm-up plays
    python experiments/train_and_evaluate.py --movielens ~/ml-100k  # MovieLens from your own copy
    python experiments/train_and_evaluate.py --planted             # the planted-structure data set
"""

import argparse

import pandas as pd

from recsys.evaluate import evaluate_models, load_movielens, planted_dataset
from recsys.models import Hybrid
from recsys.policies.pipeline import Pipeline
from recsys.policies.rerank import Diversity

ap = argparse.ArgumentParser()
ap.add_argument("--movielens", help="a MovieLens directory or ratings file (never downloaded)")
ap.add_argument("--planted", action="store_true")
ap.add_argument("--seed", type=int, default=0)
args = ap.parse_args()

if args.movielens:
    interactions, items = load_movielens(args.movielens, threshold=4)
elif args.planted:
    interactions, items = planted_dataset(3000, 600, seed=args.seed)
else:
    from recsys.experiment.warmup import synthetic_interactions

    interactions, items = synthetic_interactions(seed=args.seed)

segments = "segment" if "segment" in interactions else None
pd.set_option("display.width", 160)
results = evaluate_models(interactions, items, k=10, split="temporal", segments=segments, seed=args.seed, progress=True)
print(results.round(4).to_string(index=False))

# the accuracy / diversity trade-off of the hybrid's MMR re-ranker
sweep = {f"hybrid + mmr {w}": Pipeline(Hybrid(random_state=args.seed), (Diversity(w),)) for w in (0.0, 0.3, 1.0, 3.0)}
trade = evaluate_models(interactions, items, sweep, k=10, split="temporal", seed=args.seed)
print(trade[["model", "ndcg", "ild", "coverage", "novelty", "longtail"]].round(4).to_string(index=False))
