"""A user's homepage as HTML: named rows of cards, each card's artwork drawn as inline SVG.

The artwork is drawn from the shown variant's *public* theme only (a genre's colour and motif,
a cast member's silhouette and name, a mood's palette and motif), so the page needs no image
files, no network and no script. Hovering (or focusing) a card shows what put it there: the
policy's score and, for the hybrid, its cf / content / popularity terms; the title's rank in
the scorer's list and after re-ranking; its slot; the artwork variant and its propensity.

:func:`homepage_fragment` renders one user's page as a fragment (the demo report embeds one per
segment); :func:`preview_document` wraps fragments into a standalone page;
:func:`homepage_for` builds the pages and explanations a fitted policy gives some users.
"""

from __future__ import annotations

import html
import math
import zlib

import numpy as np

from recsys.page import ROW_KINDS, Explanation, Layout, Page
from recsys.rng import KeyedRandom
from recsys.world.catalog import KIND_NAMES, MOODS, THEME_KINDS, Catalog

#: the calendar year day 0 is shown as (display only: the world counts days)
DAY0_YEAR = 2025

ROW_TITLES = {
    "top_picks": "Top picks for you",
    "new_this_week": "New this week",
    "popular_now": "Popular now",
    "continue": "More like your recent plays",
    "explore": "Explore something different",
}

#: genre -> (colour, motif); unknown genres get a colour and motif from their name
GENRE_STYLE = {
    "drama": ("#7b3f61", "masks"), "comedy": ("#f2a900", "smile"), "action": ("#d1462f", "bolt"),
    "thriller": ("#37474f", "eye"), "romance": ("#d81b60", "heart"), "documentary": ("#2e7d32", "lens"),
    "family": ("#fb8c00", "house"), "animation": ("#00acc1", "star"), "crime": ("#263238", "magnifier"),
    "sci-fi": ("#3949ab", "planet"), "fantasy": ("#6a1b9a", "crown"), "horror": ("#4e0d0d", "ghost"),
    "mystery": ("#4527a0", "eye"), "adventure": ("#00897b", "mountain"), "history": ("#8d6e63", "crown"),
    "music": ("#c2185b", "note"), "reality": ("#ef6c00", "lens"), "sport": ("#43a047", "ball"),
    "war": ("#5d4037", "swords"), "western": ("#bf7b3a", "sun"), "biography": ("#546e7a", "book"),
    "teen": ("#ec407a", "star"), "anime": ("#e53935", "spark"), "stand-up": ("#7e57c2", "mic"),
}
#: mood -> (light colour, dark colour, motif)
MOOD_STYLE = {
    "dark": ("#3b3f6a", "#11131f", "moon"), "bright": ("#ffe066", "#ff9f1c", "sun"),
    "romantic": ("#f7a1c4", "#ad1457", "heart"), "tense": ("#c62828", "#1c1c1c", "zigzag"),
    "epic": ("#ffb300", "#4a148c", "mountain"), "cosy": ("#f3c98b", "#8d5524", "cup"),
}

