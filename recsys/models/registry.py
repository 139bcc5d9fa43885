"""One registry of the scorers: a name, the class, and the defaults a policy arm uses for it.

A model's parameters and their defaults are the class's own (scikit-learn's ``get_params``);
``arm_defaults`` overrides some of them for an experiment arm (tuned offline on the default
world's warm-up plays, about 12 per user: few factors, strong regularisation; docs/models.md).
The policy factory (:mod:`recsys.policies.registry`), offline evaluation's default models and
the report's offline counterparts of arms all read this table, so a new model is registered
once here.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Mapping

from recsys.core.errors import InputError
from recsys.models.base import FactorScorer, Scorer
from recsys.models.content import Content
from recsys.models.ease import EASE
from recsys.models.factorization import ALS, BPR
from recsys.models.hybrid import DenseHybrid, Hybrid
from recsys.models.neighbours import ItemKNN, RP3beta
from recsys.models.popularity import Popularity
from recsys.models.random import Random


@dataclass(frozen=True)
class ModelSpec:
    """A registered scorer: ``kind`` is "cf" (learns from interactions), "content", "hybrid" or
    "baseline"."""

    name: str
    cls: type[Scorer]
    kind: str
    description: str
    arm_defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def seeded(self) -> bool:
        return "random_state" in inspect.signature(self.cls.__init__).parameters

    def defaults(self, *, arm: bool = False) -> dict[str, Any]:
        """Constructor parameters and their defaults (the arm's when ``arm``), without the
        seed and the components of a hybrid."""
        params = {k: v for k, v in self.cls().get_params(deep=False).items()
                  if k not in ("random_state", "cf", "content")}
        return {**params, **(self.arm_defaults if arm else {})}

    @property
    def factor(self) -> bool:
        return issubclass(self.cls, FactorScorer)

    def build(self, params: Mapping[str, Any] | None = None, *, seed: int | None = None, arm: bool = False,
              **components) -> Scorer:
        """An unfitted scorer with ``params`` on top of the defaults; unknown parameters and bad
        values are an InputError naming them."""
        params = dict(params or {})
        known = self.defaults(arm=arm)
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise InputError(f"unknown parameter {unknown[0]!r} for model {self.name!r} "
                             f"(known: {', '.join(sorted(known)) or 'none'})")
        args = {**known, **{k: v for k, v in params.items() if v is not None}, **components}
        if self.seeded and seed is not None:
            args["random_state"] = seed
        for k, v in args.items():
            default = known.get(k)
            if isinstance(default, (int, float)) and not isinstance(default, bool) and (
                    isinstance(v, bool) or not isinstance(v, (int, float))):
                raise InputError(f"model {self.name!r}: parameter {k} must be a number, got {v!r}")
        model = self.cls(**args)
        check = getattr(model, "check_params", None)
        return check() if callable(check) else model


MODELS: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec("random", Random, "baseline", "random titles (the floor)"),
    ModelSpec("popularity", Popularity, "baseline", "most played titles"),
    ModelSpec("als", ALS, "cf", "implicit-feedback matrix factorisation (implicit's ALS)",
              {"factors": 16, "regularization": 10.0, "alpha": 40.0, "iterations": 15}),
    ModelSpec("bpr", BPR, "cf", "Bayesian personalised ranking (implicit's BPR)",
              {"factors": 32, "regularization": 0.01, "learning_rate": 0.005, "iterations": 100}),
    ModelSpec("itemknn", ItemKNN, "cf", "item-kNN: cosine with shrinkage, optional TF-IDF or BM25 weighting"),
    ModelSpec("rp3beta", RP3beta, "cf", "RP3beta: random walks item-item, popularity-discounted"),
    ModelSpec("ease", EASE, "cf", "EASE: closed-form item-item (Steck 2019)"),
    ModelSpec("content", Content, "content", "metadata: genres, cast, runtime, kind, popularity band"),
    ModelSpec("hybrid", Hybrid, "hybrid", "CF + content + popularity, blended by history length"),
    ModelSpec("dense-hybrid", DenseHybrid, "hybrid", "the hybrid over any CF model (dense score blocks)"),
)}

#: the CF models an arm's ``cf`` parameter may name
CF_MODELS = tuple(n for n, m in MODELS.items() if m.kind == "cf")


def get_model(name: str) -> ModelSpec:
    """The registered model ``name``; InputError naming the known ones otherwise."""
    if name not in MODELS:
        raise InputError(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    return MODELS[name]
