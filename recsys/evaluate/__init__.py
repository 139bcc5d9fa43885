"""Offline evaluation: splits, metrics, data loaders and :func:`evaluate_models`."""

from recsys.evaluate.loaders import load, load_csv, load_movielens
from recsys.evaluate.offline import METRICS, default_models, evaluate_models
from recsys.evaluate.splits import random_split, temporal_split
from recsys.evaluate.synthetic import planted_dataset

__all__ = ["METRICS", "default_models", "evaluate_models", "load", "load_csv", "load_movielens",
           "planted_dataset", "random_split", "temporal_split"]
