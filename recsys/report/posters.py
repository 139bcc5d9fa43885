"""Artwork drawn as generated posters: inline SVG from a variant's *public* theme only.

A variant plays up a genre, a cast member or a mood (``Catalog.art_theme``, ``art_genre``,
``art_cast``, ``art_mood``). The poster turns that into shapes, palette and type:

* genre: the genre's colour and motif (a bolt for action, a heart for romance, ...) and its
  typeface (slab capitals for action, italic serif for romance, typewriter for crime, ...);
* cast: a portrait silhouette in a palette of the person's own, their name credited above the
  title in a classic serif;
* mood: the mood's palette, pattern (stars for dark, rays for bright, bokeh for romantic, shards
  for tense, ridges for epic, waves for cosy) and typeface.

The variant's index within its title picks the composition (where the motif sits, its scale,
the gradient's direction, the background pattern of genre and cast posters), so two variants
of one title never draw the same poster, even with the same theme. Nothing hidden (appeal,
honesty, truth) is read. The title is set in at most two lines at the largest size that fits
the card, by a width estimate from the typeface's metrics; an ellipsis (at a word boundary) is
the last resort, and the full title is always in the SVG's ``<title>`` (shown on hover) and
``aria-label``. Posters need no image file, font file, script or network.
"""

from __future__ import annotations

import html
import zlib
from dataclasses import dataclass

import numpy as np

from recsys.world.catalog import KIND_NAMES, MOODS, THEME_KINDS, Catalog

#: the poster's coordinate box (16:9, like a streaming service's row artwork)
VIEW_W, VIEW_H = 160, 90
MARGIN = 8

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
#: mood -> (light colour, dark colour, motif, pattern)
MOOD_STYLE = {
    "dark": ("#3b3f6a", "#0d0f1a", "moon", "stars"), "bright": ("#ffe066", "#ff8f1c", "sun", "rays"),
    "romantic": ("#f7a1c4", "#9c1050", "heart", "bokeh"), "tense": ("#c62828", "#161616", "zigzag", "shards"),
    "epic": ("#ffb300", "#3d0f7a", "mountain", "ridges"), "cosy": ("#f3c98b", "#7a4519", "cup", "waves"),
}


@dataclass(frozen=True)
class Type:
    """A poster's title type: face (sans, serif, mono), weight, italic, capitals, tracking (em)."""

    face: str = "sans"
    weight: int = 700
    italic: bool = False
    upper: bool = False
    tracking: float = 0.0


_T = Type
GENRE_TYPE = {
    "drama": _T("serif"), "comedy": _T("sans", 900), "action": _T("sans", 900, True, True),
    "thriller": _T("sans", 700, False, True, 0.08), "romance": _T("serif", 700, True),
    "documentary": _T("sans", 700), "family": _T("sans", 800), "animation": _T("sans", 900),
    "crime": _T("mono", 700, False, True), "sci-fi": _T("mono", 700, False, True, 0.04),
    "fantasy": _T("serif", 700, False, True, 0.06), "horror": _T("serif", 700, False, True),
    "mystery": _T("serif", 700, True), "adventure": _T("sans", 900, False, True),
    "history": _T("serif", 700, False, True, 0.06), "music": _T("sans", 800, True),
    "reality": _T("sans", 900), "sport": _T("sans", 900, True, True), "war": _T("serif", 800, False, True),
    "western": _T("serif", 800, False, True, 0.04), "biography": _T("serif"), "teen": _T("sans", 800),
    "anime": _T("sans", 900, True), "stand-up": _T("sans", 900, False, True),
}
MOOD_TYPE = {
    "dark": _T("serif", 700, False, True, 0.05), "bright": _T("sans", 900), "romantic": _T("serif", 700, True),
    "tense": _T("sans", 800, False, True, 0.04), "epic": _T("serif", 700, False, True, 0.1),
    "cosy": _T("sans", 700, True),
}
CAST_TYPE = _T("serif", 700)

FONT_STACKS = {
    "sans": "Arial, 'Liberation Sans', Helvetica, sans-serif",
    "serif": "'Times New Roman', 'Liberation Serif', Times, serif",
    "mono": "'Courier New', 'Liberation Mono', monospace",
}


def _widths(groups: dict[float, str]) -> dict[str, float]:
    return {c: w for w, chars in groups.items() for c in chars}