# motifs drawn in a 160 x 90 box, centred around (80, 40), filled with the current colour
_MOTIFS = {
    "bolt": '<polygon points="90,8 60,48 78,48 68,80 102,36 84,36 98,8"/>',
    "heart": '<path d="M80 70C48 50 50 18 70 20C76 21 79 25 80 29C81 25 84 21 90 20C110 18 112 50 80 70Z"/>',
    "star": '<polygon points="80,12 87,32 108,32 91,45 97,66 80,53 63,66 69,45 52,32 73,32"/>',
    "spark": '<polygon points="80,6 86,34 112,40 86,46 80,74 74,46 48,40 74,34"/>',
    "moon": '<path d="M92 12A30 30 0 1 0 92 70A24 24 0 1 1 92 12Z"/>',
    "sun": '<circle cx="80" cy="40" r="16"/><g stroke="currentColor" stroke-width="4" stroke-linecap="round">'
           '<line x1="80" y1="8" x2="80" y2="16"/><line x1="80" y1="64" x2="80" y2="72"/>'
           '<line x1="48" y1="40" x2="56" y2="40"/><line x1="104" y1="40" x2="112" y2="40"/>'
           '<line x1="57" y1="17" x2="63" y2="23"/><line x1="97" y1="57" x2="103" y2="63"/>'
           '<line x1="57" y1="63" x2="63" y2="57"/><line x1="97" y1="23" x2="103" y2="17"/></g>',
    "mountain": '<polygon points="22,74 62,22 80,46 96,30 138,74"/>',
    "zigzag": '<polyline points="30,60 50,24 70,60 90,24 110,60 130,24" fill="none" stroke="currentColor" '
              'stroke-width="7" stroke-linejoin="round"/>',
    "cup": '<path d="M58 30H100V52A18 18 0 0 1 82 70H76A18 18 0 0 1 58 52Z"/><path d="M100 36H108A8 8 0 0 1 '
           '108 52H100" fill="none" stroke="currentColor" stroke-width="5"/><path d="M70 12Q66 19 70 25M80 10Q76 '
           '18 80 25M90 12Q86 19 90 25" fill="none" stroke="currentColor" stroke-width="3"/>',
    "masks": '<circle cx="68" cy="38" r="20"/><circle cx="94" cy="44" r="20" fill-opacity=".6"/>',
    "smile": '<circle cx="80" cy="40" r="28" fill-opacity=".35"/><circle cx="70" cy="32" r="4"/>'
             '<circle cx="90" cy="32" r="4"/><path d="M64 46Q80 62 96 46" fill="none" stroke="currentColor" '
             'stroke-width="5" stroke-linecap="round"/>',
    "eye": '<path d="M40 40Q80 6 120 40Q80 74 40 40Z" fill-opacity=".45"/><circle cx="80" cy="40" r="13"/>',
    "lens": '<circle cx="80" cy="40" r="26" fill="none" stroke="currentColor" stroke-width="6"/>'
            '<circle cx="80" cy="40" r="12"/>',
    "house": '<polygon points="80,10 116,40 106,40 106,72 54,72 54,40 44,40"/>',
    "magnifier": '<circle cx="74" cy="36" r="20" fill="none" stroke="currentColor" stroke-width="7"/>'
                 '<line x1="88" y1="50" x2="108" y2="70" stroke="currentColor" stroke-width="9" '
                 'stroke-linecap="round"/>',
    "planet": '<circle cx="80" cy="40" r="20"/><ellipse cx="80" cy="40" rx="40" ry="10" fill="none" '
              'stroke="currentColor" stroke-width="4" transform="rotate(-18 80 40)"/>',
    "crown": '<polygon points="50,66 46,24 64,42 80,16 96,42 114,24 110,66"/>',
    "ghost": '<path d="M56 72V38A24 24 0 0 1 104 38V72L96 64L88 72L80 64L72 72L64 64Z"/>',
    "note": '<path d="M72 62A10 8 0 1 1 70 54V16L104 10V52A10 8 0 1 1 102 44V22L76 27V62Z"/>',
    "ball": '<circle cx="80" cy="40" r="26"/><path d="M58 26Q80 40 102 26M58 54Q80 40 102 54" fill="none" '
            'stroke="#ffffff" stroke-opacity=".7" stroke-width="3"/>',
    "swords": '<g stroke="currentColor" stroke-width="7" stroke-linecap="round"><line x1="54" y1="14" x2="106" '
              'y2="66"/><line x1="106" y1="14" x2="54" y2="66"/></g>',
    "book": '<path d="M44 20Q62 14 80 22Q98 14 116 20V66Q98 60 80 68Q62 60 44 66Z"/>',
    "mic": '<rect x="70" y="10" width="20" height="36" rx="10"/><path d="M62 38A18 18 0 0 0 98 38" fill="none" '
           'stroke="currentColor" stroke-width="4"/><line x1="80" y1="56" x2="80" y2="72" stroke="currentColor" '
           'stroke-width="5"/>',
    "person": '<circle cx="80" cy="30" r="15"/><path d="M46 86Q48 50 80 50Q112 50 114 86Z"/>',
}
_FALLBACK_MOTIFS = ("star", "circle-dots", "mountain", "lens")
_MOTIFS["circle-dots"] = ('<circle cx="62" cy="40" r="10"/><circle cx="80" cy="40" r="10"/>'
                          '<circle cx="98" cy="40" r="10"/>')


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _hue_colour(name: str, s: int = 55, l: int = 42) -> str:
    return f"hsl({zlib.crc32(name.encode('utf-8')) % 360},{s}%,{l}%)"


