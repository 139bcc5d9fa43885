"""``recsys artwork-test``: the classic two-artwork CTR experiment (docs/contracts.md section 6).

Users are randomised into two equal arms, each user's click is drawn with the arm's
probability, and the counts go to :func:`recsys.stats.proportions.two_artwork_test`. The JSON,
a bar chart (PNG) and an HTML page are written atomically; bad input writes nothing.

With ``--world`` the same test runs inside the simulated world
(:mod:`recsys.experiment.artwork_test`): users of the world meet a title's real variants and the
behaviour model decides the clicks; the output adds each variant's true CTR as ground truth, and
the page draws the two artworks compared (:mod:`recsys.report.posters`).

When the test is not significant, the users needed are computed for a planning effect, never
the observed one: the true CTRs with ``--world``, else the click probabilities given.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from recsys.cli import bounded, probability
from recsys.cli.args import load_experiment
from recsys.core.errors import InputError
from recsys.core.io import prepare_out_dir, write_bytes, write_json, write_text
from recsys.experiment.artwork_test import assign_and_click
from recsys.stats.proportions import ArtworkTestResult, two_artwork_test
from recsys.report.artwork_page import bar_chart_png, html_page, recommendation

PNG_NAME = "artwork-test.png"
HTML_NAME = "artwork-test.html"


_alpha = bounded(float, lambda v: 0.0 < v < 1.0, "a significance level in (0, 1)")
_users = bounded(int, lambda v: v >= 2, "an integer of at least 2 (two arms)")


def add_parser(subparsers, name: str) -> None:
    p = subparsers.add_parser(
        name, help="two-artwork CTR experiment: significance test, bar chart and recommendation",
        description="Randomise USERS between artwork A and B, simulate clicks with probabilities P_A and "
                    "P_B (or, with --world, let users of the simulated world meet a title's real variants), "
                    "and report CTR per artwork, the difference with its interval, a two-proportion "
                    "z-test, a bar chart and a plain-language recommendation.")
    p.add_argument("--users", type=_users, default=1000, help="users in the test (at least 2; default 1000)")
    p.add_argument("--p-a", type=probability, help="click probability of artwork A, in [0, 1]")
    p.add_argument("--p-b", type=probability, help="click probability of artwork B, in [0, 1]")
    p.add_argument("--seed", type=int, default=0, help="random seed of the assignment and clicks (default 0)")
    w = p.add_argument_group("in the simulated world (--world)")
    w.add_argument("--world", action="store_true",
                   help="run the test inside the world: users meet the title's real variants and the behaviour "
                        "model decides the clicks (instead of --p-a/--p-b)")
    w.add_argument("--config", type=Path, help="experiment TOML whose [world] and seed to use "
                                                "(default: the demo's embedded experiment)")
    w.add_argument("--title", type=int, help="title id (default: a well-known released title with 2+ variants)")
    w.add_argument("--variant-b", type=int, default=None,
                   help="variant of the title shown as B, by its index within the title (0 is the default, A; "
                        "default: the first variant whose theme differs from A's)")
    p.add_argument("--alpha", type=_alpha, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--out", type=Path, default=None,
                   help="directory for the PNG and HTML (default: the JSON's directory; created if missing)")
    p.add_argument("--json", type=Path, default=None,
                   help="write the result JSON here (its directory is created if missing, like --out's)")
    p.set_defaults(run=run)


def _creatable_dir(path: Path, flag: str, target: Path) -> None:
    """``path`` is a writable directory, or can be created as one (its parent exists and is
    writable), as ``--out``'s directory; else a one-line InputError naming ``flag`` ``target``."""
    if path.exists():
        if not path.is_dir():
            raise InputError(f"cannot write {flag} {target}: {path} is not a directory")
        if not os.access(path, os.W_OK):
            raise InputError(f"cannot write {flag} {target}: directory {path} is not writable")
        return
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write {flag} {target}: directory {path} cannot be created "
                         f"({parent} does not exist)")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write {flag} {target}: directory {path} cannot be created "
                         f"({parent} is not writable)")


