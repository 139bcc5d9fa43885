"""Policies by name, as an experiment file's arms give them (docs/contracts.md section 5).

========== ===================================================================================
random     :class:`~recsys.policies.reference.RandomPolicy`
popularity :class:`~recsys.policies.reference.PopularityPolicy` (time-decayed plays; the usual control)
cf         a :class:`~recsys.policies.recommender.RecommenderPolicy` over a CF model of
           :mod:`recsys.models.registry` (``cf = "als"`` by default, or bpr, itemknn, rp3beta,
           ease); each CF model's name is also a policy name
content    a recommender over :class:`~recsys.models.Content`
hybrid     a recommender over the hybrid (its CF part chosen by ``cf``)
oracle     :class:`~recsys.policies.oracle.OraclePolicy`: ranks by the hidden truth, so the
           caller (the harness) must pass ``world=``; no other policy receives it
pkg.mod:C  a plugin: any importable class, see :mod:`recsys.policies.plugins`
========== ===================================================================================

Page-level parameters (``diversity``, ``similarity``, ``calibration``, ``longtail``,
``new_days``, ``candidates``, ``rerank_depth``, ``rows``, ``halflife``, ``artwork``) go to the
re-rankers, the row builder and the artwork policy; the rest to the model. A factor CF model's
parameters are flat keys (``factors``, ``regularization``, ``alpha``, ``iterations``,
``learning_rate``); an item-item model's come as the table ``cf_params``; the content model's
as flat keys (its ``popularity_weight`` is ``popularity_band_weight`` here, beside the hybrid's
own ``popularity_weight``).
"""

from __future__ import annotations

from typing import Any, Mapping

from recsys.core.errors import InputError
from recsys.models.hybrid import make_hybrid
from recsys.models.registry import CF_MODELS, MODELS, get_model
from recsys.policies.artwork import make_artwork
from recsys.policies.assemble import PAGE_PARAMS, _number, recommender
from recsys.policies.base import Policy
from recsys.policies.plugins import plugin_policy
from recsys.policies.reference import PopularityPolicy, RandomPolicy

POLICIES = ("random", "popularity", "cf", "content", "hybrid", "oracle", *CF_MODELS)

#: the flat keys of a factor CF model inside a policy (None: the model's arm default)
FACTOR_KEYS = ("factors", "regularization", "alpha", "iterations", "learning_rate")
_CF = {"cf": "als", **{k: None for k in FACTOR_KEYS}, "cf_params": None}
#: the content model's parameters as a policy names them
_CONTENT_ALIASES = {"popularity_band_weight": "popularity_weight"}
_CONTENT = {({v: k for k, v in _CONTENT_ALIASES.items()}.get(k, k)): v
            for k, v in MODELS["content"].defaults(arm=True).items()}
_HYBRID = {k: v for k, v in MODELS["hybrid"].defaults(arm=True).items() if k in ("cf_weight", "content_weight",
                                                                                "popularity_weight", "shrinkage")}

#: parameters each policy accepts, with their defaults
POLICY_PARAMS: dict[str, dict[str, Any] | None] = {
    "random": {"artwork": "fixed"},
    "popularity": {"artwork": "fixed", "halflife": 7.0, "explore": 0.0},
    "cf": {**PAGE_PARAMS, **_CF},
    "content": {**PAGE_PARAMS, **_CONTENT},
    "hybrid": {**PAGE_PARAMS, **_CF, **_CONTENT, **_HYBRID},
    "oracle": None,  # parameters are the oracle's own (recsys.policies.oracle)
    **{name: {**PAGE_PARAMS, **{k: None for k in FACTOR_KEYS}, "cf_params": None} for name in CF_MODELS},
}


