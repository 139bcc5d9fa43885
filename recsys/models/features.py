"""Public item features from an items frame (``Catalog.items_frame()`` or a loader's).

An items frame has an ``item`` column (title index 0..T-1) and any of ``genres`` and ``cast``
(lists of str), ``runtime`` (minutes), ``kind`` (str). Missing columns are skipped, so a
MovieLens frame (genres only) works as well as the synthetic catalog's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import MultiLabelBinarizer, OneHotEncoder, normalize

#: runtime bands in minutes (an episode of a series is its runtime)
RUNTIME_BANDS = (0.0, 30.0, 60.0, 100.0, 130.0)
#: popularity bands: quantiles of the log play count among played titles; band 0 is "unplayed"
POPULARITY_BANDS = 5


def _identity(tokens):
    return tokens


def _as_lists(column: pd.Series) -> list[list[str]]:
    out = []
    for v in column:
        if isinstance(v, str):
            out.append([s for s in v.split("|") if s])
        elif v is None or (isinstance(v, float) and np.isnan(v)):
            out.append([])
        else:
            out.append([str(s) for s in v])
    return out


def _place(block: sp.csr_matrix, rows: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Put the frame's rows at their item indices in an (n_items, F) matrix."""
    P = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, np.arange(len(rows)))), shape=(n_items, len(rows)))
    return sp.csr_matrix(P @ block, dtype=np.float32)


def item_rows(items: pd.DataFrame, n_items: int) -> np.ndarray:
    rows = items["item"].to_numpy(np.int64)
    if len(rows) and (rows.min() < 0 or rows.max() >= n_items):
        raise ValueError(f"items frame has item indices outside 0..{n_items - 1}")
    return rows


def genre_matrix(items: pd.DataFrame | None, n_items: int) -> tuple[sp.csr_matrix, list[str]]:
    """0/1 CSR (n_items, G) of genres and the genre names; (n_items, 0) without genres."""
    if items is None or "genres" not in items:
        return sp.csr_matrix((n_items, 0), dtype=np.float32), []
    mlb = MultiLabelBinarizer(sparse_output=True)
    block = sp.csr_matrix(mlb.fit_transform(_as_lists(items["genres"])), dtype=np.float32)
    return _place(block, item_rows(items, n_items), n_items), [str(c) for c in mlb.classes_]


def popularity_bands(counts: np.ndarray, bands: int = POPULARITY_BANDS) -> np.ndarray:
    """Band per title: 0 unplayed, 1..bands by quantile of log count among played titles."""
    counts = np.asarray(counts, dtype=np.float64)
    out = np.zeros(len(counts), dtype=np.int64)
    played = counts > 0
    if played.any():
        edges = np.quantile(np.log(counts[played]), np.linspace(0, 1, bands + 1)[1:-1])
        out[played] = 1 + np.searchsorted(edges, np.log(counts[played]), side="right")
    return out


def item_features(items: pd.DataFrame, n_items: int, counts: np.ndarray | None = None, *,
                  genre_weight: float = 1.0, cast_weight: float = 0.5, runtime_weight: float = 0.3,
                  kind_weight: float = 0.3, popularity_weight: float = 0.2) -> sp.csr_matrix:
    """Sparse (n_items, F) features, each block L2-normalised per row and scaled by its weight.

    Blocks: genres (one-hot), cast (TF-IDF, so a star shared by many titles counts less),
    runtime band and kind (one-hot), popularity band (one-hot of ``counts``; new titles with no
    plays fall in band 0). Rows are finally L2-normalised, so dot products are cosines.
    """
    rows = item_rows(items, n_items)
    blocks: list[sp.csr_matrix] = []

    def add(block, weight):
        if weight > 0 and block.shape[1] > 0:
            blocks.append(weight * normalize(sp.csr_matrix(block, dtype=np.float32)))

    if "genres" in items:
        add(genre_matrix(items, n_items)[0], genre_weight)
    if "cast" in items and cast_weight > 0:
        lists = _as_lists(items["cast"])
        if any(lists):
            tfidf = TfidfVectorizer(analyzer=_identity, lowercase=False)
            add(_place(tfidf.fit_transform(lists), rows, n_items), cast_weight)
    if "runtime" in items and runtime_weight > 0:
        rt = pd.to_numeric(items["runtime"], errors="coerce").to_numpy(np.float64)
        band = np.where(np.isnan(rt), -1, np.searchsorted(RUNTIME_BANDS, np.nan_to_num(rt), side="right"))
        enc = OneHotEncoder(handle_unknown="ignore").fit_transform(band.reshape(-1, 1))
        add(_place(enc, rows, n_items), runtime_weight)
    if "kind" in items and kind_weight > 0:
        enc = OneHotEncoder(handle_unknown="ignore").fit_transform(items[["kind"]].astype(str).to_numpy())
        add(_place(enc, rows, n_items), kind_weight)
    if counts is not None and popularity_weight > 0:
        band = popularity_bands(counts)
        add(sp.csr_matrix((np.ones(n_items, np.float32), (np.arange(n_items), band)),
                          shape=(n_items, POPULARITY_BANDS + 1)), popularity_weight)
    if not blocks:
        return sp.csr_matrix((n_items, 0), dtype=np.float32)
    return normalize(sp.hstack(blocks, format="csr", dtype=np.float32))