def check_outputs(json_path: Path | None, out: Path | None) -> Path | None:
    """Validate the output locations before any work; returns the directory for PNG/HTML. A
    missing directory (of --out, or of the --json file) is created when the outputs are written,
    if its parent exists; nothing is created here."""
    if json_path is not None:
        _creatable_dir(json_path.parent if str(json_path.parent) else Path("."), "--json", json_path)
        if json_path.is_dir():
            raise InputError(f"--json {json_path} is a directory")
    if out is None and json_path is not None:
        out = json_path.parent if str(json_path.parent) else Path(".")
    if out is not None:
        prepare_out_dir(out, exist_ok=True)
    return out


def write_outputs(result: ArtworkTestResult, json_path: Path | None, out: Path | None,
                  extra: dict | None = None, title: str = "Artwork A/B test", details: dict | None = None,
                  truth: tuple[float, float] | None = None, artworks: dict | None = None) -> dict:
    """Write PNG and HTML into ``out`` and the JSON to ``json_path`` (each atomically; a missing
    directory of either is created); returns the JSON.

    ``details`` (default: the scalar entries of ``extra``) are listed on the page; ``truth`` marks
    the true CTRs on the chart; ``artworks`` (arm -> (description, SVG)) are drawn on the page."""
    doc = result.to_json(recommendation(result))
    doc.update(extra or {})
    if out is not None:
        out.mkdir(exist_ok=True)
        png = bar_chart_png(result, truth=truth)
        write_bytes(out / PNG_NAME, png)
        if details is None:
            details = {k: v for k, v in (extra or {}).items() if not isinstance(v, (dict, list))}
        write_text(out / HTML_NAME, html_page(result, png, title=title, details=details, artworks=artworks))
        doc["png"] = str(out / PNG_NAME)
        doc["html"] = str(out / HTML_NAME)
    if json_path is not None:
        json_path.parent.mkdir(exist_ok=True)
        write_json(json_path, doc)
    return doc


def summary_text(result: ArtworkTestResult) -> str:
    level = f"{1 - result.alpha:.0%}"
    return "\n".join([
        f"{'artwork':<8}{'users':>8}{'clicks':>8}{'ctr':>9}",
        f"{'A':<8}{result.users_a:>8,}{result.clicks_a:>8,}{result.ctr_a:>9.2%}",
        f"{'B':<8}{result.users_b:>8,}{result.clicks_b:>8,}{result.ctr_b:>9.2%}",
        f"B - A: {result.diff * 100:+.2f} points ({level} CI {result.ci_low * 100:+.2f} to "
        f"{result.ci_high * 100:+.2f}); two-proportion z = {result.z:.3f}, p = {result.p_value:.5f} "
        f"(chi-squared p = {result.chi2_p_value:.5f})",
        "",
        recommendation(result),
    ])


def run(args: argparse.Namespace) -> int:
    if args.users < 2:
        raise InputError(f"--users must be at least 2, got {args.users}")
    if args.world:
        given = [f for f, v in (("--p-a", args.p_a), ("--p-b", args.p_b)) if v is not None]
        if given:
            raise InputError(f"{given[0]} does not apply with --world (the world's users decide the clicks)")
    else:
        missing = [f for f, v in (("--p-a", args.p_a), ("--p-b", args.p_b)) if v is None]
        if missing:
            raise InputError(f"the following arguments are required: {', '.join(missing)} (or use --world)")
        given = [f for f, v in (("--config", args.config), ("--title", args.title)) if v is not None]
        if given:
            raise InputError(f"{given[0]} needs --world")
    out = check_outputs(args.json, args.out)
    if args.world:
        return run_world(args, out)
    counts = assign_and_click(args.users, args.p_a, args.p_b, args.seed)
    result = two_artwork_test(*counts, alpha=args.alpha, planning=(args.p_a, args.p_b),
                              planning_basis="the click probabilities given with --p-a and --p-b")
    extra = {"seed": args.seed, "p_a": args.p_a, "p_b": args.p_b, "users": args.users}
    doc = write_outputs(result, args.json, out, extra)
    _report(result, doc, args.json)
    return 0


