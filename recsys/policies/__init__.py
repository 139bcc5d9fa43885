"""Policies: what a page shows each user, fitted on observable logs and the public catalog.

``base`` (the contract the simulator runs, :class:`Policy`), ``reference`` (random, popularity,
the warm-up's genre rows), ``pipeline`` (scorer -> candidates -> re-rankers), ``rerank`` (MMR,
calibration, long tail), ``rows`` (named homepage rows), ``recommender`` (a pipeline, rows and
artwork as one policy), ``artwork`` (which variant each card shows), ``oracle`` (the hidden
truth, for calibration only), ``plugins`` (a user's own class) and ``registry`` (policies by
name, as experiment files give them).
"""

from recsys.policies.base import Policy
from recsys.policies.pipeline import Pipeline
from recsys.policies.recommender import RecommenderPolicy
from recsys.policies.reference import GenreRowsPolicy, PopularityPolicy, RandomPolicy
from recsys.policies.registry import POLICIES, POLICY_PARAMS, make_policy

__all__ = ["GenreRowsPolicy", "POLICIES", "POLICY_PARAMS", "Pipeline", "Policy", "PopularityPolicy", "RandomPolicy",
           "RecommenderPolicy", "make_policy"]
