"""How an analysis estimates, beyond the roles: the toolkit analysts bring from GrowthBook,
Statsig or Confidence, as an experiment file's ``[analysis]`` table.

```toml
[analysis]
engine = "bayesian"                 # frequentist (default) | bayesian: a posterior readout beside the tests
prior = { mean = 0.0, sd = 0.1, scale = "relative" }   # bayesian: informative prior (default: flat)
post_stratify = "segment"           # a label column: gbstats' post-stratified estimator for the "all" rows
cupac = true                        # add a cross-fitted prediction of each mean's pre-period value as a covariate
sequential = "group-sequential"     # always-valid (default) | group-sequential: the daily monitor's success test
spending = "obrien-fleming"         # obrien-fleming | pocock | hsd | power (alpha spending, Lan-DeMets)
looks = [0.25, 0.5, 0.75, 1.0]      # planned information fractions (default: each experiment day equally)

[analysis.capping]                  # per column: absolute = value, or percentile = level in (0, 1)
watch_minutes = { percentile = 0.99 }

[analysis.covariates]               # several covariates per metric: regression adjustment (CUPED generalised)
watch_minutes = ["pre_watch_minutes", "pre_plays", "pre_sessions"]
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from recsys.core.errors import InputError
from recsys.stats.bayes import GaussianPrior
from recsys.stats.capping import Cap
from recsys.stats.group_sequential import SPENDING, check_fractions

ENGINES = ("frequentist", "bayesian")
SEQUENTIAL = ("always-valid", "group-sequential")
KEYS = ("engine", "prior", "post_stratify", "cupac", "sequential", "spending", "looks", "capping", "covariates")


@dataclass(frozen=True)
class AnalysisOptions:
    """Estimation options of an analysis (see the module docstring for their meaning)."""

    engine: str = "frequentist"
    prior: GaussianPrior | None = None
    caps: tuple[Cap, ...] = ()
    post_stratify: str | None = None
    covariates: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    cupac: bool = False
    sequential: str = "always-valid"
    spending: str = "obrien-fleming"
    looks: tuple[float, ...] | None = None

    def validate(self) -> "AnalysisOptions":
        if self.engine not in ENGINES:
            raise InputError(f"unknown engine {self.engine!r} (known: {', '.join(ENGINES)})")
        if self.sequential not in SEQUENTIAL:
            raise InputError(f"unknown sequential test {self.sequential!r} (known: {', '.join(SEQUENTIAL)})")
        if self.spending not in SPENDING:
            raise InputError(f"unknown spending function {self.spending!r} (known: {', '.join(SPENDING)})")
        if self.looks is not None:
            check_fractions(self.looks)
        for metric, covs in self.covariates.items():
            for cov in covs:
                post = [c for c in cov if not str(c).startswith("pre_")]
                if post:
                    raise InputError(f"covariate {post[0]} for {metric} is not a pre-period (pre_*) column: CUPED "
                                     "and regression adjustment need covariates measured before assignment")
        return self

    def to_dict(self) -> dict:
        prior = None
        if self.prior is not None and self.prior.proper:
            prior = {"mean": self.prior.mean, "sd": float(np.sqrt(self.prior.variance)), "scale": self.prior.scale}
        return {"engine": self.engine, "prior": prior,
                "capping": {c.column: ({"absolute": c.absolute} if c.absolute is not None else
                                       {"percentile": c.percentile}) for c in self.caps},
                "post_stratify": self.post_stratify,
                "covariates": {m: [list(c) if len(c) > 1 else c[0] for c in covs] for m, covs in self.covariates.items()},
                "cupac": self.cupac, "sequential": self.sequential, "spending": self.spending,
                "looks": None if self.looks is None else list(self.looks)}

    def to_table(self) -> dict:
        """The [analysis] table (TOML-writable: None left out)."""
        return {k: v for k, v in self.to_dict().items() if v not in (None, {}, [])}

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None, where: str = "analysis") -> "AnalysisOptions":
        table = dict(table or {})
        unknown = sorted(set(table) - set(KEYS))
        if unknown:
            raise InputError(f"unknown key {where}.{unknown[0]} (known: {', '.join(KEYS)})")
        prior = table.get("prior")
        if prior is not None:
            if not isinstance(prior, Mapping):
                raise InputError(f"{where}.prior must be a table such as {{mean = 0.0, sd = 0.1}}")
            prior = GaussianPrior.from_config(dict(prior))
        caps = tuple(Cap.from_config(col, spec) for col, spec in _mapping(table.get("capping"), f"{where}.capping"))
        covariates = {}
        for metric, covs in _mapping(table.get("covariates"), f"{where}.covariates"):
            if isinstance(covs, str) or not isinstance(covs, (list, tuple)):
                raise InputError(f"{where}.covariates.{metric} must be a list of pre_* columns")
            covariates[metric] = tuple((c,) if isinstance(c, str) else tuple(c) for c in covs)
        looks = table.get("looks")
        if looks is not None:
            if not isinstance(looks, (list, tuple)) or not all(isinstance(x, (int, float)) for x in looks):
                raise InputError(f"{where}.looks must be a list of information fractions in (0, 1]")
            looks = tuple(float(x) for x in looks)
        for key, kind in (("engine", str), ("post_stratify", str), ("sequential", str), ("spending", str),
                          ("cupac", bool)):
            if key in table and not isinstance(table[key], kind):
                raise InputError(f"{where}.{key} must be {'true or false' if kind is bool else 'a string'}")
        return cls(engine=table.get("engine", "frequentist"), prior=prior, caps=caps,
                   post_stratify=table.get("post_stratify"), covariates=covariates, cupac=table.get("cupac", False),
                   sequential=table.get("sequential", "always-valid"), spending=table.get("spending", "obrien-fleming"),
                   looks=looks).validate()


def _mapping(value, where: str):
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise InputError(f"[{where}] must be a table")
    return list(value.items())


def parse_prior(text: str) -> GaussianPrior:
    """``MEAN,SD[,relative|absolute]`` from the command line."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (2, 3):
        raise InputError(f"--prior expects MEAN,SD[,relative|absolute], got {text!r}")
    try:
        mean, sd = float(parts[0]), float(parts[1])
    except ValueError:
        raise InputError(f"--prior expects numbers, got {text!r}") from None
    if not np.isfinite(sd) or sd < 0:
        raise InputError(f"--prior: the prior's sd must be a non-negative number, got {parts[1]} (a negative variance)")
    return GaussianPrior.from_config({"mean": mean, "sd": sd, "scale": parts[2] if len(parts) == 3 else "relative"})


def parse_cap(text: str) -> Cap:
    """``COLUMN=VALUE`` (absolute) or ``COLUMN=pNN`` (percentile) from the command line."""
    col, sep, spec = text.partition("=")
    spec = spec.strip()
    if not sep or not col.strip() or not spec:
        raise InputError(f"--cap expects COLUMN=VALUE or COLUMN=pNN, got {text!r}")
    percentile = spec.lower().startswith("p")
    try:
        value = float(spec[1:] if percentile else spec)
    except ValueError:
        raise InputError(f"--cap {col}: {spec!r} is not a number or pNN") from None
    return Cap(col.strip(), percentile=value / 100) if percentile else Cap(col.strip(), absolute=value)
