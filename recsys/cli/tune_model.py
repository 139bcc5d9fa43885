"""``recsys tune-model``: tune each model on a validation split of the training data, then score it on the test.

The tuned models' test figures come with intervals across users and paired tests.
The data and split options are ``recsys evaluate``'s. The validation split is cut from the
training part only; the test part is scored once, by the tuned models (docs/models.md, "Tuning").
"""

from __future__ import annotations

import sys
import time

from recsys.core import parallel
from recsys.cli import positive_int, probability
from recsys.cli.evaluate import TEST_FRACTION, _check_out, _load, format_table, select_models, to_json
from recsys.core.errors import InputError


def add_parser(subparsers, name: str):
    p = subparsers.add_parser(name, help="tune each model on a validation split, report tuned test figures",
                              description=__doc__.splitlines()[0].replace("``recsys tune-model``: ", "").capitalize())
    p.add_argument("--interactions", metavar="PATH", help="ratings/plays file (or MovieLens directory); "
                   "default: the synthetic world's logs")
    p.add_argument("--items", metavar="PATH", help="items file (MovieLens: found beside the ratings)")
    p.add_argument("--users", type=positive_int, help="users in the synthetic world (default 20000; without "
                                                      "--interactions only)")
    p.add_argument("--format", choices=("movielens", "csv"), default="csv",
                   help="movielens (u.data, ratings.dat, ratings.csv) or csv with user,item[,rating][,timestamp] "
                        "(or user_id, item_id) (default)")
    p.add_argument("--threshold", type=float, default=None,
                   help="keep ratings >= this as implicit feedback (MovieLens default 4)")
    p.add_argument("--models", default=None, help="comma-separated subset of: random, popularity, als, bpr, itemknn, "
                   "rp3beta, ease, content, hybrid (default: all)")
    p.add_argument("--trials", type=positive_int, default=20,
                   help="parameter sets tried per model, its defaults among them (default 20)")
    p.add_argument("--k", type=positive_int, default=10, help="list length; the search maximises NDCG@k (default 10)")
    p.add_argument("--split", choices=("user-temporal", "temporal", "random"), default="user-temporal",
                   help="the test split, and the validation split cut the same way from the training part")
    p.add_argument("--test-fraction", type=probability, default=TEST_FRACTION,
                   help=f"share held out for the test (default {TEST_FRACTION})")
    p.add_argument("--validation-fraction", type=probability, default=None,
                   help="share of the training part held out for validation (default: the test fraction)")
    p.add_argument("--reference", metavar="MODEL", default=None,
                   help="the model every other is compared with on the test (default: the best by NDCG)")
    p.add_argument("--segment-column", default=None, help="a column of the interactions to break the test "
                   "results down by (the synthetic world: its engagement segments)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=positive_int, default=1, help="worker processes for the trials (default 1)")
    p.add_argument("--json", metavar="PATH", help="write the chosen parameters and test results as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress messages")
    p.set_defaults(run=run)
    return p


def tuned_json(result) -> dict:
    """The search: per model its chosen parameters, validation NDCG, trials and seconds, and
    every trial as ``{"params", "validation_ndcg"}`` in the order tried."""
    return {name: {"params": t.params, "validation_ndcg": t.validation_ndcg, "trials": len(t.trials),
                   "seconds": round(t.seconds, 3),
                   "history": [{"params": p, "validation_ndcg": v} for p, v in t.trials]}
            for name, t in result.tuned.items()}


def format_tuned(result) -> str:
    lines = []
    for name, t in result.tuned.items():
        params = ", ".join(f"{k}={_short(v)}" for k, v in t.params.items() if k != "cf_params")
        for cf, cp in t.params.get("cf_params", {}).items():
            params += f"; {cf}: " + ", ".join(f"{k}={_short(v)}" for k, v in cp.items())
        lines.append(f"  {name:<10} validation ndcg {t.validation_ndcg:.4f} over {len(t.trials)} trials: {params}")
    return "\n".join(lines)


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def run(args) -> int:
    from recsys.evaluate.offline import default_models, describe_split
    from recsys.evaluate.tune import tune_models
    from recsys.core.io import write_json

    _check_out(args.json)
    if args.test_fraction in (0.0, 1.0) or args.validation_fraction in (0.0, 1.0):
        raise InputError("--test-fraction and --validation-fraction must be strictly between 0 and 1")
    t0 = time.perf_counter()
    interactions, items = _load(args)
    known = {**default_models(args.seed, with_content=items is not None)}
    names = list(select_models(known, args.models))
    if args.reference is not None and args.reference not in names:
        raise InputError(f"--reference {args.reference!r} is not among the models tuned ({', '.join(names)})")
    segments = args.segment_column
    if segments is None and args.interactions is None and "segment" in interactions:
        segments = "segment"
    say = None if args.no_progress else (lambda msg: print(msg, file=sys.stderr, flush=True))
    with parallel.executor(args.workers) as ex:
        result = tune_models(interactions, items, names, n_trials=args.trials, k=args.k, split=args.split,
                             test_fraction=args.test_fraction, validation_fraction=args.validation_fraction,
                             seed=args.seed, segments=segments, executor=ex, reference=args.reference, progress=say)
    source = args.interactions or "synthetic world"
    n_users = int(interactions["user"].nunique())
    described = describe_split(args.split, args.test_fraction)
    out = to_json(result.test, args.k, args.split, str(source), test_fraction=args.test_fraction,
                  split_description=described, users_total=n_users)
    out["tuning"] = {"validation_fraction": result.validation_fraction, "validation_users": result.validation_users,
                     "trials_per_model": args.trials, "search": "sklearn ParameterSampler after the defaults",
                     "metric": f"ndcg@{args.k}", "seed": args.seed, "workers": args.workers,
                     "search_seconds": round(result.search_seconds, 2), "test_seconds": round(result.test_seconds, 2)}
    out["tuned"] = tuned_json(result)
    if args.json:
        write_json(args.json, out)
    print(f"k={args.k}, split={args.split}, test_fraction={args.test_fraction}, data={source}")
    print(f"split: {described}; {result.test_users:,} of {n_users:,} users evaluated; validation: the same split "
          f"of the training part ({result.validation_users:,} users), {args.trials} trials per model")
    print("chosen parameters (validation NDCG@%d):" % args.k)
    print(format_tuned(result))
    print("test figures of the tuned models:")
    print(format_table(result.test))
    print(f"search {result.search_seconds:.1f} s, test {result.test_seconds:.1f} s, "
          f"total {time.perf_counter() - t0:.1f} s on {args.workers} worker(s)")
    return 0
