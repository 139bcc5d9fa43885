"""``recsys preview``: the rows and artwork a user (or a few users of a segment) get, as HTML.

The world, warm-up and training are those of an experiment (the demo's embedded one unless
``--config``): the policy is fitted on the warm-up logs exactly as the harness fits an arm,
and the page is the one it would build for the user on day 0. Bad input writes nothing.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import numpy as np

from recsys.cli import positive_int
from recsys.cli.args import load_experiment
from recsys.core.errors import InputError
from recsys.world.segments import SEGMENTS

DAY = 0


def add_parser(sub, name: str) -> None:
    p = sub.add_parser(
        name, help="a user's or a segment's homepage (rows, artwork, scores) as an HTML page",
        description="Build the world, warm up, fit a policy on the warm-up logs as the A/B harness does, "
                    "and draw the homepage it gives one user (--user) or a few users of a segment "
                    "(--segment) on day 0: named rows of cards whose artwork is a poster generated (inline SVG) "
                    "from the variant's public theme; hovering a card shows its full title, score, rank, artwork "
                    "variant and propensity.")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", type=int, metavar="ID", help="a user id of the world")
    who.add_argument("--segment", choices=SEGMENTS, help="preview --count users of this segment")
    p.add_argument("--count", type=positive_int, default=3, help="users shown for --segment (default 3)")
    p.add_argument("--policy", help="random | popularity | cf | content | hybrid | oracle "
                                    "(default: the experiment's --arm)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="policy parameter, repeatable (e.g. diversity=0.3, artwork=bandit-play)")
    p.add_argument("--config", type=Path, help="experiment TOML: its world, and its arms for --arm "
                                                "(default: the demo's embedded experiment)")
    p.add_argument("--arm", help="take the policy of this arm (default: the first arm that is not the control)")
    p.add_argument("--users", type=positive_int, help="override the number of users in the world")
    p.add_argument("--seed", type=int, help="override the seed")
    p.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    p.add_argument("--json", type=Path, help="also write the rows, titles and scores as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def parse_params(items: list[str]) -> dict:
    """``key=value`` strings to a dict; values are read as TOML (numbers, booleans, lists), else text."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise InputError(f"--param {item!r}: expected KEY=VALUE, e.g. diversity=0.3")
        try:
            out[key] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value.strip()
    return out


def check_output(path: Path, flag: str) -> None:
    """``flag``'s file can be written (missing folders are created when it is, as --out's are)."""
    from recsys.core.io import check_writable

    try:
        check_writable(path)
    except InputError as exc:
        raise InputError(f"{flag}: {exc}") from None


def resolve_policy(config, policy: str | None, arm: str | None, params: dict) -> tuple[str, dict, str | None]:
    """(policy name, parameters, arm name or None for --policy) from the arguments."""
    from recsys.policies import POLICIES

    if policy is not None:
        if arm is not None:
            raise InputError("give either --policy or --arm, not both")
        if policy not in POLICIES:
            raise InputError(f"unknown policy {policy!r} (known: {', '.join(POLICIES)})")
        return policy, params, None
    names = [a.name for a in config.arms]
    if arm is None:
        arm = next((a.name for a in config.arms if a.name != config.control), names[0])
    match = [a for a in config.arms if a.name == arm]
    if not match:
        raise InputError(f"unknown arm {arm!r} (arms: {', '.join(names)})")
    return match[0].policy, {**dict(match[0].params), **params}, arm


def resolve_users(signup_day: np.ndarray, segment: np.ndarray | None, *, user: int | None = None,
                  segment_name: str | None = None, count: int = 3, seed: int = 0, day: int = DAY) -> np.ndarray:
    """The user ids to preview: ``user`` (checked: in the world, signed up by ``day``), or ``count``
    users of ``segment_name`` (codes in ``segment``) drawn with a seeded generator, sorted."""
    from recsys.core.rng import generator

    n = len(signup_day)
    if user is not None:
        if not 0 <= user < n:
            raise InputError(f"--user {user} is not in the world (user ids 0..{n - 1})")
        if signup_day[user] > day:
            raise InputError(f"--user {user} has not signed up by day {day} (signs up on day {int(signup_day[user])})")
        return np.array([user], dtype=np.int64)
    if segment_name not in SEGMENTS:
        raise InputError(f"unknown segment {segment_name!r} (known: {', '.join(SEGMENTS)})")
    pool = np.flatnonzero((np.asarray(segment) == SEGMENTS.index(segment_name)) & (signup_day <= day))
    if len(pool) == 0:
        raise InputError(f"no users of segment {segment_name!r} in this world")
    pick = generator(seed, "preview", segment_name).choice(pool, size=min(count, len(pool)), replace=False)
    return np.sort(pick).astype(np.int64)


