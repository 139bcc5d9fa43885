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
        raise InputError(f"policy {spec!r}: a plugin is named package.module:ClassName")
    for directory in (*SEARCH_PATH, os.getcwd()):
        _ensure_path(directory)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"policy {spec!r}: cannot import {module_name} ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing
        raise InputError(f"policy {spec!r}: importing {module_name} failed: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    obj = getattr(module, class_name, None)
    if obj is None:
        raise InputError(f"policy {spec!r}: module {module_name} has no {class_name}")
    if not inspect.isclass(obj):
        raise InputError(f"policy {spec!r}: {class_name} is not a class")
    origin = getattr(module, "__file__", None)
    root = None
    if origin is not None:
        root = str(Path(origin).resolve().parents[len(module_name.split(".")) - 1])
    return obj, root


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
        raise InputError(f"policy {spec!r}: cannot construct {cls.__name__} with parameters "
                         f"{sorted(params)}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # noqa: BLE001 - the user's constructor failed
        raise InputError(f"policy {spec!r}: {cls.__name__}(...) failed: {type(exc).__name__}: "
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

    def __init__(self, spec: str = "", params: Mapping[str, Any] | None = None):
        self.spec = spec
        self.params = params

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "PluginScorer":
        cls, self.root = load_class(self.spec)
        model = _construct(self.spec, cls, dict(self.params or {}))
        try:
            out = model.fit(X, items)
        except Exception as exc:  # noqa: BLE001 - the user's fit failed: one line, the cause
            raise InputError(f"policy {self.spec!r}: fit failed: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        if out is not model:
            raise InputError(f"policy {self.spec!r}: fit must return self, got {type(out).__name__}")
        self.model_ = model
        self.n_users_, self.n_items_ = X.shape
        return self

    def score(self, users: np.ndarray, X: sp.csr_matrix | None = None, items: np.ndarray | None = None) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        try:
            block = np.asarray(self.model_.score(users, X), dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - the user's score failed: one line, the cause
            raise InputError(f"policy {self.spec!r}: score failed: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        if block.shape != (len(users), self.n_items_):
            raise InputError(f"policy {self.spec!r}: score must return a dense (users x titles) block of shape "
                             f"({len(users)}, {self.n_items_}), got {block.shape}")
        return block if items is None else block[:, np.asarray(items)]


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
            raise InputError(f"policy {self.spec!r}: fit failed: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        return self

    def pages(self, ctx, layout, rand):
        page = self.inner.pages(ctx, layout, rand)
        if not isinstance(page, Page) or page.titles.shape != (len(ctx), layout.rows, layout.row_length):
            raise InputError(f"policy {self.spec!r}: pages must return a Page of shape "
                             f"({len(ctx)}, {layout.rows}, {layout.row_length})")
        if (page.artwork[page.titles >= 0] < 0).all():
            page = self.add_artwork(page, ctx, rand)
        return page