# advance widths (em) of the faces' bold cuts (Arial / Times New Roman metrics, which Liberation
# Sans / Serif share; measured in headless Chromium); other characters count as 0.72 em
_SANS = _widths({0.24: "'", 0.28: " ,.Iijl", 0.33: "!()-:;ft", 0.39: "r", 0.5: "z", 0.56: "0123456789Jaceksvxy&",
                 0.61: "?FLTZbdghnopqu", 0.67: "EPSVXY", 0.72: "ABCDHKNRU", 0.78: "GOQw", 0.83: "M", 0.89: "m",
                 0.94: "W"})
_SERIF = _widths({0.25: " ,.", 0.28: "'il", 0.33: "!()-:;fjt", 0.39: "Is", 0.44: "cerz", 0.5: "0123456789?Jagovxy",
                  0.56: "Sbdhknpqu", 0.61: "FP", 0.67: "BELTZ", 0.72: "ACDNRUVXYw&", 0.78: "GHKOQ", 0.83: "m",
                  0.94: "M", 1.0: "W"})
_METRICS = {"sans": _SANS, "serif": _SERIF}
#: a line estimated above this share of the box gets an explicit ``textLength``, so that a wider
#: fallback font is squeezed to the estimate instead of overflowing; shorter lines have room to spare
_SQUEEZE_FROM = 0.8
#: a thin dark outline under the text, so that it reads over any shape behind it
_HALO = 'stroke="#000" stroke-opacity=".45" stroke-width="1.6" paint-order="stroke" stroke-linejoin="round"'

# motifs drawn in a 160 x 90 box around (80, 40), filled with the current colour
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
    "person": '<circle cx="80" cy="28" r="15"/><path d="M46 84Q48 48 80 48Q112 48 114 84Z"/>',
    "dots3": '<circle cx="62" cy="40" r="10"/><circle cx="80" cy="40" r="10"/><circle cx="98" cy="40" r="10"/>',
}
_FALLBACK_MOTIFS = ("star", "dots3", "mountain", "lens")

#: compositions, picked by the variant's index within its title: where the motif sits (centre,
#: scale, opacity), the gradient's direction, and the background pattern of genre / cast posters
_COMPOSITIONS = (
    {"motif": (116, 32, 1.0, 0.9), "grad": (0, 0, 0.4, 1), "pattern": "rays"},
    {"motif": (44, 30, 0.9, 0.9), "grad": (1, 0, 0.5, 1), "pattern": "stripes"},
    {"motif": (80, 32, 1.55, 0.35), "grad": (0, 1, 0, 0), "pattern": "dots"},
    {"motif": (132, 44, 1.35, 0.85), "grad": (0, 0, 1, 1), "pattern": "rings"},
    {"motif": (104, 24, 0.75, 0.95), "grad": (1, 1, 0, 0), "pattern": "grid"},
    {"motif": (28, 42, 1.35, 0.8), "grad": (0.5, 0, 0.5, 1), "pattern": "arcs"},
)


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _hue(name: str, s: int, l: int) -> str:
    return f"hsl({zlib.crc32(name.encode('utf-8')) % 360},{s}%,{l}%)"


def _shade(colour: str, f: float) -> str:
    """Mix a #rrggbb colour with black (f < 0) or white (f > 0)."""
    h = colour.lstrip("#")
    rgb = [int(h[i:i + 2], 16) for i in (0, 2, 4)]
    out = [round(c + (255 - c) * f) if f > 0 else round(c * (1 + f)) for c in rgb]
    return "#" + "".join(f"{max(0, min(255, c)):02x}" for c in out)


def genre_style(name: str) -> tuple[str, str]:
    """(colour, motif) of a genre; unknown genres get both from their name."""
    if name in GENRE_STYLE:
        return GENRE_STYLE[name]
    k = zlib.crc32(name.encode("utf-8"))
    return _hue(name, 55, 42), _FALLBACK_MOTIFS[k % len(_FALLBACK_MOTIFS)]


@dataclass(frozen=True)
class PosterStyle:
    """How one artwork variant is drawn, from its public theme and its index within the title."""

    theme: str          # genre | cast | mood
    label: str          # e.g. "genre:comedy", "cast:Ana Lind", "mood:dark"
    top: str            # gradient colours
    bottom: str
    accent: str         # pattern and badge colour
    motif: str
    pattern: str
    type: Type
    credit: str | None  # the featured cast member (cast themes)
    composition: int    # index into the compositions (the variant's index within its title)