def _shade(hex_colour: str, f: float) -> str:
    """Mix a #rrggbb colour with black (f < 0) or white (f > 0)."""
    h = hex_colour.lstrip("#")
    rgb = [int(h[i:i + 2], 16) for i in (0, 2, 4)]
    out = [round(c + (255 - c) * f) if f > 0 else round(c * (1 + f)) for c in rgb]
    return "#" + "".join(f"{max(0, min(255, c)):02x}" for c in out)


def genre_style(name: str) -> tuple[str, str]:
    if name in GENRE_STYLE:
        return GENRE_STYLE[name]
    k = zlib.crc32(name.encode("utf-8"))
    return _hue_colour(name), _FALLBACK_MOTIFS[k % len(_FALLBACK_MOTIFS)]


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "\u2026"


def theme_style(catalog: Catalog, art: int) -> dict:
    """How artwork ``art`` is drawn, from its public theme: gradient colours, motif, ink colour and
    the featured cast member's name (cast themes)."""
    art = int(art)
    theme = THEME_KINDS[int(catalog.art_theme[art])]
    style = {"theme": theme, "ink": "#ffffff", "person": None}
    if theme == "genre":
        colour, motif = genre_style(catalog.genre_names[int(catalog.art_genre[art])])
        top, bottom = (_shade(colour, 0.25), _shade(colour, -0.45)) if colour.startswith("#") else (colour, "#1c1c1c")
    elif theme == "cast":
        person = str(catalog.cast_names[int(catalog.art_cast[art])])
        top, bottom, motif = _hue_colour(person, 45, 55), _hue_colour(person, 50, 22), "person"
        style["person"] = person
    else:
        mood = MOODS[int(catalog.art_mood[art])]
        top, bottom, motif = MOOD_STYLE[mood]
        if mood in ("bright", "cosy"):
            style["ink"] = "#2b1d0e"
    style.update(top=top, bottom=bottom, motif=motif)
    return style


def artwork_svg(catalog: Catalog, art: int, *, width: int = 140) -> str:
    """Inline SVG for artwork ``art`` from its public theme, with the title's name across it."""
    art = int(art)
    t = int(catalog.art_title[art])
    label = str(catalog.art_label(np.array([art]))[0])
    st = theme_style(catalog, art)
    fg = st["ink"]
    extra = ""
    if st["person"] is not None:
        extra = (f'<text x="8" y="16" font-size="10" font-weight="600" fill="{fg}" '
                 f'fill-opacity=".9">{_e(_short(st["person"], 22))}</text>')
    n_var = int(catalog.art_offsets[t + 1] - catalog.art_offsets[t])
    v = art - int(catalog.art_offsets[t])
    gid = f"rp-g{art}"
    name = _short(str(catalog.name[t]), 25)
    height = round(width * 90 / 160)
    return (
        f'<svg class="rp-art" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 90" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(f"artwork {label} for {catalog.name[t]}")}" '
        f'data-art="{art}" data-theme="{_e(label)}">'
        f'<defs><linearGradient id="{gid}" x1="0" y1="0" x2="0.4" y2="1"><stop offset="0" stop-color="{st["top"]}"/>'
        f'<stop offset="1" stop-color="{st["bottom"]}"/></linearGradient></defs>'
        f'<rect width="160" height="90" fill="url(#{gid})"/>'
        f'<g fill="{fg}" color="{fg}" fill-opacity=".85">{_MOTIFS[st["motif"]]}</g>{extra}'
        f'<text x="152" y="14" font-size="9" text-anchor="end" fill="{fg}" fill-opacity=".75">{v + 1}/{n_var}</text>'
        f'<rect y="68" width="160" height="22" fill="#000" fill-opacity=".55"/>'
        f'<text x="6" y="83" font-size="11" font-weight="600" fill="#fff">{_e(name)}</text></svg>'
    )


