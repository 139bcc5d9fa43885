"""Data loaders: MovieLens (100K, 1M, latest) and generic CSV, from a path the user gives.

Nothing is downloaded and no data ships with the package. Every loader returns
``(interactions, items)``: interactions with columns ``user, item, weight`` and, when known,
``rating`` and ``timestamp``; items (or None) with ``item, name, genres`` (genres as lists). Ratings
become implicit feedback by keeping those ``>= threshold`` (None keeps all), each with weight 1.
The synthetic world's logs come in through ``recsys.experiment.warmup.synthetic_interactions``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsys.core.errors import InputError

ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western")
FORMATS = ("movielens", "csv")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _read(path: Path, what: str, **kwargs) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}")
    try:
        return pd.read_csv(path, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
        raise InputError(f"cannot read {what} file {path}: {_first_line(exc)}") from None


def _numeric(df: pd.DataFrame, col: str, path: Path) -> None:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = values.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path}: column {col!r} is not numeric (row {row + 1}: {df[col].iloc[row]!r})")
    df[col] = values


def to_implicit(df: pd.DataFrame, threshold: float | None) -> pd.DataFrame:
    """Keep ratings ``>= threshold`` (all if None or no rating column), weight 1 each."""
    if threshold is not None and "rating" in df:
        df = df[df["rating"] >= threshold]
    df = df.copy()
    if "weight" not in df:
        df["weight"] = np.float32(1.0)
    if df.empty:
        raise InputError(f"no interactions left (rating threshold {threshold})")
    return df.reset_index(drop=True)


def _find(path: Path, names: tuple[str, ...], what: str) -> Path:
    if path.is_dir():
        for name in names:
            if (path / name).is_file():
                return path / name
        raise InputError(f"no {what} file ({' or '.join(names)}) in directory {path}")
    return path


def load_movielens(interactions: str | Path, items: str | Path | None = None, *,
                   threshold: float | None = 4.0) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """MovieLens 100K (``u.data``/``u.item``), 1M (``ratings.dat``/``movies.dat``) or
    latest/25M (``ratings.csv``/``movies.csv``); ``interactions`` is the ratings file or the
    directory holding it; the items file is found beside it unless given."""
    path = Path(interactions)
    if not path.exists():
        raise InputError(f"interactions file not found: {path}")
    path = _find(path, ("u.data", "ratings.dat", "ratings.csv"), "MovieLens ratings")
    name = path.name
    cols = ["user", "item", "rating", "timestamp"]
    if name.endswith(".dat"):
        df = _read(path, "interactions", sep="::", engine="python", header=None, names=cols, encoding="latin-1")
        item_default = path.with_name("movies.dat")
    elif name.endswith(".csv"):
        df = _read(path, "interactions")
        df = df.rename(columns={"userId": "user", "movieId": "item"})
        item_default = path.with_name("movies.csv")
    else:  # u.data and friends: tab-separated
        df = _read(path, "interactions", sep="\t", header=None, names=cols)
        item_default = path.with_name("u.item")
    for col in cols:
        if col not in df:
            raise InputError(f"{path}: missing {col} column (is this a MovieLens ratings file?)")
        _numeric(df, col, path)
    df = df[cols]
    items_path = Path(items) if items is not None else (item_default if item_default.is_file() else None)
    item_frame = _movielens_items(items_path) if items_path is not None else None
    return to_implicit(df, threshold), item_frame


def _movielens_items(path: Path) -> pd.DataFrame:
    if path.name.endswith(".csv"):
        df = _read(path, "items")
        df = df.rename(columns={"movieId": "item", "title": "name"})
        if "item" not in df or "genres" not in df:
            raise InputError(f"{path}: expected movieId, title and genres columns")
        genres = [[] if g == "(no genres listed)" else [s for s in str(g).split("|") if s] for g in df["genres"]]
    elif path.name.endswith(".dat"):
        df = _read(path, "items", sep="::", engine="python", header=None, names=["item", "name", "genres"],
                   encoding="latin-1")
        genres = [[s for s in str(g).split("|") if s] for g in df["genres"]]
    else:  # u.item: id | title | release | video release | url | 19 genre flags
        df = _read(path, "items", sep="|", header=None, encoding="latin-1")
        if df.shape[1] < 5 + len(ML100K_GENRES):
            raise InputError(f"{path}: expected {5 + len(ML100K_GENRES)} '|'-separated fields per line, got {df.shape[1]}")
        flags = df.iloc[:, 5:5 + len(ML100K_GENRES)].to_numpy()
        names = np.asarray(ML100K_GENRES, dtype=object)
        genres = [list(names[f == 1]) for f in flags]
        df = pd.DataFrame({"item": df[0], "name": df[1]})
    _numeric(df, "item", path)
    return pd.DataFrame({"item": df["item"].astype(np.int64), "name": df["name"].astype(str), "genres": genres})


#: other names of the id columns a CSV may use (the first present is renamed)
ALIASES = {"user": ("user_id",), "item": ("item_id",)}


def _rename_ids(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    """``user_id`` / ``item_id`` read as ``user`` / ``item`` when those are absent."""
    rename = {}
    for col in cols:
        if col not in df:
            alias = next((a for a in ALIASES[col] if a in df), None)
            if alias is not None:
                rename[alias] = col
    return df.rename(columns=rename) if rename else df


def load_csv(interactions: str | Path, items: str | Path | None = None, *,
             threshold: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A CSV with a header ``user,item[,rating][,timestamp]`` (or ``user_id``, ``item_id``; extra
    columns are kept, e.g. a segment label); an optional items CSV with ``item`` (or ``item_id``)
    and ``genres`` ("a|b|c")."""
    path = Path(interactions)
    df = _rename_ids(_read(path, "interactions"), ("user", "item"))
    for col in ("user", "item"):
        if col not in df:
            raise InputError(f"{path}: missing {col} column ({col} or {col}_id; "
                             f"columns: {', '.join(map(str, df.columns))})")
    if df.empty:
        raise InputError(f"{path}: no interactions")
    if df[["user", "item"]].isna().any().any():
        row = int(np.flatnonzero(df[["user", "item"]].isna().any(axis=1).to_numpy())[0])
        raise InputError(f"{path}: empty user or item at row {row + 1}")
    for col in ("rating", "timestamp", "weight"):
        if col in df:
            _numeric(df, col, path)
    item_frame = None
    if items is not None:
        ipath = Path(items)
        it = _rename_ids(_read(ipath, "items"), ("item",))
        if "item" not in it:
            raise InputError(f"{ipath}: missing item column (item or item_id)")
        it = it.copy()
        it["genres"] = [[] if pd.isna(g) else [s for s in str(g).split("|") if s] for g in it.get("genres", [np.nan] * len(it))]
        item_frame = it
    return to_implicit(df, threshold), item_frame


def load(fmt: str, interactions: str | Path, items: str | Path | None = None, *,
         threshold: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Dispatch on ``fmt`` (movielens | csv); MovieLens defaults to a threshold of 4 stars."""
    if fmt == "movielens":
        return load_movielens(interactions, items, threshold=4.0 if threshold is None else threshold)
    if fmt == "csv":
        return load_csv(interactions, items, threshold=threshold)
    raise InputError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