def _cf_scorer(p: dict, seed: int):
    """The CF model ``p["cf"]`` with its flat keys (factor models) or ``cf_params`` (item-item)."""
    name = p["cf"]
    if name not in CF_MODELS:
        raise InputError(f"policy parameter cf must be one of {', '.join(CF_MODELS)}, got {name!r}")
    spec = get_model(name)
    flat = {k: p.get(k) for k in FACTOR_KEYS if p.get(k) is not None}
    if spec.factor:
        if p.get("cf_params"):
            raise InputError(f"policy parameter cf_params applies to item-item cf models, not cf = {name!r}")
        known = spec.defaults(arm=True)
        bad = sorted(set(flat) - set(known))
        if bad:
            raise InputError(f"policy parameter {bad[0]} does not apply to cf = {name!r}")
        args = {k: _number(k, v, lo=1 if k in ("factors", "iterations") else 0,
                           integer=k in ("factors", "iterations")) for k, v in flat.items()}
        return spec.build(args, seed=seed, arm=True)
    if flat:
        raise InputError(f"policy parameter {sorted(flat)[0]} does not apply to cf = {name!r} (use cf_params)")
    params = p.get("cf_params") or {}
    if not isinstance(params, Mapping):
        raise InputError(f"policy parameter cf_params must be a table, got {params!r}")
    return spec.build(params, seed=seed, arm=True)


def _content_scorer(p: dict, seed: int):
    args = {_CONTENT_ALIASES.get(k, k): _number(k, p[k], lo=1 if k == "n_components" else 0,
                                                 integer=k == "n_components") for k in _CONTENT}
    return get_model("content").build(args, seed=seed, arm=True)


def make_policy(name: str, params: Mapping[str, Any] | None = None, *, seed: int = 0, world=None) -> Policy:
    """The policy ``name`` with ``params`` (unknown names and parameters are an InputError).

    ``name`` is a built-in (:data:`POLICIES`) or a plugin's import path ``package.module:Class``.
    ``seed`` fixes the models' random state. ``world`` (a :class:`~recsys.world.build.World`,
    hidden truth included) is handed to ``oracle`` only and ignored by every other policy.
    """
    params = dict(params or {})
    if ":" in name:
        return plugin_policy(name, params, seed=seed)
    if name not in POLICY_PARAMS:
        raise InputError(f"unknown policy {name!r} (known: {', '.join(POLICIES)}, or a plugin "
                         "package.module:ClassName)")
    if name == "oracle":
        if world is None:
            raise InputError("policy 'oracle' reads the world's hidden truth: the harness must pass world=")
        from recsys.policies.oracle import OraclePolicy  # the one policy allowed to read hidden fields

        art = params.pop("artwork", "fixed")
        if not isinstance(art, str):
            raise InputError(f"policy parameter artwork must be a name, got {art!r}")
        if params:
            raise InputError(f"unknown parameter {sorted(params)[0]!r} for policy 'oracle' (known: artwork)")
        return OraclePolicy(world, artwork=make_artwork(art))
    known = POLICY_PARAMS[name]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise InputError(f"unknown parameter {unknown[0]!r} for policy {name!r} (known: {', '.join(sorted(known))})")
    p = {**known, **params}
    if not isinstance(p["artwork"], str):
        raise InputError(f"policy parameter artwork must be a name, got {p['artwork']!r}")
    artwork = make_artwork(p["artwork"])
    if name == "random":
        return RandomPolicy(artwork)
    if name == "popularity":
        return PopularityPolicy(halflife=_number("halflife", p["halflife"]), explore=_number("explore", p["explore"]),
                                artwork=artwork)
    if name in CF_MODELS:
        p["cf"] = name
    if name == "content":
        scorer = _content_scorer(p, seed)
    elif name == "hybrid":
        blend = {k: _number(k, p[k]) for k in _HYBRID}
        scorer = make_hybrid(_cf_scorer(p, seed), _content_scorer(p, seed), **blend, random_state=seed)
    else:
        scorer = _cf_scorer(p, seed)
    return recommender(scorer, p, artwork, name=name)
