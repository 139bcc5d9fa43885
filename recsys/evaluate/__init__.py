"""Offline evaluation: splits, metrics, intervals, data loaders, :func:`evaluate_models` and
(in :mod:`recsys.evaluate.tune`) hyperparameter search on a validation split."""

from recsys.evaluate.loaders import load, load_csv, load_movielens
from recsys.evaluate.offline import METRICS, default_models, evaluate_models, holdout
from recsys.evaluate.splits import random_split, temporal_split, user_temporal_split
from recsys.evaluate.synthetic import planted_dataset

__all__ = ["METRICS", "default_models", "evaluate_models", "holdout", "load", "load_csv", "load_movielens",
           "planted_dataset", "random_split", "temporal_split", "user_temporal_split"]
