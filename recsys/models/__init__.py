"""Recommenders: scikit-learn style scorers fitted on a users x titles interaction matrix.

========== =========================================================== ===========
name       class                                                       cold start
========== =========================================================== ===========
random     :class:`~recsys.models.random.Random`                        n/a
popularity :class:`~recsys.models.popularity.Popularity`                same for all
als        :class:`~recsys.models.factorization.ALS` (implicit)         popularity
bpr        :class:`~recsys.models.factorization.BPR` (implicit)         popularity
content    :class:`~recsys.models.content.Content`                      popularity; new titles scored
hybrid     :class:`~recsys.models.hybrid.Hybrid`                        content + popularity
========== =========================================================== ===========
"""

from recsys.models.base import FactorScorer, Scorer
from recsys.models.content import Content
from recsys.models.factorization import ALS, BPR
from recsys.models.hybrid import Hybrid
from recsys.models.popularity import Popularity
from recsys.models.random import Random

SCORERS: dict[str, type[Scorer]] = {
    "random": Random, "popularity": Popularity, "als": ALS, "bpr": BPR, "content": Content, "hybrid": Hybrid,
}

__all__ = ["ALS", "BPR", "Content", "FactorScorer", "Hybrid", "Popularity", "Random", "SCORERS", "Scorer"]