def poster_style(catalog: Catalog, art: int) -> PosterStyle:
    """The style of artwork ``art`` from public fields only (theme, genre, cast, mood, variant index)."""
    art = int(art)
    t = int(catalog.art_title[art])
    v = art - int(catalog.art_offsets[t])
    comp = _COMPOSITIONS[v % len(_COMPOSITIONS)]
    theme = THEME_KINDS[int(catalog.art_theme[art])]
    label = str(catalog.art_label(np.array([art]))[0])
    credit = None
    if theme == "genre":
        genre = catalog.genre_names[int(catalog.art_genre[art])]
        colour, motif = genre_style(genre)
        if colour.startswith("#"):
            top, bottom, accent = _shade(colour, 0.25), _shade(colour, -0.55), _shade(colour, 0.6)
        else:
            top, bottom, accent = colour, "#1c1c1c", "#ffffff"
        pattern, type_ = comp["pattern"], GENRE_TYPE.get(genre, Type())
    elif theme == "cast":
        credit = str(catalog.cast_names[int(catalog.art_cast[art])])
        top, bottom, accent = _hue(credit, 45, 52), _hue(credit, 50, 16), _hue(credit, 70, 75)
        motif, pattern, type_ = "person", comp["pattern"], CAST_TYPE
    else:
        mood = MOODS[int(catalog.art_mood[art])]
        top, bottom, motif, pattern = MOOD_STYLE[mood]
        accent, type_ = "#ffffff", MOOD_TYPE[mood]
    return PosterStyle(theme, label, top, bottom, accent, motif, pattern, type_, credit, v % len(_COMPOSITIONS))


# --- the title's type -------------------------------------------------------------------------

def text_width(text: str, type_: Type, size: float) -> float:
    """Estimated advance width of ``text`` set in ``type_`` at ``size`` (user units)."""
    s = text.upper() if type_.upper else text
    if type_.face == "mono":
        em = 0.6 * len(s)
    else:
        table = _METRICS.get(type_.face, _SANS)
        em = sum(table.get(c, 0.72) for c in s)
    return size * (em + type_.tracking * max(len(s) - 1, 0))


def _ellipsize(words: list[str], type_: Type, size: float, width: float) -> str:
    """The most leading words that fit with an ellipsis; cut inside the first word only if it alone
    does not fit."""
    for k in range(len(words), 0, -1):
        line = " ".join(words[:k]) + "\u2026"
        if text_width(line, type_, size) <= width:
            return line
    word = words[0]
    while len(word) > 1 and text_width(word + "\u2026", type_, size) > width:
        word = word[:-1]
    return word + "\u2026"


def fit_title(text: str, type_: Type, width: float, *, max_size: float = 18.0, min_size: float = 11.0,
              max_lines: int = 2) -> tuple[list[str], float]:
    """Lines (at most ``max_lines``) and font size for ``text`` in a box ``width`` wide.

    Every way of breaking the words into one or two lines is tried; the one allowing the largest
    size wins (two lines are capped a little smaller than one). Below ``min_size`` the title is set
    at ``min_size`` and its last line ends in an ellipsis at a word boundary: the last resort.
    """
    words = text.split() or [text]
    options = []
    for n_lines in range(1, max_lines + 1):
        cap = max_size if n_lines == 1 else max_size - 2
        for lines in _breaks(words, n_lines):
            widest = max(text_width(line, type_, 1.0) for line in lines)
            size = float(min(cap, np.floor(2 * width / widest) / 2)) if widest > 0 else cap
            options.append((-size, n_lines, widest, lines))   # largest, then fewest lines, then balanced
    neg_size, _, _, lines = min(options, key=lambda o: o[:3])
    size = -neg_size
    if size >= min_size:
        return lines, size
    # last resort: the first line as full as fits, the rest behind an ellipsis
    first: list[str] = []
    for w in words:
        if text_width(" ".join(first + [w]), type_, min_size) > width:
            break
        first.append(w)
    if not first:
        return [_ellipsize(words, type_, min_size, width)], min_size
    rest = words[len(first):]
    if max_lines == 1 or not rest:
        return [" ".join(first)] if not rest else [_ellipsize(words, type_, min_size, width)], min_size
    last = " ".join(rest)
    if text_width(last, type_, min_size) > width:
        last = _ellipsize(rest, type_, min_size, width)
    return [" ".join(first), last], min_size


def _breaks(words: list[str], n_lines: int):
    """Every split of ``words`` into ``n_lines`` non-empty consecutive lines."""
    if n_lines == 1:
        yield [" ".join(words)]
        return
    for i in range(1, len(words)):
        for rest in _breaks(words[i:], n_lines - 1):
            yield [" ".join(words[:i]), *rest]


def poster_title(catalog: Catalog, t: int) -> tuple[str, bool]:
    """(the name set on the poster, is a series): the "(series)" suffix becomes a badge."""
    name = str(catalog.name[int(t)])
    series = KIND_NAMES[int(catalog.kind[int(t)])] == "series"
    suffix = " (series)"
    if series and name.endswith(suffix):
        name = name[: -len(suffix)]
    return name, series


