"""Recommendation throughput and latency: implicit's batch ``recommend`` vs our homepage.

On one synthetic matrix (default 100k users x 20k titles, plays drawn by genre taste and Zipf
popularity over a generated catalogue), in one run:

* fit times of ALS (64 factors, 15 iterations) and BPR (64 factors, 100 iterations) in implicit;
* implicit's own ``AlternatingLeastSquares.recommend`` for every user at once (N=100, filtering
  already watched titles): users per second (median of ``--repeat`` passes, alternating with ours);
* our hybrid (the same ALS + content + popularity) with MMR diversity (weight 0.3) building a
  full homepage (5 rows x 8 named rows, de-duplicated, with artwork) for every user in batches
  of ``--batch``: users (pages) per second, and the ratio to implicit's (target >= 0.7);
* latency of one user's full homepage (a batch of one), p50 and p99 over ``--latency-users``.

Run: ``python benchmarks/recommend.py [--users 100000 --titles 20000] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.models import ALS, BPR, Content, Hybrid
from recsys.models._threads import n_threads, single_threaded_blas
from recsys.models.data import interaction_matrix
from recsys.core.page import Layout, UserContext
from recsys.policies import Pipeline, RecommenderPolicy
from recsys.policies.rerank import Diversity
from recsys.core.rng import KeyedRandom, generator
from recsys.policies.rows import RowBuilder
from recsys.core.logs import PLAY_SCHEMA, Logs, frame
from recsys.world.catalog import make_catalog
from recsys.world.config import WorldConfig

HISTORY = 10


def synthetic_plays(catalog, n_users: int, mean_plays: float, seed: int) -> pd.DataFrame:
    """Plays by genre taste (80% from a favourite genre) and Zipf popularity, over 28 days."""
    rng = generator(seed, "bench-plays")
    T = catalog.n_titles
    G = catalog.genres.toarray() > 0
    old = catalog.release_day < 0
    pop = (1.0 + rng.permutation(T)) ** -0.9 * old
    per_genre = G.T * pop[None, :]
    ok = per_genre.sum(1) > 0
    cdf = np.cumsum(per_genre[ok] / per_genre[ok].sum(1, keepdims=True), axis=1)
    genres = np.flatnonzero(ok)
    fav = rng.choice(len(genres), n_users, p=per_genre[ok].sum(1) / per_genre[ok].sum())
    n = np.maximum(1, rng.poisson(mean_plays, n_users))
    users = np.repeat(np.arange(n_users), n)
    u = rng.random(len(users))
    own = rng.random(len(users)) < 0.8
    titles = np.minimum(np.searchsorted(np.cumsum(pop / pop.sum()), u), T - 1)
    order = np.argsort(fav[users], kind="stable")
    bounds = np.searchsorted(fav[users][order], np.arange(len(genres) + 1))
    for g in range(len(genres)):  # one search per genre, not per user
        idx = order[bounds[g]:bounds[g + 1]]
        idx = idx[own[idx]]
        titles[idx] = np.minimum(np.searchsorted(cdf[g], u[idx]), T - 1)
    m = len(users)
    return frame(PLAY_SCHEMA, dict(
        user_id=users, day=rng.integers(-28, 0, m), session=np.zeros(m), title=titles, artwork=np.zeros(m),
        source=np.zeros(m), minutes=catalog.runtime[titles] * rng.uniform(0.1, 1.0, m),
        completed=np.zeros(m, bool), abandoned_early=np.zeros(m, bool), episodes=np.ones(m), p_abandon=np.zeros(m)))


def contexts(plays: pd.DataFrame, catalog, n_users: int, day: int = 0) -> UserContext:
    """Every user's observable context: last plays (most recent first) and genre profile."""
    p = plays.sort_values(["user_id", "day"], ascending=[True, False], kind="stable")
    r = p.groupby("user_id").cumcount().to_numpy()
    keep = r < HISTORY
    uid, t = p["user_id"].to_numpy()[keep], p["title"].to_numpy()[keep]
    recent = np.full((n_users, HISTORY), -1, np.int32)
    recent[uid, r[keep]] = t
    R = sp.csr_matrix((np.ones(len(uid), np.float32), (uid, t)), shape=(n_users, catalog.n_titles))
    prof = np.asarray((R @ catalog.genres).todense(), dtype=np.float32)
    z = np.zeros(n_users, np.int32)
    counts = np.bincount(plays["user_id"].to_numpy(), minlength=n_users).astype(np.int32)
    return UserContext(day, np.arange(n_users, dtype=np.int64), recent, prof, counts, z, z - 60)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--titles", type=int, default=20_000)
    ap.add_argument("--plays", type=float, default=30.0, help="mean plays per user")
    ap.add_argument("--batch", type=int, default=10_000, help="users per pages() call")
    ap.add_argument("--latency-users", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3, help="passes of each throughput measure (median reported)")
    ap.add_argument("--diversity", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=0, help="threads for implicit and our pages (0: all cores)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    threads = n_threads(args.threads)
    U, T = args.users, args.titles

    cfg = WorldConfig(users=U, titles=T, cast=max(T // 10, 100))
    (catalog, _), t_cat = timed(lambda: make_catalog(cfg, args.seed))
    plays, t_plays = timed(lambda: synthetic_plays(catalog, U, args.plays, args.seed))
    X = interaction_matrix(plays, U, T, runtime=catalog.runtime)
    print(f"data: {U} users x {T} titles, {X.nnz} user-title pairs ({len(plays)} plays); "
          f"generated in {t_cat + t_plays:.1f} s; {threads} threads")

    als, t_als = timed(lambda: ALS(factors=64, iterations=15, regularization=1.0, alpha=20.0,
                                   num_threads=threads, random_state=0).fit(X))
    print(f"fit ALS (64 factors, 15 iterations): {t_als:.1f} s")
    _, t_bpr = timed(lambda: BPR(factors=64, iterations=100, num_threads=threads, random_state=0).fit(X))
    print(f"fit BPR (64 factors, 100 iterations, {threads} threads): {t_bpr:.1f} s")

    policy = RecommenderPolicy(
        Pipeline(Hybrid(ALS(factors=64, iterations=15, regularization=1.0, alpha=20.0, num_threads=threads), Content(),
                        random_state=0), (Diversity(args.diversity),)),
        RowBuilder(), name="hybrid", n_jobs=threads)
    logs = Logs(plays=plays)
    _, t_fit = timed(lambda: policy.fit(logs, catalog, day=0, n_users=U))
    print(f"fit hybrid policy (ALS + content + popularity): {t_fit:.1f} s")
    ctx = contexts(plays, catalog, U)
    layout = Layout(cfg.rows, cfg.row_length)
    rand = KeyedRandom.from_seed(args.seed, "bench")
    policy.pages(ctx.take(np.arange(min(1000, U))), layout, rand)  # warm caches
    users = np.arange(U)

    def implicit_pass():
        with single_threaded_blas():
            return U / timed(lambda: als.model_.recommend(users, X, N=100, filter_already_liked_items=True))[1]

    def our_pass():
        t0 = time.perf_counter()
        for s in range(0, U, args.batch):
            page = policy.pages(ctx.take(np.arange(s, min(s + args.batch, U))), layout, rand)
        assert page.titles.shape[1:] == (cfg.rows, cfg.row_length)
        return U / (time.perf_counter() - t0)

    # the two alternate, so that a shared machine's slow spells fall on both
    imp_runs, our_runs = [], []
    for _ in range(args.repeat):
        imp_runs.append(implicit_pass())
        our_runs.append(our_pass())
    imp_ups, ours_ups = float(np.median(imp_runs)), float(np.median(our_runs))
    imp_list, our_list = (", ".join(f"{x:,.0f}" for x in r) for r in (imp_runs, our_runs))
    print(f"implicit recommend (N=100, filter watched), all users: {imp_ups:,.0f} users/s "
          f"(median of {args.repeat}: {imp_list})")
    print(f"our homepage (hybrid + diversity {args.diversity} + rows + artwork), batches of {args.batch}: "
          f"{ours_ups:,.0f} pages/s (median of {args.repeat}: {our_list})")
    print(f"ratio ours / implicit: {ours_ups / imp_ups:.2f} (target >= 0.7)")

    rng = np.random.default_rng(args.seed)
    lat = []
    for u in rng.choice(U, args.latency_users, replace=False):
        one = ctx.take(np.array([u]))
        t = time.perf_counter()
        policy.pages(one, layout, rand)
        lat.append(time.perf_counter() - t)
    lat_ms = np.array(lat) * 1e3
    p50, p99 = np.percentile(lat_ms, [50, 99])
    print(f"one user's full homepage: p50 {p50:.1f} ms, p99 {p99:.1f} ms (over {args.latency_users} users)")
    result = {
        "users": U, "titles": T, "pairs": int(X.nnz), "threads": threads,
        "fit_als_s": t_als, "fit_bpr_s": t_bpr, "fit_hybrid_policy_s": t_fit,
        "implicit_users_per_s": imp_ups, "ours_pages_per_s": ours_ups, "ratio": ours_ups / imp_ups,
        "implicit_runs": imp_runs, "ours_runs": our_runs,
        "page_latency_ms_p50": p50, "page_latency_ms_p99": p99, "batch": args.batch, "diversity": args.diversity,
    }
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