def run(args: argparse.Namespace) -> int:
    from recsys.cli.demo import default_config
    from recsys.core.io import write_json, write_text
    from recsys.core.page import Layout
    from recsys.policies import make_policy
    from recsys.experiment.preview import homepage_for
    from recsys.report.preview import (BLEND_LABEL, DAY0_YEAR, blend_shares, format_shares, homepage_fragment,
                                       preview_document)
    from recsys.core.rng import KeyedRandom
    from recsys.core.progress import Progress
    from recsys.simulate.runner import Simulation
    from recsys.experiment.warmup import warm_up
    from recsys.world.build import build_world

    check_output(args.out, "--out")
    if args.json is not None:
        check_output(args.json, "--json")
    config = load_experiment(args.config) if args.config is not None else default_config()
    overrides = {k: getattr(args, k) for k in ("users", "seed") if getattr(args, k) is not None}
    if overrides:
        config = config.replace(**overrides)
    name, params, arm = resolve_policy(config, args.policy, args.arm, parse_params(args.param))
    label = arm if arm is not None else name     # the policy's random stream, as the harness names it
    if args.user is not None and not 0 <= args.user < config.world.users:
        raise InputError(f"--user {args.user} is not in the world (user ids 0..{config.world.users - 1})")

    world = build_world(config.world, config.seed)
    policy = make_policy(name, params, seed=config.seed, world=world)   # bad parameters fail here
    if args.user is not None:
        resolve_users(world.users.signup_day, None, user=args.user)
    sim = Simulation(world, config.seed, progress=Progress(config.warmup_days, enabled=not args.quiet))
    try:
        warm = warm_up(sim, config.warmup_days, explore=config.warmup_explore, explore_draw=config.warmup_explore_draw)
        users = resolve_users(world.users.signup_day, warm.segment, user=args.user, segment_name=args.segment,
                              count=args.count, seed=config.seed)
        policy.fit(warm.logs.observed(), world.catalog, day=DAY, n_users=world.n_users)
        layout = Layout(world.config.rows, world.config.row_length)
        rand = KeyedRandom.from_seed(config.seed, "policy", label)
        page, expl = homepage_for(policy, sim.shards, users, DAY, layout, rand)
        state = {int(u): (s, int(u) - s.start) for s in sim.shards for u in users if s.start <= u < s.stop}
    finally:
        sim.close()

    cat = world.catalog
    sections, doc_users = [], []
    for i, u in enumerate(users):
        s, row = state[int(u)]
        seg = SEGMENTS[int(warm.segment[u])]
        recent = [str(cat.name[t]) for t in s.obs_recent[row] if t >= 0][:3]
        facts = [("segment", seg), ("signed up", f"day {int(world.users.signup_day[u])}"),
                 ("plays seen", str(int(s.obs_plays[row]))), ("sessions seen", str(int(s.obs_sessions[row]))),
                 ("recently played", "; ".join(recent) if recent else "nothing yet")]
        if expl is not None and expl.weights:
            facts.append((BLEND_LABEL, format_shares(blend_shares(expl.weights, i)) + " (sum to 1)"))
        if s.churned[row]:
            facts.append(("note", "the account lapsed during the warm-up"))
        sections.append(homepage_fragment(cat, page, i, explanation=expl, heading=f"User {int(u)}", facts=facts,
                                          with_style=False))
        doc_users.append(user_json(cat, page, i, expl, int(u), seg, plays=int(s.obs_plays[row])))
    what = f"arm {arm!r}: " if arm is not None else ""
    subtitle = (f"{what}policy {name}" + (f" ({', '.join(f'{k}={v}' for k, v in params.items())})" if params else "")
                + f"; world seed {config.seed}, {world.n_users:,} users, {cat.n_titles:,} titles; day {DAY} after a "
                f"{config.warmup_days}-day warm-up")
    notes = ("Each card's artwork is a poster generated from its variant's public theme: a genre's colour, motif "
             "and typeface, a cast member's portrait and credit, or a mood's palette and pattern; the variant's "
             "index sets the composition. Hover or focus a card for its full title, score, rank, slot, artwork "
             "variant and propensity. The hybrid's weights are the per-user weights of its components' "
             "standardised scores (collaborative filtering, content, popularity; the cold-start prior when "
             f"there is nothing else), normalised to sum to 1. Years are shown as if day 0 were in {DAY0_YEAR}.")
    html = preview_document(sections, title="Homepage preview", subtitle=subtitle, notes=notes)
    write_text(args.out, html)
    if args.json is not None:
        write_json(args.json, {"policy": name, "params": params, "arm": arm,
                               "seed": config.seed, "day": DAY, "users": doc_users, "html": str(args.out)})
    n_cards = int((page.titles >= 0).sum())
    print(f"{len(users)} user(s), {n_cards} cards: {args.out}")
    return 0


def user_json(cat, page, i: int, expl, user_id: int, segment: str, plays: int | None = None) -> dict:
    """One user's rows and cards (title, artwork, propensity, scores) for the JSON output, and for the
    hybrid its blend shares (``blend``: the per-user weights of its components, summing to 1)."""
    from recsys.core.page import ROW_KINDS
    from recsys.report.preview import blend_shares, row_titles

    labels = row_titles(cat, page, i)
    rows = []
    for r in range(page.titles.shape[1]):
        cards = []
        for k in range(page.titles.shape[2]):
            t = int(page.titles[i, r, k])
            if t < 0:
                continue
            art = int(page.artwork[i, r, k])
            card = {"title": t, "name": str(cat.name[t]), "artwork": art,
                    "theme": str(cat.art_label(np.array([art]))[0]) if art >= 0 else None,
                    "propensity": float(page.propensity[i, r, k])}
            if page.score is not None:
                card["score"] = float(page.score[i, r, k])
            if expl is not None:
                if expl.parts:
                    card["parts"] = {n: float(v[i, r, k]) for n, v in expl.parts.items()}
                if expl.rank_scored is not None:
                    card["rank_scored"] = int(expl.rank_scored[i, r, k])
                    card["rank_reranked"] = int(expl.rank_reranked[i, r, k])
            cards.append(card)
        rows.append({"kind": ROW_KINDS[int(page.row_kind[i, r])], "ref": int(page.row_ref[i, r]),
                     "label": labels[r], "titles": cards})
    doc = {"user_id": user_id, "segment": segment, "plays_seen": plays, "rows": rows}
    if expl is not None and expl.weights:
        doc["blend"] = blend_shares(expl.weights, i)
    return doc