def row_title(catalog: Catalog, kind: int, ref: int) -> str:
    """The row's heading, e.g. 'Because you watched The Quiet Harbor' or 'Comedy'."""
    name = ROW_KINDS[int(kind)]
    if name == "because_you_watched":
        return f"Because you watched {catalog.name[int(ref)]}" if ref >= 0 else "Because you watched"
    if name == "genre":
        return catalog.genre_names[int(ref)].capitalize() if ref >= 0 else "A genre for you"
    return ROW_TITLES.get(name, name.replace("_", " ").capitalize())


def title_facts(catalog: Catalog, t: int) -> tuple[str, str]:
    """(kind · year · runtime, genres) of title ``t``: public metadata only."""
    t = int(t)
    kind = KIND_NAMES[int(catalog.kind[t])]
    year = DAY0_YEAR + math.floor(int(catalog.release_day[t]) / 365)
    rt = int(round(float(catalog.runtime[t])))
    if kind == "movie":
        length = f"{rt // 60} h {rt % 60:02d} min" if rt >= 60 else f"{rt} min"
    else:
        length = f"{int(catalog.episodes[t])} episodes \u00d7 {rt} min"
    g = catalog.genres.tocsr()
    genres = ", ".join(catalog.genre_names[i] for i in g.indices[g.indptr[t]:g.indptr[t + 1]])
    return f"{kind.capitalize()} \u00b7 {year} \u00b7 {length}", genres


def _fmt(x) -> str:
    return "\u2013" if x is None or not np.isfinite(x) else f"{x:.3f}"


def slot_explanation(catalog: Catalog, page: Page, i: int, r: int, k: int,
                     explanation: Explanation | None) -> list[tuple[str, str]]:
    """(label, value) lines for the card at user ``i``, row ``r``, position ``k``."""
    art = int(page.artwork[i, r, k])
    t = int(page.titles[i, r, k])
    lines = []
    score = explanation.score if explanation is not None and explanation.score is not None else page.score
    if score is not None:
        lines.append(("score", _fmt(float(score[i, r, k]))))
    if explanation is not None and explanation.parts:
        parts = {n: float(v[i, r, k]) for n, v in explanation.parts.items()}
        shown = [f"{n} {v:+.3f}" for n, v in parts.items() if n != "prior" or abs(v) > 0]
        lines.append(("= ", " ".join(shown)))
    if explanation is not None and explanation.rank_reranked is not None:
        a, b = int(explanation.rank_scored[i, r, k]), int(explanation.rank_reranked[i, r, k])
        lines.append(("rank", f"scorer #{a} \u2192 re-ranked #{b}" if a and b else "an extra (popular or new), "
                      "not in the scorer's list"))
    lines.append(("slot", f"row {r + 1}, position {k + 1}"))
    if art >= 0:
        n_var = int(catalog.art_offsets[t + 1] - catalog.art_offsets[t])
        v = art - int(catalog.art_offsets[t])
        lines.append(("artwork", f"variant {v + 1} of {n_var}: {catalog.art_label(np.array([art]))[0]}"))
        lines.append(("propensity", f"{float(page.propensity[i, r, k]):.3f}"))
    return lines


