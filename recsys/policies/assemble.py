"""Assembling a recommender policy from a scorer and an arm's page-level parameters (the
re-rankers, the row builder, the artwork policy), shared by the built-in policies
(:mod:`recsys.policies.registry`) and the plugins (:mod:`recsys.policies.plugins`)."""

from __future__ import annotations

from typing import Any, Mapping

from recsys.core.errors import InputError
from recsys.core.page import ROW_KIND
from recsys.policies.pipeline import Pipeline
from recsys.policies.recommender import RecommenderPolicy
from recsys.policies.rerank import SIMILARITIES, Calibration, Diversity, LongTail
from recsys.policies.rows import DEFAULT_ROWS, RowBuilder

#: page-level parameters of a recommender policy, with their defaults
PAGE_PARAMS: dict[str, Any] = {"artwork": "fixed", "diversity": 0.0, "similarity": "genre", "calibration": 0.0,
                               "longtail": 0.0, "new_days": 7, "candidates": 100, "rerank_depth": 100,
                               "rows": list(DEFAULT_ROWS), "halflife": None}


def _number(name: str, v: Any, *, lo: float = 0.0, integer: bool = False, allow_none: bool = False):
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not float(v).is_integer()):
        kind = "an integer" if integer else "a number"
        raise InputError(f"policy parameter {name} must be {kind}, got {v!r}")
    if v < lo:
        raise InputError(f"policy parameter {name} must be >= {lo:g}, got {v!r}")
    return int(v) if integer else float(v)


def _page_parts(p: dict) -> tuple[tuple, RowBuilder]:
    """The re-rankers (weight > 0) and the row builder from the page-level parameters."""
    if p["similarity"] not in SIMILARITIES:
        raise InputError(f"policy parameter similarity must be one of {', '.join(SIMILARITIES)}, "
                         f"got {p['similarity']!r}")
    rows = p["rows"]
    if isinstance(rows, str) or not all(isinstance(r, str) for r in rows):
        raise InputError("policy parameter rows must be a list of row kinds")
    bad = [r for r in rows if r not in ROW_KIND]
    if bad:
        raise InputError(f"unknown row kind {bad[0]!r} (known: {', '.join(ROW_KIND)})")
    new_days = _number("new_days", p["new_days"], lo=1, integer=True)
    rerankers = (Diversity(_number("diversity", p["diversity"]), similarity=p["similarity"]),
                 Calibration(_number("calibration", p["calibration"])),
                 LongTail(_number("longtail", p["longtail"]), new_days=new_days))
    return tuple(r for r in rerankers if r.weight > 0), RowBuilder(tuple(rows), new_days=new_days)


def recommender(scorer, p: Mapping[str, Any], artwork, *, name: str) -> RecommenderPolicy:
    """A recommender policy over ``scorer`` with the page-level parameters ``p``."""
    rerankers, rows = _page_parts(dict(p))
    pipeline = Pipeline(scorer, rerankers, candidates=_number("candidates", p["candidates"], lo=1, integer=True),
                        rerank_depth=_number("rerank_depth", p["rerank_depth"], lo=1, integer=True))
    return RecommenderPolicy(pipeline, rows, artwork, name=name,
                             halflife=_number("halflife", p["halflife"], lo=0, allow_none=True))
