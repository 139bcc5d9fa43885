"""Bring your own recommender: an arm's ``policy = "package.module:ClassName"``.

Two contracts are accepted, duck-typed (no subclassing):

* a **scorer**: ``fit(X, items)`` returning self, ``score(users, X)`` returning a dense
  (users x titles) block; ``X`` is the CSR users x titles interaction matrix (watch-share
  weights) and ``items`` the public catalog frame. It is wrapped in :class:`PluginScorer` and
  becomes a :class:`~recsys.policies.recommender.RecommenderPolicy` like the built-in models: the
  arm's page-level parameters (``diversity``, ``rows``, ``artwork``, ...) go to the page
  assembler and the rest to the class's constructor;
* a **policy**: ``fit(logs, catalog, *, day, n_users)`` and ``pages(ctx, layout, rand)`` (the
  contract of :class:`~recsys.policies.base.Policy`); all parameters go to its constructor.

Where the class is found: the current directory and the experiment file's directory are on the
import path (as they are for ``python -m``); the directory a class was imported from travels
with it, so worker processes and Dask workers import it by the same path. Unimportable, not a
class, the wrong contract, or a constructor that refuses its parameters: an InputError with one
line naming the cause.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import pickle
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core.errors import InputError
from recsys.core.page import Page
from recsys.models.base import Scorer
from recsys.policies.artwork import make_artwork
from recsys.policies.assemble import PAGE_PARAMS, recommender
from recsys.policies.base import Policy

#: directories searched for plugins besides sys.path (the CLI adds the experiment file's)
SEARCH_PATH: list[str] = []


def _ensure_path(directory: str | None) -> None:
    if directory and directory not in sys.path:
        sys.path.insert(0, directory)


def load_class(spec: str) -> tuple[type, str | None]:
    """The class named by ``package.module:ClassName`` and the directory its module came from."""
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name or not all(p.isidentifier() for p in module_name.split(".")) \
            or not class_name.isidentifier():
        raise InputError(f"plugin {spec!r}: a plugin is named package.module:ClassName")
    for directory in (*SEARCH_PATH, os.getcwd()):
        _ensure_path(directory)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"plugin {spec!r}: cannot import {module_name} ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing
        raise InputError(f"plugin {spec!r}: importing {module_name} failed: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    obj = getattr(module, class_name, None)
    if obj is None:
        raise InputError(f"plugin {spec!r}: module {module_name} has no {class_name}")
    if not inspect.isclass(obj):
        raise InputError(f"plugin {spec!r}: {class_name} is not a class")
    return obj, module_root(obj)


def module_root(cls: type) -> str | None:
    """The directory a class's top-level package was imported from (None for built-in or
    interactively defined classes): what a worker puts on its path to import the class."""
    module = sys.modules.get(cls.__module__)
    origin = getattr(module, "__file__", None)
    if origin is None or cls.__module__ == "__main__":
        return str(Path(origin).resolve().parent) if origin is not None else None
    return str(Path(origin).resolve().parents[len(cls.__module__.split(".")) - 1])


def contract(cls: type) -> str:
    """"policy" or "scorer" by the methods ``cls`` has; InputError for neither."""
    has = lambda m: callable(getattr(cls, m, None))  # noqa: E731
    if has("fit") and has("pages"):
        return "policy"
    if has("fit") and has("score"):
        return "scorer"
    missing = "score (a scorer) or pages (a policy)" if has("fit") else "fit"
    raise InputError(f"{cls.__module__}.{cls.__name__} does not follow a contract: it has no {missing}")


def _construct(spec: str, cls: type, params: Mapping[str, Any]):
    try:
        return cls(**params)
    except TypeError as exc:
        raise InputError(f"plugin {spec!r}: cannot construct {cls.__name__} with parameters "
                         f"{sorted(params)}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # noqa: BLE001 - the user's constructor failed
        raise InputError(f"plugin {spec!r}: {cls.__name__}(...) failed: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None


def _restore(cls: type, root: str | None, state: bytes):
    """Unpickle a plugin wrapper in a worker: its plugin's directory on the path first, then the
    state (which holds the user's object, whose class is imported by name)."""
    _ensure_path(root)
    obj = cls.__new__(cls)
    obj.__dict__.update(pickle.loads(state))
    return obj


class _Portable:
    """Pickles by a nested pickle of the state, restored after the plugin's directory is on the
    import path, so a worker process that never imported the plugin finds it."""

    root: str | None = None

    def __reduce__(self):
        return _restore, (type(self), self.root, pickle.dumps(self.__dict__, protocol=pickle.HIGHEST_PROTOCOL))


class PluginScorer(_Portable, Scorer):
    """A user's scorer under the project's scorer contract: checks what ``fit`` and ``score``
    return, answers ``score(users, X, items=...)`` and ``n_items_`` for the top-n selection, and
    pickles by import path (see the module docstring)."""

    def __init__(self, spec: str = "", params: Mapping[str, Any] | None = None, model=None):
        self.spec = spec
        self.params = params
        self.model = model

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "PluginScorer":
        if self.model is not None:   # an object given from Python: a fresh copy is fitted each time
            model, self.root = copy.deepcopy(self.model), module_root(type(self.model))
        else:
            cls, self.root = load_class(self.spec)
            model = _construct(self.spec, cls, dict(self.params or {}))
        try:
            out = model.fit(X, items)
        except Exception as exc:  # noqa: BLE001 - the user's fit failed: one line, the cause
            raise InputError(f"plugin {self.spec!r}: fit failed: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        if out is not model:
            raise InputError(f"plugin {self.spec!r}: fit must return self, got {type(out).__name__}")
        self.model_ = model
        self.n_users_, self.n_items_ = X.shape
        return self

    def score(self, users: np.ndarray, X: sp.csr_matrix | None = None, items: np.ndarray | None = None) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        try:
            block = np.asarray(self.model_.score(users, X), dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - the user's score failed: one line, the cause
            raise InputError(f"plugin {self.spec!r}: score failed: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        if block.shape != (len(users), self.n_items_):
            raise InputError(f"plugin {self.spec!r}: score must return a dense (users x titles) block of shape "
                             f"({len(users)}, {self.n_items_}), got {block.shape}")
        return block if items is None else block[:, np.asarray(items)]


def plugin_scorer(spec: str, params: Mapping[str, Any] | None = None) -> PluginScorer:
    """A plugin scorer for offline evaluation: the class must follow the scorer contract and
    accept ``params`` (checked now, so a bad plugin fails before any work)."""
    cls, _ = load_class(spec)
    if contract(cls) != "scorer":
        raise InputError(f"model {spec!r}: offline evaluation needs a scorer (fit and score), "
                         f"{cls.__name__} is a page policy")
    _construct(spec, cls, dict(params or {}))
    return PluginScorer(spec, dict(params or {}))


def as_scorer(obj, name: str = "model"):
    """An object for offline evaluation: the project's scorers and pipelines as they are, any other
    object with ``fit`` and ``score`` wrapped in :class:`PluginScorer`; InputError otherwise."""
    if callable(getattr(obj, "recommend", None)) and callable(getattr(obj, "fit", None)):
        return obj
    if inspect.isclass(obj) or not (callable(getattr(obj, "fit", None)) and callable(getattr(obj, "score", None))):
        raise InputError(f"model {name!r}: expected an object with fit(X, items) and score(users, X), got "
                         f"{obj.__name__ if inspect.isclass(obj) else type(obj).__name__}")
    return PluginScorer(spec_of(obj), model=obj)


def plugin_policy(spec: str, params: Mapping[str, Any], *, seed: int = 0):
    """The arm of a plugin class: its own policy, or a recommender over a wrapped scorer."""
    cls, root = load_class(spec)
    kind = contract(cls)
    params = dict(params)
    art = params.pop("artwork", "fixed")
    if not isinstance(art, str):
        raise InputError(f"policy parameter artwork must be a name, got {art!r}")
    if kind == "policy":
        return PluginPolicy(spec, root, _construct(spec, cls, params), make_artwork(art))
    page = {k: params.pop(k) for k in list(params) if k in PAGE_PARAMS}
    _construct(spec, cls, params)                    # a constructor that refuses its parameters fails now
    return recommender(PluginScorer(spec, params), {**PAGE_PARAMS, **page}, make_artwork(art), name=spec)


class PluginPolicy(_Portable, Policy):
    """A user's whole-page policy under the simulator's contract: ``fit`` and ``pages`` are the
    user's; artwork is chosen by the arm's artwork policy where the user's pages leave it open."""

    def __init__(self, spec: str, root: str | None, inner, artwork=None):
        super().__init__(artwork)
        self.spec, self.root, self.inner, self.name = spec, root, inner, spec

    def fit(self, logs, catalog, *, day: int, n_users: int) -> "PluginPolicy":
        super().fit(logs, catalog, day=day, n_users=n_users)
        try:
            self.inner.fit(logs, catalog, day=day, n_users=n_users)
        except Exception as exc:  # noqa: BLE001 - the user's fit failed: one line, the cause
            raise InputError(f"plugin {self.spec!r}: fit failed: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        return self

    def pages(self, ctx, layout, rand):
        try:
            page = self.inner.pages(ctx, layout, rand)
        except Exception as exc:  # noqa: BLE001 - the user's pages failed: one line, the cause
            raise InputError(f"plugin {self.spec!r}: pages failed: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        if not isinstance(page, Page) or page.titles.shape != (len(ctx), layout.rows, layout.row_length):
            raise InputError(f"plugin {self.spec!r}: pages must return a Page of shape "
                             f"({len(ctx)}, {layout.rows}, {layout.row_length})")
        if (page.artwork[page.titles >= 0] < 0).all():
            page = self.add_artwork(page, ctx, rand)
        return page


def spec_of(obj) -> str:
    """``package.module:ClassName`` of an object's class (what a run's config.toml records)."""
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def object_policy(obj, params: Mapping[str, Any] | None = None, *, name: str | None = None) -> Policy:
    """The arm of an object given from Python: a :class:`~recsys.policies.base.Policy` as it is,
    a whole-page policy object (``fit`` and ``pages``) wrapped like a plugin, or a scorer
    (``fit`` and ``score``) under a recommender with the page-level ``params`` (``diversity``,
    ``rows``, ``artwork``, ...). The object is copied, so the caller's stays unfitted."""
    params = dict(params or {})
    art = params.pop("artwork", "fixed")
    if not isinstance(art, str):
        raise InputError(f"policy parameter artwork must be a name, got {art!r}")
    spec = spec_of(obj)
    own = obj.get_params(deep=False) if callable(getattr(obj, "get_params", None)) and not inspect.isclass(obj) else {}
    for key in [k for k in params if k in own and k not in PAGE_PARAMS]:   # a record of the object's parameters
        if params.pop(key) != own[key]:
            raise InputError(f"plugin {spec!r}: parameter {key} differs from the object's own ({own[key]!r})")
    if isinstance(obj, Policy):
        if params:
            raise InputError(f"plugin {spec!r}: a Policy object takes no arm parameters (got {sorted(params)})")
        return copy.deepcopy(obj)
    if inspect.isclass(obj):
        raise InputError(f"plugin {spec!r}: give an instance (or the class's path as a string), not a class")
    kind = contract(type(obj))
    if kind == "policy":
        if params:
            raise InputError(f"plugin {spec!r}: a page policy takes no arm parameters here (got {sorted(params)})")
        return PluginPolicy(spec, module_root(type(obj)), copy.deepcopy(obj), make_artwork(art))
    unknown = sorted(set(params) - set(PAGE_PARAMS))
    if unknown:
        raise InputError(f"unknown page parameter {unknown[0]!r} for a scorer object (known: {', '.join(PAGE_PARAMS)}; "
                         "the model's own parameters go to its constructor)")
    scorer = copy.deepcopy(obj) if isinstance(obj, Scorer) else PluginScorer(spec, model=obj)
    return recommender(scorer, {**PAGE_PARAMS, **params}, make_artwork(art), name=name or spec)
