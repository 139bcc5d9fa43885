"""A user's homepage as HTML: named rows of cards, each card's artwork a generated poster.

The artwork is drawn by :mod:`recsys.report.posters` from the shown variant's *public* theme
only (genre, cast member or mood, as shapes, palette and type), so the page needs no image
files, no network and no script. Hovering (or focusing) a card shows the full title and what
put it there: the policy's score and, for the hybrid, its cf / content / popularity terms; the
title's rank in the scorer's list and after re-ranking; its slot; the artwork variant and its
propensity.

:func:`homepage_fragment` renders one user's page as a fragment (the demo report embeds one per
segment); :func:`preview_document` wraps fragments into a standalone page;
:func:`homepage_for` builds the pages and explanations a fitted policy gives some users;
:func:`blend_shares` turns the hybrid's per-user blend weights into shares that sum to 1.
"""

from __future__ import annotations

import html
import math

import numpy as np

from recsys.core.format import dash, fixed
from recsys.core.page import ROW_KINDS, Explanation, Page
from recsys.report.posters import poster_svg
from recsys.world.catalog import KIND_NAMES, Catalog

#: the calendar year day 0 is shown as (display only: the world counts days)
DAY0_YEAR = 2025

def _e(x) -> str:
    return html.escape(str(x), quote=True)


ROW_TITLES = {
    "top_picks": "Top picks for you",
    "new_this_week": "New this week",
    "popular_now": "Popular now",
    "continue": "More like your recent plays",
    "explore": "Explore something different",
}


def row_title(catalog: Catalog, kind: int, ref: int) -> str:
    """The row's heading, e.g. 'Because you watched The Quiet Harbor' or 'Comedy'."""
    name = ROW_KINDS[int(kind)]
    if name == "because_you_watched":
        return f"Because you watched {catalog.name[int(ref)]}" if ref >= 0 else "Because you watched"
    if name == "genre":
        return catalog.genre_names[int(ref)].capitalize() if ref >= 0 else "A genre for you"
    if name == "popular_now" and ref >= 0:
        return f"Popular in {catalog.genre_names[int(ref)]}"
    return ROW_TITLES.get(name, name.replace("_", " ").capitalize())


def row_titles(catalog: Catalog, page: Page, index: int) -> list[str]:
    """The headings of user ``index``'s rows. A row of the same kind and reference as a row above
    it continues that list (a policy that ranks one list and cuts it into rows, such as
    popularity): it is headed as the list's continuation with its positions in the list, e.g.
    "Popular now, continued (9-16)", so that no two rows carry the same name."""
    i = int(index)
    out, shown = [], {}
    for r in range(page.titles.shape[1]):
        key = (int(page.row_kind[i, r]), int(page.row_ref[i, r]))
        n = int((page.titles[i, r] >= 0).sum())
        name = row_title(catalog, *key)
        if n and key in shown:
            name = f"{name}, continued ({shown[key] + 1}\u2013{shown[key] + n})"
        if n:
            shown[key] = shown.get(key, 0) + n
        out.append(name)
    return out


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


def _fixed(x) -> str:
    return dash(fixed(x, 3))


def slot_explanation(catalog: Catalog, page: Page, i: int, r: int, k: int,
                     explanation: Explanation | None) -> list[tuple[str, str]]:
    """(label, value) lines for the card at user ``i``, row ``r``, position ``k``."""
    art = int(page.artwork[i, r, k])
    t = int(page.titles[i, r, k])
    lines = []
    score = explanation.score if explanation is not None and explanation.score is not None else page.score
    if score is not None:
        lines.append(("score", _fixed(float(score[i, r, k]))))
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
    headings = row_titles(catalog, page, i)
    for r in range(R):
        titles = page.titles[i, r]
        if not (titles >= 0).any():
            continue
        out.append(f'<div class="rp-rowwrap"><h4 class="rp-rowtitle" data-kind="{ROW_KINDS[int(page.row_kind[i, r])]}" '
                   f'data-ref="{int(page.row_ref[i, r])}">{_e(headings[r])}</h4><div class="rp-row">')
        for k in range(K):
            t = int(titles[k])
            if t < 0:
                continue
            meta, genres = title_facts(catalog, t)
            lines = slot_explanation(catalog, page, i, r, k, explanation)
            name = str(catalog.name[t])
            tip = "".join(f"<dt>{_e(a)}</dt><dd>{_e(b)}</dd>" for a, b in lines)
            plain = "\n".join([name] + [f"{a}: {b}" if a != "= " else f"= {b}" for a, b in lines])
            art = int(page.artwork[i, r, k])
            picture = poster_svg(catalog, art if art >= 0 else int(catalog.art_offsets[t]), width=CARD_WIDTH)
            out.append(
                f'<figure class="rp-card" tabindex="0" data-title="{t}" data-art="{art}" title="{_e(plain)}">'
                f'{picture}<figcaption><span class="rp-name">{_e(name)}</span>'
                f'<span class="rp-meta">{_e(meta)}</span><span class="rp-genres">{_e(genres)}</span></figcaption>'
                f'<div class="rp-tip"><p class="rp-tipname">{_e(name)}</p><dl>{tip}</dl></div></figure>')
        out.append("</div></div>")
    out.append("</section>")
    return "".join(out)


