"""``recsys evaluate``: offline metrics of every model on a hold-out split.

Data: ``--interactions PATH`` (MovieLens or CSV, ``--format``), or without it the synthetic
world's warm-up logs. The default split holds out each user's latest 20% of interactions, so
every user with two or more counts. Prints a table with intervals across users and a paired
test of each model against the best; ``--json PATH`` writes docs/contracts.md section 6's JSON (plus
the intervals). ``--new-titles`` evaluates on the titles released after a global training cut
only (the new-title cold start, docs/models.md "New titles offline").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recsys.cli import positive_int, probability
from recsys.core.errors import InputError
from recsys.core.format import pvalue
from recsys.core.io import check_writable

TEST_FRACTION = 0.2
#: the new-title hold-out's default: about the last two weeks of the world's four-week warm-up,
#: so titles released after the cut have had time to be shown and played (docs/models.md)
NEW_TITLES_TEST_FRACTION = 0.5
#: below this share of users evaluated, a temporal split gets a note suggesting --split random
FEW_EVALUATED = 0.25


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help="offline metrics of every model on a held-out split",
                              description=__doc__.splitlines()[0])
    p.add_argument("--interactions", metavar="PATH", help="ratings/plays file (or MovieLens directory); "
                   "default: the synthetic world's logs")
    p.add_argument("--items", metavar="PATH", help="items file (MovieLens: found beside the ratings)")
    p.add_argument("--users", type=positive_int, help="users in the synthetic world (default 20000; without "
                                                      "--interactions only)")
    p.add_argument("--format", choices=("movielens", "csv"), default="csv",
                   help="movielens (u.data, ratings.dat, ratings.csv) or csv with user,item[,rating][,timestamp] (default)")
    p.add_argument("--threshold", type=float, default=None,
                   help="keep ratings >= this as implicit feedback (MovieLens default 4)")
    p.add_argument("--k", type=positive_int, default=10, help="list length (default 10)")
    p.add_argument("--split", choices=("user-temporal", "temporal", "random"), default=None,
                   help="user-temporal: each user's latest interactions held out (default); temporal: one global "
                        "cut in time (the default with --new-titles); random: a random share of each user's")
    p.add_argument("--test-fraction", type=probability, default=None,
                   help=f"share held out (default {TEST_FRACTION}; {NEW_TITLES_TEST_FRACTION} with --new-titles)")
    p.add_argument("--new-titles", action="store_true",
                   help="only titles released after the training cut (release_day in the items) are test targets "
                        "and candidates; needs --split temporal")
    p.add_argument("--models", default=None, help="comma-separated subset of: random, popularity, als, bpr, itemknn, "
                   "rp3beta, ease, content, hybrid")
    p.add_argument("--model", metavar="[NAME=]package.module:Class", action="append", default=[],
                   help="also evaluate your own scorer (a class with fit(X, items) and score(users, X)); "
                        "repeatable; the current directory is on the import path")
    p.add_argument("--reference", metavar="MODEL", default=None,
                   help="the model every other is compared with, per user (default: the best by NDCG)")
    p.add_argument("--segment-column", default=None, help="a column of the interactions to break results down by "
                   "(the synthetic world: its engagement segments)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
    return p


def _check_out(path: str | None) -> None:
    """--json can be written (its missing folders are created when it is, as --out's are)."""
    if path is not None:
        check_writable(path)


def _load(args):
    from recsys.evaluate.loaders import load

    users = getattr(args, "users", None)
    if args.interactions is None:
        from recsys.experiment.warmup import synthetic_interactions
        from recsys.world.config import WorldConfig

        return synthetic_interactions(WorldConfig(users=users) if users else None, seed=args.seed)
    if users is not None:
        raise InputError("--users sets the synthetic world's size; it does not apply to --interactions")
    if args.items is not None and not Path(args.items).is_file():
        raise InputError(f"items file not found: {args.items}")
    return load(args.format, args.interactions, args.items, threshold=args.threshold)


def format_table(df) -> str:
    """The results as text: means, NDCG's 95% interval, and NDCG minus the reference's per user
    (interval and paired t-test p-value)."""
    cols = ["model", "segment", "users", "precision", "recall", "ndcg", "map", "coverage", "ild", "novelty",
            "longtail", "fit_seconds"]
    out = df[cols].copy()
    for c in cols[3:]:
        out[c] = out[c].map(lambda v: "nan" if v != v else f"{v:.4f}" if c != "fit_seconds" else f"{v:.2f}")
    if "ndcg_ci_low" in df:
        out.insert(6, "ndcg 95% CI", [f"[{lo:.4f}, {hi:.4f}]" for lo, hi in zip(df["ndcg_ci_low"], df["ndcg_ci_high"])])
        out["ndcg - ref [95% CI]"] = [
            "(reference)" if m == r else f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
            for m, r, d, lo, hi in zip(df["model"], df["reference"], df["ndcg_diff"], df["ndcg_diff_ci_low"],
                                       df["ndcg_diff_ci_high"])]
        out["p"] = ["" if m == r else pvalue(p) for m, r, p in zip(df["model"], df["reference"], df["ndcg_p_value"])]
    return out.rename(columns={"fit_seconds": "fit_s"}).to_string(index=False)


def to_json(df, k: int, split: str, source: str, *, new_titles: bool = False,
            test_fraction: float | None = None, split_description: str | None = None,
            users_total: int | None = None, confidence: float = 0.95) -> dict:
    """Contracts section 6's JSON; added beside its keys: per model ``intervals`` (each accuracy
    metric's t-interval across users) and ``paired`` (NDCG minus the reference model's, per user:
    mean, interval, paired t-test p-value); at the top ``reference``, ``users_evaluated``,
    ``users_total``, ``split_description`` and ``confidence``."""
    from recsys.evaluate.offline import ACCURACY, METRICS

    def block(rows):
        out = {}
        for r in rows.to_dict("records"):
            b = {**{m: r[m] for m in METRICS}, "users": int(r["users"]), "fit_seconds": r["fit_seconds"]}
            if "ndcg_ci_low" in r:
                b["intervals"] = {m: [r[f"{m}_ci_low"], r[f"{m}_ci_high"]] for m in ACCURACY}
                b["paired"] = {"reference": r["reference"], "metric": "ndcg", "diff": r["ndcg_diff"],
                               "ci_low": r["ndcg_diff_ci_low"], "ci_high": r["ndcg_diff_ci_high"],
                               "p_value": r["ndcg_p_value"], "test": "paired t"}
            out[r["model"]] = b
        return out

    whole = df[df["segment"] == "all"]
    out = {"k": k, "split": split, "data": source, "models": block(whole)}
    if "reference" in df and len(whole):
        out["reference"] = str(whole["reference"].iloc[0])
    out["users_evaluated"] = int(whole["users"].max()) if len(whole) else 0
    if users_total is not None:
        out["users_total"] = users_total
    if split_description is not None:
        out["split_description"] = split_description
    out["confidence"] = confidence
    if test_fraction is not None:
        out["test_fraction"] = test_fraction
    if new_titles:
        out["new_titles"] = True
    segs = [s for s in df["segment"].unique() if s != "all"]
    if segs:
        out["segments"] = {s: block(df[df["segment"] == s]) for s in segs}
    return out


def split_of(args) -> str:
    """The split asked for: ``--split``, else per-user temporal (global temporal with --new-titles)."""
    if args.split is not None:
        return args.split
    return "temporal" if getattr(args, "new_titles", False) else "user-temporal"


def select_models(models: dict, wanted: str | None) -> dict:
    """The ``--models`` subset of ``models`` (InputError naming an unknown one)."""
    if not wanted:
        return models
    names = [m.strip() for m in wanted.split(",") if m.strip()]
    unknown = [m for m in names if m not in models]
    if unknown:
        raise InputError(f"unknown model {unknown[0]!r} (known here: {', '.join(models)})")
    return {m: models[m] for m in names}


def plugin_models(specs: list[str]) -> dict:
    """``--model [NAME=]package.module:Class`` -> {name: plugin scorer}, each checked before any work."""
    from recsys.policies.plugins import plugin_scorer

    out = {}
    for text in specs:
        name, sep, spec = text.partition("=")
        if not sep:
            name, spec = text.rpartition(":")[2], text
        if ":" not in spec or not name:
            raise InputError(f"--model {text!r}: expected [NAME=]package.module:Class")
        if name in out:
            raise InputError(f"--model {text!r}: the name {name!r} is given twice")
        out[name] = plugin_scorer(spec)
    return out


def run(args) -> int:
    from recsys.evaluate.offline import default_models, describe_split, evaluate_models
    from recsys.core.io import write_json

    _check_out(args.json)
    args.split = split_of(args)
    if args.new_titles and args.split != "temporal":
        raise InputError("--new-titles needs --split temporal (titles released after the training cut)")
    test_fraction = args.test_fraction
    if test_fraction is None:
        test_fraction = NEW_TITLES_TEST_FRACTION if args.new_titles else TEST_FRACTION
    interactions, items = _load(args)
    if args.new_titles and (items is None or "release_day" not in items):
        raise InputError("--new-titles needs release_day in the items (an --items file with a release_day column)")
    models = {**select_models(default_models(args.seed, with_content=items is not None), args.models),
              **plugin_models(args.model)}
    if args.reference is not None and args.reference not in models:
        raise InputError(f"--reference {args.reference!r} is not among the models evaluated ({', '.join(models)})")
    segments = args.segment_column
    if segments is None and args.interactions is None and "segment" in interactions:
        segments = "segment"  # the synthetic world's engagement segments
    result = evaluate_models(interactions, items, models, k=args.k, split=args.split,
                             test_fraction=test_fraction, segments=segments, seed=args.seed,
                             new_titles=args.new_titles, progress=not args.no_progress, reference=args.reference)
    source = args.interactions or "synthetic world"
    n_users = int(interactions["user"].nunique()) if "user" in interactions else 0
    evaluated = int(result.loc[result["segment"] == "all", "users"].max()) if len(result) else 0
    described = describe_split(args.split, test_fraction)
    if args.json:
        write_json(args.json, to_json(result, args.k, args.split, str(source), new_titles=args.new_titles,
                                      test_fraction=test_fraction, split_description=described, users_total=n_users))
    print(f"k={args.k}, split={args.split}, test_fraction={test_fraction}, data={source}"
          + (", candidates=titles released after the cut" if args.new_titles else ""))
    print(f"split: {described}; {evaluated:,} of {n_users:,} users evaluated")
    print(format_table(result))
    print("ndcg 95% CI: t-interval of the mean across users; ndcg - ref: the per-user difference from the "
          "reference model, its 95% interval and the paired t-test's p-value")
    if args.split == "temporal" and not args.new_titles and n_users and evaluated < FEW_EVALUATED * n_users:
        print(f"note: only {evaluated} of {n_users} users have interactions on both sides of the temporal cut; "
              "the default --split user-temporal (or --split random) holds out part of every user's history", file=sys.stderr)
    return 0
