"""Tune every model on a validation split and report the tuned test figures, with timings.

Runs :func:`recsys.evaluate.tune.tune_models` (the library behind ``recsys tune-model``) on
MovieLens 100K (``--movielens DIR``, holding ``u.data`` and ``u.item``; never shipped) and/or
the default synthetic world (``--world``), and prints per data set: the search and test
seconds, the chosen parameters, and the test table (NDCG@10 with 95% intervals across users,
each model minus the best, paired t-test), per segment for the world. On the world it then
scores the tuned models on the titles released after a global cut (``new_titles``, the
content cold start). Not a test: run it by hand, e.g.

    nice python benchmarks/tune.py --movielens /tmp/ml-100k --world --trials 20 --workers 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from recsys.core import parallel
from recsys.cli.evaluate import format_table
from recsys.cli.tune_model import format_tuned, tuned_json
from recsys.evaluate import evaluate_models, load_movielens
from recsys.evaluate.tune import tune_models


def _headline(result, baselines=("popularity", "als", "bpr", "itemknn", "rp3beta", "ease")) -> dict:
    """NDCG@10 (all users) of each tuned model, the best simple baseline, and the hybrid against it."""
    t = result.test[result.test.segment == "all"].set_index("model")
    out = {m: {"ndcg": t.at[m, "ndcg"], "ci": [t.at[m, "ndcg_ci_low"], t.at[m, "ndcg_ci_high"]],
               "coverage": t.at[m, "coverage"]} for m in t.index}
    base = [m for m in baselines if m in t.index]
    best = max(base, key=lambda m: t.at[m, "ndcg"])
    out["best_baseline"] = best
    if "popularity" in t.index and "als" in t.index:
        out["als_over_popularity"] = t.at["als", "ndcg"] / t.at["popularity", "ndcg"]
    return out


def run_one(label, interactions, items, args, segments=None) -> dict:
    print(f"\n=== {label}: {interactions['user'].nunique():,} users, {len(interactions):,} interactions", flush=True)
    t0 = time.perf_counter()
    with parallel.executor(args.workers) as ex:
        r = tune_models(interactions, items, None, n_trials=args.trials, seed=args.seed, segments=segments,
                        executor=ex, progress=lambda m: print("  " + m, flush=True))
    total = time.perf_counter() - t0
    print(f"search {r.search_seconds:.1f} s, test {r.test_seconds:.1f} s, total {total:.1f} s "
          f"on {args.workers} worker(s), {args.trials} trials per model")
    print(f"{r.test_users:,} test users, {r.validation_users:,} validation users")
    print(format_tuned(r))
    # the hybrid against the best simple baseline, per user (paired), over every segment
    head = _headline(r)
    best = head["best_baseline"]
    print(f"best tuned simple baseline: {best}")
    table = r.test
    print(format_table(table))
    out = {"seconds": {"search": r.search_seconds, "test": r.test_seconds, "total": total},
           "workers": args.workers, "trials": args.trials, "test_users": r.test_users,
           "validation_users": r.validation_users, "tuned": tuned_json(r), "headline": head,
           "test": table.to_dict("records")}
    return out, r


def hybrid_vs_best(r, interactions, items, segments, best: str, seed: int) -> None:
    """Re-score the tuned hybrid and the best baseline with the best as the paired reference."""
    models = {best: r.models[best], "hybrid": r.models["hybrid"]}
    df = evaluate_models(interactions, items, models, k=10, split=r.split, test_fraction=r.test_fraction, seed=seed,
                         segments=segments, reference=best)
    print(f"hybrid vs {best} (paired, per segment):")
    print(format_table(df[df.model == "hybrid"]))


def new_titles(r, interactions, items, seed: int) -> dict:
    """The tuned models on titles released after a global cut (test_fraction 0.5)."""
    names = [n for n in ("random", "popularity", "als", "itemknn", "ease", "content", "hybrid") if n in r.models]
    df = evaluate_models(interactions, items, {n: r.models[n] for n in names}, k=10, split="temporal",
                         test_fraction=0.5, new_titles=True, seed=seed)
    print("\nnew titles (released after a global cut at test_fraction 0.5; candidates: those titles only):")
    print(format_table(df))
    return df.to_dict("records")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movielens", metavar="DIR", help="MovieLens 100K directory (u.data, u.item)")
    parser.add_argument("--world", action="store_true", help="the default synthetic world (seed --seed)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    out = {}
    if args.movielens:
        inter, items = load_movielens(args.movielens)
        out["movielens-100k"], r = run_one("MovieLens 100K", inter, items, args)
        hybrid_vs_best(r, inter, items, None, out["movielens-100k"]["headline"]["best_baseline"], args.seed)
    if args.world:
        from recsys.experiment.warmup import synthetic_interactions

        t0 = time.perf_counter()
        inter, items = synthetic_interactions(seed=args.seed)
        print(f"world built and warmed up in {time.perf_counter() - t0:.1f} s")
        out["world"], r = run_one("synthetic world", inter, items, args, segments="segment")
        hybrid_vs_best(r, inter, items, "segment", out["world"]["headline"]["best_baseline"], args.seed)
        out["world"]["new_titles"] = new_titles(r, inter, items, args.seed)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, default=lambda o: o.item() if isinstance(o, np.generic) else str(o))


if __name__ == "__main__":
    main()