#: a card's width in CSS pixels (its poster is 16:9)
CARD_WIDTH = 140

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
    ".rp-card .poster{display:block}"
    ".rp-card figcaption{padding:.25rem .35rem .35rem;display:flex;flex-direction:column;gap:.05rem}"
    ".rp-name{font-size:.76rem;font-weight:600;color:#fff;line-height:1.15}"
    ".rp-meta,.rp-genres{font-size:.68rem;color:#a8a8a8;line-height:1.2}"
    ".rp-tip{display:none;position:absolute;inset:0;margin:0;padding:.35rem .45rem;background:rgba(10,10,10,.93);"
    "font-size:.66rem;line-height:1.3;color:#eee;overflow:auto}"
    ".rp-tip dl{margin:0}.rp-tipname{margin:0 0 .2rem;font-size:.74rem;font-weight:700;color:#fff}"
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


#: what the blend shares are, for the label beside them
BLEND_LABEL = "hybrid's weights for this user"


def blend_shares(weights: dict[str, np.ndarray], index: int) -> dict[str, float]:
    """The hybrid's blend weights of user ``index`` normalised to sum to 1.

    ``weights`` (name -> (n,) array, e.g. ``Explanation.weights``) are the hybrid's per-user
    weights of its components' standardised scores (cf, content, popularity;
    :meth:`recsys.models.hybrid.Hybrid.blend_weights`), so each share is that component's part of
    the user's blend. When every weight is 0 the hybrid falls back to its cold-start popularity
    prior, which then carries the whole blend (``prior`` 1.0)."""
    w = {k: max(float(v[int(index)]), 0.0) for k, v in weights.items()}
    total = sum(w.values())
    if total <= 0:
        return {**{k: 0.0 for k in w}, "prior": 1.0}
    return {k: v / total for k, v in w.items()}


def format_shares(shares: dict[str, float], digits: int = 2) -> str:
    """'cf 0.62 · content 0.22 · popularity 0.16': rounded by largest remainder, so that the
    printed figures themselves sum to 1."""
    scale = 10 ** digits
    raw = {k: v * scale for k, v in shares.items()}
    floor = {k: math.floor(v) for k, v in raw.items()}
    left = scale - sum(floor.values())
    for k in sorted(raw, key=lambda k: floor[k] - raw[k])[:max(left, 0)]:
        floor[k] += 1
    return " \u00b7 ".join(f"{'cold-start prior' if k == 'prior' else k} {floor[k] / scale:.{digits}f}" for k in shares)


def segment_fragments(catalog: Catalog, homepages) -> dict[str, str]:
    """{"segment · arm": homepage fragment} from :func:`recsys.experiment.preview.segment_homepages`
    of each arm: one still-active user per segment, as each arm builds the page."""
    from recsys.world.segments import SEGMENTS

    rank = {seg: i for i, seg in enumerate(SEGMENTS)}
    out = []
    first = True
    for hp in homepages:
        for i, u in enumerate(hp.users):
            facts = [("arm", hp.arm), ("sessions in the experiment", str(u["sessions"])), ("plays", str(u["plays"]))]
            frag = homepage_fragment(catalog, hp.page, i, explanation=hp.explanation, heading=f"User {u['user_id']}",
                                     facts=facts, with_style=first)
            first = False
            out.append((rank.get(u["segment"], len(rank)), u["segment"], hp.arm, frag))
    return {f"{seg} \u00b7 {arm}": frag for _, seg, arm, frag in sorted(out, key=lambda x: x[:3])}
