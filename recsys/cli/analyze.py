"""`recsys analyze TABLE [--control ARM] [--config FILE] ... --json PATH`: analyse a per-user table
and decide (docs/contracts.md sections 1-3)."""

from __future__ import annotations

import argparse
import dataclasses

from recsys.cli.args import load_experiment
from recsys.core.config import read_toml
from recsys.decision import decide
from recsys.core.errors import InputError
from recsys.core.io import check_writable, read_table, write_json, write_text
from recsys.report.text import render_analysis
from recsys.stats.analysis import analyze, check_alpha
from recsys.stats.corrections import CORRECTIONS
from recsys.stats.options import AnalysisOptions, parse_cap, parse_prior
from recsys.stats.roles import Levels, Roles, parse_guardrail


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help="analyse a per-user A/B table (Parquet or CSV) and decide",
                              description="Compare every arm with the control on every metric in play (per segment "
                                          "with --segments): success metrics tested for superiority, guardrails "
                                          "for non-inferiority against their margins, both for deterioration; "
                                          "secondary metrics reported; sample ratio and pre-period balance "
                                          "checked; then ship / no-ship / inconclusive / investigate.")
    p.add_argument("table", help="per-user table, .parquet or .csv (docs/contracts.md section 1)")
    p.add_argument("--control", help="the control arm's name (default: the config's control)")
    p.add_argument("--config", metavar="FILE",
                   help="take the roles, alpha, correction, decision levels and control from an experiment file "
                        "or a run's config.toml")
    p.add_argument("--alpha", type=float, default=None, help="success metrics' significance level (default 0.05)")
    p.add_argument("--correction", default=None, choices=CORRECTIONS,
                   help="correction across success metrics and arms (default holm); secondary metrics and "
                        "segment rows always get Benjamini-Hochberg q-values (descriptive)")
    p.add_argument("--no-cuped", action="store_true", help="do not adjust with pre_* covariates")
    p.add_argument("--segments", action="store_true", help="also compare within each label of the segment column")
    p.add_argument("--metrics", help="comma-separated extra metrics to report (registry names or numeric columns)")
    p.add_argument("--primary", help="the primary success metric (default ctr)")
    p.add_argument("--success", help="comma-separated further success metrics")
    p.add_argument("--secondary", help="comma-separated secondary metrics (default: every other metric whose "
                                       "columns the table has)")
    p.add_argument("--guardrail", action="append", default=[], metavar="M=MARGIN[:absolute]",
                   help="guardrail and its non-inferiority margin, the worst acceptable change signed in the "
                        "harmful direction, relative by default (e.g. churn_rate=0.10 or churn_rate=+10%%, "
                        "completion_rate=-0.02, churn_rate=0.004:absolute); repeatable; replaces the defaults "
                        "(churn_rate and regret_ratio at +10%%); 'none' for no guardrails")
    p.add_argument("--shares", action="append", default=[], metavar="ARM=SHARE",
                   help="configured traffic share of an arm for the sample-ratio test (repeatable; default equal)")
    p.add_argument("--covariate", action="append", default=[], metavar="M=PRE_COL[,PRE_COL]",
                   help="CUPED covariate of a metric: a pre_* column, or a pre-period numerator,denominator for a "
                        "ratio (repeatable; default: the metric's own pre_* columns when the table has them)")
    p.add_argument("--engine", choices=("frequentist", "bayesian"), default=None,
                   help="bayesian adds gbstats' posterior readout to every row: chance to beat control, risk, "
                        "credible intervals (default frequentist; the verdict always reads the tests)")
    p.add_argument("--prior", metavar="MEAN,SD[,relative|absolute]",
                   help="with --engine bayesian: an informative normal prior on the lift (default: flat)")
    p.add_argument("--cap", action="append", default=[], metavar="COL=VALUE|COL=pNN",
                   help="cap a column before analysis: an absolute value, or a percentile of the pooled pre-period "
                        "(else control) distribution, e.g. watch_minutes=p99 (repeatable)")
    p.add_argument("--post-stratify", metavar="COL", help="post-stratify the whole population's rows by this label "
                                                          "column (gbstats' estimator), e.g. segment")
    p.add_argument("--cupac", action="store_true",
                   help="add a cross-fitted prediction of each mean's pre-period value from the other pre_* "
                        "columns as a covariate (CUPAC)")
    p.add_argument("--bootstrap", action="append", default=[], metavar="M",
                   help="also test this metric by bootstrap instead of its closed form (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--daily", metavar="TABLE",
                   help="a per-(user, day) table (user_id, arm, day and the day's counts; docs/contracts.md section 1): "
                        "adds the effects by day since first exposure, the decay test and the completion decay")
    p.add_argument("--json", metavar="PATH", help="write the analysis JSON here")
    p.add_argument("--report", metavar="PATH", help="write the HTML report here (verdict, trade-offs, lifts, sample "
                                                    "sizes, methods)")
    p.set_defaults(run=run)
    return p


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in (text or "").split(",") if s.strip())


