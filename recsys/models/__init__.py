"""Recommenders: scikit-learn style scorers fitted on a users x titles interaction matrix.

========== =========================================================== ===========================
name       class                                                       cold start
========== =========================================================== ===========================
random     :class:`~recsys.models.random.Random`                        n/a
popularity :class:`~recsys.models.popularity.Popularity`                same for all
als        :class:`~recsys.models.factorization.ALS` (implicit)         popularity
bpr        :class:`~recsys.models.factorization.BPR` (implicit)         popularity
itemknn    :class:`~recsys.models.neighbours.ItemKNN`                   popularity
rp3beta    :class:`~recsys.models.neighbours.RP3beta`                   popularity
ease       :class:`~recsys.models.ease.EASE`                            popularity
content    :class:`~recsys.models.content.Content`                      popularity; new titles scored
hybrid     :class:`~recsys.models.hybrid.Hybrid` (ALS, BPR as CF) or    content + popularity
           :class:`~recsys.models.hybrid.DenseHybrid` (item-item CF)
========== =========================================================== ===========================
"""

from recsys.models.base import FactorScorer, Scorer
from recsys.models.content import Content
from recsys.models.ease import EASE
from recsys.models.factorization import ALS, BPR
from recsys.models.hybrid import DenseHybrid, Hybrid, make_hybrid
from recsys.models.neighbours import ItemKNN, RP3beta
from recsys.models.popularity import Popularity
from recsys.models.random import Random

SCORERS: dict[str, type[Scorer]] = {
    "random": Random, "popularity": Popularity, "als": ALS, "bpr": BPR, "itemknn": ItemKNN, "rp3beta": RP3beta,
    "ease": EASE, "content": Content, "hybrid": Hybrid, "dense-hybrid": DenseHybrid,
}

__all__ = ["ALS", "BPR", "Content", "DenseHybrid", "EASE", "FactorScorer", "Hybrid", "ItemKNN", "Popularity",
           "RP3beta", "Random", "SCORERS", "Scorer", "make_hybrid"]
