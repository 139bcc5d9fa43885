"""Write a tiny planted-structure data set in MovieLens layouts (no MovieLens data ships)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recsys.evaluate.loaders import ML100K_GENRES
from recsys.evaluate.synthetic import planted_dataset


def write_movielens(root: Path, kind: str = "100k", n_users: int = 300, n_items: int = 120, seed: int = 0) -> Path:
    """Write a planted-structure data set in MovieLens ``kind`` (100k | 1m | latest) layout."""
    inter, items = planted_dataset(n_users, n_items, clusters=4, mean_plays=14, seed=seed)
    rating = np.clip(np.rint(1 + 4 * inter["weight"].to_numpy()), 1, 5).astype(int)
    uid, iid, ts = inter["user"].to_numpy() + 1, inter["item"].to_numpy() + 1, inter["timestamp"].to_numpy() + 874_000_000
    names = list(ML100K_GENRES)
    gmap = {f"g{i}": names[1 + i % (len(names) - 1)] for i in range(64)}
    genres = [sorted({gmap[g] for g in gs}) for gs in items["genres"]]
    root.mkdir(parents=True, exist_ok=True)
    if kind == "100k":
        (root / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in zip(uid, iid, rating, ts)))
        lines = []
        for j, gs in enumerate(genres):
            flags = "|".join("1" if g in gs else "0" for g in names)
            lines.append(f"{j + 1}|Movie {j + 1} (1995)|01-Jan-1995||http://example.org/{j + 1}|{flags}\n")
        (root / "u.item").write_text("".join(lines), encoding="latin-1")
        return root / "u.data"
    if kind == "1m":
        (root / "ratings.dat").write_text("".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in zip(uid, iid, rating, ts)))
        (root / "movies.dat").write_text("".join(f"{j + 1}::Movie {j + 1} (1995)::{'|'.join(gs)}\n"
                                                 for j, gs in enumerate(genres)), encoding="latin-1")
        return root / "ratings.dat"
    (root / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{i},{r}.0,{t}\n" for u, i, r, t in zip(uid, iid, rating, ts)))
    (root / "movies.csv").write_text("movieId,title,genres\n" + "".join(
        f'{j + 1},"Movie {j + 1} (1995)",{"|".join(gs) or "(no genres listed)"}\n' for j, gs in enumerate(genres)))
    return root / "ratings.csv"