def homepage_fragment(catalog: Catalog, page: Page, index: int = 0, *, explanation: Explanation | None = None,
                      heading: str | None = None, facts: list[tuple[str, str]] | None = None,
                      with_style: bool = True) -> str:
    """One user's homepage (row ``index`` of the batch ``page``) as an HTML fragment.

    ``heading`` and ``facts`` ((label, value) pairs) describe the user above the rows.
    ``with_style`` prepends the fragment's own ``<style>`` (class names start with ``rp-``), so
    it can be dropped into any page; :func:`preview_document` includes it once instead.
    """
    i = int(index)
    if not 0 <= i < len(page):
        raise IndexError(f"page has {len(page)} users, no index {i}")
    out = [f"<style>{PREVIEW_CSS}</style>"] if with_style else []
    out.append('<section class="rp-home">')
    if heading:
        out.append(f'<h3 class="rp-user">{_e(heading)}</h3>')
    if facts:
        out.append('<p class="rp-facts">' + "".join(f"<span><b>{_e(k)}:</b> {_e(v)}</span>" for k, v in facts) + "</p>")
    R, K = page.titles.shape[1:]
    for r in range(R):
        titles = page.titles[i, r]
        if not (titles >= 0).any():
            continue
        out.append(f'<div class="rp-rowwrap"><h4 class="rp-rowtitle" data-kind="{ROW_KINDS[int(page.row_kind[i, r])]}">'
                   f'{_e(row_title(catalog, page.row_kind[i, r], page.row_ref[i, r]))}</h4><div class="rp-row">')
        for k in range(K):
            t = int(titles[k])
            if t < 0:
                continue
            meta, genres = title_facts(catalog, t)
            lines = slot_explanation(catalog, page, i, r, k, explanation)
            tip = "".join(f"<dt>{_e(a)}</dt><dd>{_e(b)}</dd>" for a, b in lines)
            plain = "\n".join(f"{a}: {b}" if a != "= " else f"= {b}" for a, b in lines)
            art = int(page.artwork[i, r, k])
            picture = artwork_svg(catalog, art if art >= 0 else int(catalog.art_offsets[t]))
            out.append(
                f'<figure class="rp-card" tabindex="0" data-title="{t}" data-art="{art}" title="{_e(plain)}">'
                f'{picture}<figcaption><span class="rp-name">{_e(catalog.name[t])}</span>'
                f'<span class="rp-meta">{_e(meta)}</span><span class="rp-genres">{_e(genres)}</span></figcaption>'
                f'<dl class="rp-tip">{tip}</dl></figure>')
        out.append("</div></div>")
    out.append("</section>")
    return "".join(out)


PREVIEW_CSS = (
    ".rp-home{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#e8e8e8;background:#141414;"
    "padding:.6rem .8rem 1rem;border-radius:8px;margin:0 0 1.2rem}"
    ".rp-user{margin:.2rem 0 .3rem;font-size:1.05rem;color:#fff}"
    ".rp-facts{display:flex;flex-wrap:wrap;gap:.1rem 1.2rem;margin:0 0 .6rem;font-size:.78rem;color:#b3b3b3}"
    ".rp-rowtitle{margin:.7rem 0 .3rem;font-size:.92rem;color:#fff}"
    ".rp-row{display:flex;gap:8px;overflow-x:auto;padding-bottom:4px}"
    ".rp-card{position:relative;flex:0 0 140px;width:140px;margin:0;background:#1f1f1f;border-radius:4px;"
    "overflow:hidden;outline:none}"
    ".rp-card:hover,.rp-card:focus{box-shadow:0 0 0 2px #e5e5e5}"
    ".rp-art{display:block}"
    ".rp-card figcaption{padding:.25rem .35rem .35rem;display:flex;flex-direction:column;gap:.05rem}"
    ".rp-name{font-size:.76rem;font-weight:600;color:#fff;line-height:1.15}"
    ".rp-meta,.rp-genres{font-size:.68rem;color:#a8a8a8;line-height:1.2}"
    ".rp-tip{display:none;position:absolute;inset:0;margin:0;padding:.35rem .45rem;background:rgba(10,10,10,.93);"
    "font-size:.66rem;line-height:1.3;color:#eee;overflow:auto}"
    ".rp-tip dt{font-weight:600;color:#9ecbff;float:left;clear:left;margin-right:.3rem}"
    ".rp-tip dd{margin:0 0 .1rem}"
    ".rp-card:hover .rp-tip,.rp-card:focus .rp-tip{display:block}"
)