def run_world(args: argparse.Namespace, out: Path | None) -> int:
    """The test inside the world: see :mod:`recsys.experiment.artwork_test`."""
    from recsys.cli.demo import default_config
    from recsys.experiment.artwork_test import describe_variant, run_world_test
    from recsys.report.posters import poster_svg
    from recsys.world.build import build_world

    config = load_experiment(args.config) if args.config is not None else default_config()
    world = build_world(config.world, config.seed)
    test = run_world_test(world, args.users, title=args.title, variant_b=args.variant_b, seed=args.seed)
    result = two_artwork_test(*test.counts(), alpha=args.alpha, planning=(test.true_ctr_a, test.true_ctr_b),
                              planning_basis="the true CTRs known to the simulator")
    cat = world.catalog
    label = cat.art_label(np.array([test.art_a, test.art_b]))
    desc = {"A": describe_variant(cat, test.art_a), "B": describe_variant(cat, test.art_b)}
    truth = {"A": test.true_ctr_a, "B": test.true_ctr_b}
    extra = {
        "mode": "world", "seed": args.seed, "users": args.users, "world_seed": config.seed,
        "world_users": world.n_users,
        "title": {"id": test.title, "name": str(cat.name[test.title])},
        "variants": {"A": {"artwork": test.art_a, "variant": 0, "theme": str(label[0]), "description": desc["A"]},
                     "B": {"artwork": test.art_b, "variant": test.art_b - test.art_a, "theme": str(label[1]),
                           "description": desc["B"]}},
        "ground_truth": {
            "note": "known only to the simulator: the mean click probability of each variant over all the "
                    "world's users (true_ctr) and over the users shown it (sample_ctr)",
            "true_ctr": truth, "true_diff": test.true_ctr_b - test.true_ctr_a,
            "sample_ctr": {"A": test.sample_ctr_a, "B": test.sample_ctr_b},
            "interval_covers_true_diff": bool(result.ci_low <= test.true_ctr_b - test.true_ctr_a <= result.ci_high)},
    }
    details = {"title": f"{cat.name[test.title]} (id {test.title})", "artwork A": desc["A"], "artwork B": desc["B"],
               "true CTR of A (simulator's ground truth)": f"{test.true_ctr_a:.2%}",
               "true CTR of B (simulator's ground truth)": f"{test.true_ctr_b:.2%}",
               "true difference B - A (ground truth)": f"{(test.true_ctr_b - test.true_ctr_a) * 100:+.2f} points"}
    posters = {arm: (desc[arm], poster_svg(cat, art, width=300, id_prefix="at", variant_mark=False))
               for arm, art in (("A", test.art_a), ("B", test.art_b))}
    doc = write_outputs(result, args.json, out, extra, title="Artwork A/B test in the simulated world",
                        details=details, truth=(test.true_ctr_a, test.true_ctr_b), artworks=posters)
    print(f"title {test.title} '{cat.name[test.title]}': A = {desc['A']}; B = {desc['B']}")
    print(f"true CTR (ground truth, known to the simulator): A {test.true_ctr_a:.2%}, B {test.true_ctr_b:.2%}")
    _report(result, doc, args.json)
    return 0


def _report(result: ArtworkTestResult, doc: dict, json_path: Path | None) -> None:
    print(summary_text(result))
    for key in ("png", "html"):
        if key in doc:
            print(f"{key}: {doc[key]}")
    if json_path is not None:
        print(f"json: {json_path}")
