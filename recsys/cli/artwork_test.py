"""``recsys artwork-test``: the classic two-artwork CTR experiment (contracts section 6).

Users are randomised into two equal arms, each user's click is drawn with the arm's
probability, and the counts go to :func:`recsys.report.artwork_ab.two_artwork_test`. The JSON,
a bar chart (PNG) and an HTML page are written atomically; bad input writes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from recsys.cli import probability
from recsys.errors import InputError
from recsys.io import prepare_out_dir, write_bytes, write_json, write_text
from recsys.report.artwork_ab import ArtworkTestResult, assign_and_click, two_artwork_test
from recsys.report.artwork_page import bar_chart_png, html_page

PNG_NAME = "artwork-test.png"
HTML_NAME = "artwork-test.html"


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < 1.0:  # argparse turns this into "argument --alpha: <message>"
        raise argparse.ArgumentTypeError(f"expected a significance level in (0, 1), got {text!r}")
    return value


def _users(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be an integer of at least 2 (two arms), got {text!r}")
    return value


def add_parser(subparsers, name: str) -> None:
    p = subparsers.add_parser(
        name, help="two-artwork CTR experiment: significance test, bar chart and recommendation",
        description="Randomise USERS between artwork A and B, simulate clicks with probabilities P_A and "
                    "P_B, and report CTR per artwork, the difference with its interval, a two-proportion "
                    "z-test, a bar chart and a plain-language recommendation.")
    p.add_argument("--users", type=_users, default=1000, help="users in the test (at least 2; default 1000)")
    p.add_argument("--p-a", type=probability, required=True, help="click probability of artwork A, in [0, 1]")
    p.add_argument("--p-b", type=probability, required=True, help="click probability of artwork B, in [0, 1]")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--alpha", type=_alpha, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--out", type=Path, default=None,
                   help="directory for the PNG and HTML (default: the JSON's directory; created if missing)")
    p.add_argument("--json", type=Path, default=None, help="write the result JSON here")
    p.set_defaults(run=run)


def check_outputs(json_path: Path | None, out: Path | None) -> Path | None:
    """Validate the output locations before any work; returns the directory for PNG/HTML."""
    if json_path is not None:
        parent = json_path.parent if str(json_path.parent) else Path(".")
        if not parent.is_dir():
            raise InputError(f"cannot write --json {json_path}: directory {parent} does not exist")
        if json_path.is_dir():
            raise InputError(f"--json {json_path} is a directory")
    if out is None and json_path is not None:
        out = json_path.parent if str(json_path.parent) else Path(".")
    if out is not None:
        prepare_out_dir(out, exist_ok=True)
    return out


def write_outputs(result: ArtworkTestResult, json_path: Path | None, out: Path | None,
                  extra: dict | None = None, title: str = "Artwork A/B test") -> dict:
    """Write PNG and HTML into ``out`` and the JSON to ``json_path`` (each atomically); returns the JSON."""
    doc = result.to_json()
    doc.update(extra or {})
    if out is not None:
        out.mkdir(exist_ok=True)
        png = bar_chart_png(result)
        write_bytes(out / PNG_NAME, png)
        details = {k: v for k, v in (extra or {}).items() if not isinstance(v, (dict, list))}
        write_text(out / HTML_NAME, html_page(result, png, title=title, details=details))
        doc["png"] = str(out / PNG_NAME)
        doc["html"] = str(out / HTML_NAME)
    if json_path is not None:
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
        result.recommendation,
    ])


def run(args: argparse.Namespace) -> int:
    if args.users < 2:
        raise InputError(f"--users must be at least 2, got {args.users}")
    out = check_outputs(args.json, args.out)
    counts = assign_and_click(args.users, args.p_a, args.p_b, args.seed)
    result = two_artwork_test(*counts, alpha=args.alpha)
    extra = {"seed": args.seed, "p_a": args.p_a, "p_b": args.p_b, "users": args.users}
    doc = write_outputs(result, args.json, out, extra)
    print(summary_text(result))
    for key in ("png", "html"):
        if key in doc:
            print(f"{key}: {doc[key]}")
    if args.json is not None:
        print(f"json: {args.json}")
    return 0