def preview_document(sections: list[str], *, title: str, subtitle: str = "", notes: str = "") -> str:
    """A standalone HTML page around :func:`homepage_fragment` outputs (made ``with_style=False``)."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>"
        "body{margin:0;background:#0b0b0b;color:#ddd;font-family:system-ui,-apple-system,'Segoe UI',sans-serif}"
        "main{max-width:1300px;margin:0 auto;padding:1rem}h1{font-size:1.4rem;margin:.3rem 0;color:#fff}"
        ".rp-sub,.rp-notes{color:#9a9a9a;font-size:.85rem;margin:.2rem 0 1rem}"
        f"{PREVIEW_CSS}</style></head><body><main>"
        f"<h1>{_e(title)}</h1><p class='rp-sub'>{_e(subtitle)}</p>"
        + "".join(sections)
        + (f"<p class='rp-notes'>{_e(notes)}</p>" if notes else "")
        + "</main></body></html>\n"
    )


def homepage_for(policy, shards, user_ids: np.ndarray, day: int, layout: Layout,
                 rand: KeyedRandom) -> tuple[Page, Explanation | None]:
    """The pages a fitted ``policy`` builds on ``day`` for ``user_ids`` (global ids, in order), as
    the simulator would (``policy.pages(state.context(rows, day), layout, rand)``), and the
    policy's explanation of them when it offers one (``explain``)."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    pages, expl, order = [], [], []
    for s in shards:
        sel = np.flatnonzero((user_ids >= s.start) & (user_ids < s.stop))
        if len(sel) == 0:
            continue
        ctx = s.context(user_ids[sel] - s.start, day)
        page = policy.pages(ctx, layout, rand)
        pages.append(page)
        order.append(sel)
        if hasattr(policy, "explain"):
            expl.append(policy.explain(ctx, page))
    inverse = np.empty(len(user_ids), dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(len(user_ids))
    page = Page.concat(pages, order=inverse)
    if not expl:
        return page, None
    return page, _concat_explanations(expl, inverse)


def _concat_explanations(parts: list[Explanation], order: np.ndarray) -> Explanation:
    def cat(arrays):
        if any(a is None for a in arrays):
            return None
        return np.concatenate(arrays)[order]

    def cat_dict(dicts):
        if any(d is None for d in dicts):
            return None
        return {k: cat([d[k] for d in dicts]) for k in dicts[0]}

    return Explanation(score=cat([p.score for p in parts]), parts=cat_dict([p.parts for p in parts]),
                       rank_scored=cat([p.rank_scored for p in parts]),
                       rank_reranked=cat([p.rank_reranked for p in parts]),
                       weights=cat_dict([p.weights for p in parts]))


def segment_previews(result, arm: str, *, day: int | None = None) -> dict[str, str]:
    """{segment: homepage fragment} for one still-active user of each segment in ``arm``.

    ``result`` is an :class:`~recsys.experiment.runner.ExperimentResult`; the page is the one
    the arm's fitted (and updated) policy builds on ``day`` (default: the day after the
    experiment), from the users' observable history, exactly as the simulator would build it.
    """
    from recsys.world.segments import SEGMENTS

    cfg = result.config
    a = cfg.arm_names.index(arm)
    t = result.table
    day = cfg.days if day is None else day
    active = (t["arm"] == arm) & (t["churned"] == 0) & (t["sessions"] > 0)
    picks = t[active].sort_values("user_id").groupby("segment", sort=False).head(1)
    if picks.empty:
        return {}
    users = picks["user_id"].to_numpy(np.int64)
    w = result.world.config
    layout = Layout(w.rows, w.row_length)
    rand = KeyedRandom.from_seed(cfg.seed, "policy", arm)
    page, expl = homepage_for(result.policies[a], result.shards, users, day, layout, rand)
    out = {}
    for i, (_, row) in enumerate(picks.iterrows()):
        facts = [("arm", arm), ("sessions in the experiment", str(int(row["sessions"]))),
                 ("plays", str(int(row["plays"])))]
        out[str(row["segment"])] = homepage_fragment(result.world.catalog, page, i, explanation=expl,
                                                     heading=f"User {int(row['user_id'])}", facts=facts,
                                                     with_style=(i == 0))
    rank = {seg: i for i, seg in enumerate(SEGMENTS)}
    return {seg: out[seg] for seg in sorted(out, key=lambda seg: rank.get(seg, len(rank)))}