def _load(path: str):
    from recsys.experiment.config import ExperimentConfig

    try:
        return load_experiment(path, reader=lambda p: ExperimentConfig.from_dict(read_toml(p)))
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def _from_config(path: str) -> tuple[Roles, Levels, str | None, dict | None]:
    """Roles, levels, control and arm shares from an experiment file or a run's config.toml."""
    config = _load(path)
    return config.roles, config.levels, config.control, {a.name: a.share for a in config.arms}


def _roles(args, base: Roles) -> Roles:
    success = base.success
    if args.primary or args.success:
        primary = args.primary or base.primary
        success = (primary, *[m for m in _split(args.success) if m != primary])
    guardrails = base.guardrails
    if args.guardrail:
        items = [g.strip() for g in args.guardrail]
        guardrails = () if [i.lower() for i in items] == ["none"] else tuple(parse_guardrail(g) for g in items)
    secondary = base.secondary if args.secondary is None else _split(args.secondary)
    return Roles(success=success, guardrails=guardrails, secondary=secondary, strategic=base.strategic)


def _covariates(items: list[str]) -> dict[str, list[tuple[str, ...]]]:
    """--covariate M=COL or M=NUM,DEN, repeatable: one covariate is CUPED, several regression."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for item in items:
        metric, sep, cols = item.partition("=")
        names = _split(cols)
        if not sep or not metric.strip() or not names:
            raise InputError(f"--covariate expects METRIC=PRE_COLUMN[,PRE_COLUMN], got {item!r}")
        out.setdefault(metric.strip(), []).append(names)
    return out


def _options(args, base: AnalysisOptions) -> tuple[AnalysisOptions, dict]:
    """The [analysis] options of the config with the command line's on top, and the single
    CUPED covariates (one --covariate for a metric) apart from the regression ones."""
    covs = _covariates(args.covariate)
    single = {m: c[0] for m, c in covs.items() if len(c) == 1}
    several = {**base.covariates, **{m: tuple(c) for m, c in covs.items() if len(c) > 1}}
    prior = parse_prior(args.prior) if args.prior else base.prior
    if args.prior and (args.engine or base.engine) != "bayesian":
        raise InputError("--prior applies to --engine bayesian")
    caps = tuple(parse_cap(c) for c in args.cap) or base.caps
    opts = dataclasses.replace(base, engine=args.engine or base.engine, prior=prior, caps=caps,
                               post_stratify=args.post_stratify or base.post_stratify,
                               cupac=args.cupac or base.cupac, covariates=several)
    return opts.validate(), single


def _shares(items: list[str]) -> dict[str, float] | None:
    if not items:
        return None
    out = {}
    for item in items:
        arm, sep, value = item.partition("=")
        try:
            out[arm.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not arm.strip():
            raise InputError(f"--shares expects ARM=SHARE, got {item!r}")
    return out


def run(args) -> int:
    for path in (args.json, args.report):
        if path:
            check_writable(path)
    base_roles, levels, control, shares, base_opts = Roles(), Levels(), None, None, AnalysisOptions()
    if args.config:
        config = _load(args.config)
        base_roles, levels, control = config.roles, config.levels, config.control
        shares, base_opts = {a.name: a.share for a in config.arms}, config.analysis
    options, single = _options(args, base_opts)
    roles = _roles(args, base_roles)
    defaults = not args.config and not (args.primary or args.success or args.guardrail or args.secondary is not None)
    levels = Levels(alpha=check_alpha(args.alpha) if args.alpha is not None else levels.alpha,
                    guardrail_alpha=levels.guardrail_alpha, deterioration_alpha=levels.deterioration_alpha,
                    quality_alpha=levels.quality_alpha,
                    correction=args.correction or levels.correction).validate()
    control = args.control or control
    if control is None:
        raise InputError("name the control arm with --control (or give --config with an [experiment] control)")
    shares = _shares(args.shares) or shares
    table = read_table(args.table)
    if shares is not None and not args.shares and "arm" in table:   # the config's arms that are in the table
        present = set(table["arm"].astype(str))
        kept = {a: s for a, s in shares.items() if a in present}
        total = sum(kept.values())
        shares = {a: s / total for a, s in kept.items()} if total > 0 else None
    analysis = analyze(table, control, cuped=not args.no_cuped, segments=args.segments, metrics=list(_split(args.metrics)),
                       shares=shares, seed=args.seed, roles=roles, levels=levels, bootstrap=tuple(args.bootstrap),
                       covariates=single, options=options,
                       daily=read_table(args.daily) if args.daily else None)
    result = {**analysis.to_dict(), "default_roles": defaults, "decision": decide(analysis).to_dict()}
    print(render_analysis(result))
    if args.json:
        write_json(args.json, result)
    if args.report:
        from recsys.report.experiment import render_report

        write_text(args.report, render_report(result, title=f"Analysis of {args.table}",
                                              subtitle=f"control {control}; {result['n_users']:,} users"))
    return 0