# --- shapes -----------------------------------------------------------------------------------

def _rand(art: int, k: int) -> np.ndarray:
    """``k`` deterministic numbers in [0, 1) for artwork ``art`` (positions of stars, bokeh)."""
    return np.random.default_rng(zlib.crc32(f"poster:{art}".encode())).random(k)


def _pattern(name: str, colour: str, art: int, focus: tuple[float, float]) -> str:
    """A background pattern in ``colour`` at low opacity."""
    fx, fy = focus
    if name == "rays":
        ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        pts = " ".join(f"M{fx:.0f} {fy:.0f}L{fx + 200 * np.cos(a):.0f} {fy + 200 * np.sin(a):.0f}" for a in ang)
        return f'<path d="{pts}" stroke="{colour}" stroke-opacity=".16" stroke-width="5"/>'
    if name == "stripes":
        d = "".join(f"M{x} 0L{x - 60} 90" for x in range(0, 230, 14))
        return f'<path d="{d}" stroke="{colour}" stroke-opacity=".13" stroke-width="5"/>'
    if name == "dots":
        c = "".join(f'<circle cx="{x}" cy="{y}" r="1.8"/>' for y in range(8, 70, 12)
                    for x in range(8 + (y // 12 % 2) * 6, 160, 12))
        return f'<g fill="{colour}" fill-opacity=".22">{c}</g>'
    if name == "rings":
        c = "".join(f'<circle cx="{fx:.0f}" cy="{fy:.0f}" r="{r}"/>' for r in range(14, 160, 14))
        return f'<g fill="none" stroke="{colour}" stroke-opacity=".16" stroke-width="3">{c}</g>'
    if name == "grid":
        d = "".join(f"M{x} 0V90" for x in range(10, 160, 16)) + "".join(f"M0 {y}H160" for y in range(10, 90, 16))
        return f'<path d="{d}" stroke="{colour}" stroke-opacity=".13" stroke-width="1.5"/>'
    if name == "arcs":
        c = "".join(f'<circle cx="160" cy="0" r="{r}"/>' for r in range(30, 200, 22))
        return f'<g fill="none" stroke="{colour}" stroke-opacity=".17" stroke-width="6">{c}</g>'
    if name == "stars":
        u = _rand(art, 3 * 22).reshape(22, 3)
        c = "".join(f'<circle cx="{160 * a:.1f}" cy="{62 * b:.1f}" r="{0.5 + 1.3 * s:.1f}"/>' for a, b, s in u)
        return f'<g fill="#ffffff" fill-opacity=".75">{c}</g>'
    if name == "bokeh":
        u = _rand(art, 3 * 9).reshape(9, 3)
        c = "".join(f'<circle cx="{160 * a:.1f}" cy="{80 * b:.1f}" r="{6 + 14 * s:.1f}"/>' for a, b, s in u)
        return f'<g fill="#ffffff" fill-opacity=".16">{c}</g>'
    if name == "shards":
        return ('<g fill="#000000" fill-opacity=".28"><polygon points="0,0 70,0 0,60"/>'
                '<polygon points="160,10 160,90 95,90"/></g><path d="M0 72L160 8" stroke="#ffffff" '
                'stroke-opacity=".25" stroke-width="2"/>')
    if name == "ridges":
        return ('<polygon points="0,90 0,58 30,40 58,60 92,30 128,56 160,38 160,90" fill="#000000" fill-opacity=".3"/>'
                '<polygon points="0,90 0,70 40,54 78,72 118,50 160,66 160,90" fill="#000000" fill-opacity=".35"/>')
    if name == "waves":
        d = "".join(f"M0 {y}Q20 {y - 7} 40 {y}T80 {y}T120 {y}T160 {y}" for y in range(12, 90, 13))
        return f'<path d="{d}" fill="none" stroke="#ffffff" stroke-opacity=".22" stroke-width="3"/>'
    return ""


def _motif(name: str, colour: str, cx: float, cy: float, scale: float, opacity: float) -> str:
    return (f'<g fill="{colour}" color="{colour}" fill-opacity="{opacity:g}" '
            f'transform="translate({cx:g} {cy:g}) scale({scale:g}) translate(-80 -40)">{_MOTIFS[name]}</g>')


def _text_line(line: str, x: float, y: float, type_: Type, size: float, width: float) -> str:
    est = text_width(line, type_, size)
    squeeze = (f' textLength="{est:.1f}" lengthAdjust="spacingAndGlyphs"'
               if est > _SQUEEZE_FROM * width else "")
    return f'<text x="{x:g}" y="{y:.1f}"{squeeze}>{_e(line)}</text>'


def poster_svg(catalog: Catalog, art: int, *, width: int = 140, id_prefix: str = "pg",
               variant_mark: bool = True) -> str:
    """Inline SVG of artwork ``art``: the title's poster as its variant draws it.

    ``width`` is the rendered width in CSS pixels (height 9/16 of it); ``id_prefix`` keeps the
    gradient ids of different pages apart; ``variant_mark`` draws "v/n" in the top right corner.
    """
    art = int(art)
    t = int(catalog.art_title[art])
    st = poster_style(catalog, art)
    comp = _COMPOSITIONS[st.composition]
    name, series = poster_title(catalog, t)
    full = str(catalog.name[t])
    n_var = int(catalog.art_offsets[t + 1] - catalog.art_offsets[t])
    v = art - int(catalog.art_offsets[t])
    gid = f"{id_prefix}{art}"
    x1, y1, x2, y2 = comp["grad"]
    cx, cy, scale, opacity = comp["motif"]
    motif_colour = "#fff4c2" if st.motif == "sun" else "#ffffff"
    if st.theme == "cast":          # a dark portrait silhouette, so the credit and title read over it
        motif_colour, opacity = "#000000", 0.45

    box = VIEW_W - 2 * MARGIN
    lines, size = fit_title(name, st.type, box)
    line_h = 1.08 * size
    baseline = VIEW_H - MARGIN - 1
    ys = [baseline - line_h * (len(lines) - 1 - i) for i in range(len(lines))]
    ty = st.type
    font = (f'font-family="{_e(FONT_STACKS[ty.face])}" font-size="{size:g}" font-weight="{ty.weight}"'
            + (' font-style="italic"' if ty.italic else "")
            + (f' letter-spacing="{ty.tracking * size:.2f}"' if ty.tracking else ""))
    title_text = "".join(_text_line(line.upper() if ty.upper else line, MARGIN, y, ty, size, box)
                         for line, y in zip(lines, ys))
    credit = ""
    top_of_title = ys[0] - size
    if st.credit:
        credit = (f'<text x="{MARGIN}" y="{top_of_title - 2:.1f}" font-family="{_e(FONT_STACKS["sans"])}" '
                  f'font-size="9.5" font-weight="700" letter-spacing=".8" fill="{st.accent}" {_HALO}>'
                  f'{_e(st.credit.upper())}</text>')
        top_of_title -= 12
    scrim_top = max(0.0, top_of_title - 10) / VIEW_H
    badge = ""
    if series:
        badge = (f'<rect x="{MARGIN - 2}" y="6" width="39" height="12" rx="2" fill="#000" fill-opacity=".55"/>'
                 f'<text x="{MARGIN + 17.5}" y="15" text-anchor="middle" font-family="{_e(FONT_STACKS["sans"])}" '
                 f'font-size="8" font-weight="700" letter-spacing="1" fill="#fff">SERIES</text>')
    mark = ""
    if variant_mark:
        mark = (f'<text x="{VIEW_W - 6}" y="14" text-anchor="end" font-family="{_e(FONT_STACKS["sans"])}" '
                f'font-size="9" font-weight="700" fill="#fff" fill-opacity=".85" {_HALO}>{v + 1}/{n_var}</text>')
    label = f"{full}: artwork variant {v + 1} of {n_var}, {st.label}"
    return (
        f'<svg class="poster" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {VIEW_W} {VIEW_H}" width="{width}" '
        f'height="{round(width * VIEW_H / VIEW_W)}" role="img" aria-label="{_e(label)}" data-art="{art}" '
        f'data-theme="{_e(st.label)}"><title>{_e(label)}</title>'
        f'<defs><linearGradient id="{gid}" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}">'
        f'<stop offset="0" stop-color="{st.top}"/><stop offset="1" stop-color="{st.bottom}"/></linearGradient>'
        f'<linearGradient id="{gid}s" x1="0" y1="0" x2="0" y2="1"><stop offset="{scrim_top:.2f}" stop-color="#000" '
        f'stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity=".78"/></linearGradient></defs>'
        f'<rect width="{VIEW_W}" height="{VIEW_H}" fill="url(#{gid})"/>'
        f'{_pattern(st.pattern, st.accent, art, (cx, cy))}'
        f'{_motif(st.motif, motif_colour, cx, cy, scale, opacity)}'
        f'<rect width="{VIEW_W}" height="{VIEW_H}" fill="url(#{gid}s)"/>'
        f'{badge}{mark}{credit}'
        f'<g class="poster-title" {font} fill="#fff" {_HALO}>{title_text}</g></svg>'
    )
