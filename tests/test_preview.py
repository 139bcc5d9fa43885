"""``recsys preview``: the page for a user and for a segment, what its cards say, the hybrid's
explanation and blend, rows named for what they hold, posters legible at card size and different
per variant, a headless-browser render, and bad input (exit 2, one line, nothing written)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from browser_probe import chromium, measure_posters, screenshot
from recsys.cli import main
from recsys.cli.preview import parse_params, resolve_users
from recsys.core.errors import InputError
from recsys.core.page import ROW_KIND, ROW_KINDS, Layout, Page
from recsys.report.posters import (GENRE_STYLE, MOOD_STYLE, MARGIN, VIEW_W, Type, fit_title, poster_style,
                                   poster_svg, poster_title, text_width)
from recsys.report.preview import blend_shares, format_shares, homepage_fragment, row_titles
from recsys.world.catalog import MOODS, make_catalog
from recsys.world.config import WorldConfig

CONFIG = """
[experiment]
name = "preview-test"
seed = 3
users = 2500
warmup_days = 14
control = "popularity"

[world]
titles = 400
cast = 300

[[arms]]
name = "popularity"
policy = "popularity"
share = 0.5

[[arms]]
name = "hybrid"
policy = "hybrid"
share = 0.5
[arms.params]
diversity = 0.3
artwork = "bandit-play"
"""
SLOTS = 5 * 8


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "exp.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def user_run(config, tmp_path_factory):
    d = tmp_path_factory.mktemp("user")
    code = main(["preview", "--user", "17", "--config", str(config), "--arm", "hybrid", "--out", str(d / "u.html"),
                 "--json", str(d / "u.json"), "--quiet"])
    assert code == 0
    return (d / "u.html").read_text(), json.loads((d / "u.json").read_text()), d / "u.html"


@pytest.fixture(scope="module")
def segment_run(config, tmp_path_factory):
    d = tmp_path_factory.mktemp("seg")
    code = main(["preview", "--segment", "new", "--count", "2", "--config", str(config), "--arm", "hybrid",
                 "--param", "artwork=random", "--out", str(d / "s.html"), "--json", str(d / "s.json"), "--quiet"])
    assert code == 0
    return (d / "s.html").read_text(), json.loads((d / "s.json").read_text())


def cards(html: str) -> list[str]:
    return re.findall(r'<figure class="rp-card".*?</figure>', html, flags=re.S)


def test_user_page_has_named_rows_and_a_card_per_slot(user_run):
    html, doc, _ = user_run
    assert doc["policy"] == "hybrid" and doc["arm"] == "hybrid" and doc["params"]["artwork"] == "bandit-play"
    (user,) = doc["users"]
    assert user["user_id"] == 17
    rows = user["rows"]
    assert len(rows) == 5 and all(r["kind"] in ROW_KINDS for r in rows)
    titles = [c for r in rows for c in r["titles"]]
    assert len(titles) == SLOTS and len({c["title"] for c in titles}) == SLOTS   # no title twice on a page
    found = cards(html)
    assert len(found) == SLOTS
    # rows in order, each heading before its own cards
    at = 0
    for r in rows:
        head = html.index(f">{r['label']}</h4>", at)
        first = html.index(f'data-title="{r["titles"][0]["title"]}"', head)
        assert first > head
        at = first
    for card, c in zip(found, titles):
        assert f'data-title="{c["title"]}"' in card and f'data-art="{c["artwork"]}"' in card
        assert "<svg" in card and c["theme"] in card
        assert "propensity" in card and "rank" in card and "score" in card
    # self-contained: no script, no external resource
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)


def test_hybrid_explanation_adds_up(user_run):
    _, doc, _ = user_run
    titles = [c for r in doc["users"][0]["rows"] for c in r["titles"]]
    for c in titles:
        assert sum(c["parts"].values()) == pytest.approx(c["score"], rel=1e-4, abs=1e-4)
        assert 0 < c["propensity"] <= 1
        assert (c["rank_scored"] == 0) == (c["rank_reranked"] == 0)
    # the diversity re-ranker moved some titles, and top picks come first in re-ranked order
    assert any(c["rank_scored"] != c["rank_reranked"] for c in titles)
    top = doc["users"][0]["rows"][0]
    assert top["kind"] == "top_picks" and [c["rank_reranked"] for c in top["titles"]] == list(range(1, 9))


def test_segment_page_shows_users_of_that_segment(segment_run):
    html, doc = segment_run
    assert [u["segment"] for u in doc["users"]] == ["new", "new"]
    ids = [u["user_id"] for u in doc["users"]]
    assert ids == sorted(set(ids))
    assert len(cards(html)) == 2 * SLOTS
    assert html.count('<section class="rp-home">') == 2
    assert all(f"User {u}" in html for u in ids)
    assert "Popular now" in html


def test_segment_users_are_deterministic_and_checked():
    signup = np.array([-100] * 8 + [3])
    seg = np.array([2, 2, 1, 2, 2, 3, 2, 2, 2])
    a = resolve_users(signup, seg, segment_name="regular", count=3, seed=1)
    assert np.array_equal(a, resolve_users(signup, seg, segment_name="regular", count=3, seed=1))
    assert set(a) <= {0, 1, 3, 4, 6, 7} and len(set(a)) == 3          # user 8 signs up later
    assert len(resolve_users(signup, seg, segment_name="regular", count=50, seed=1)) == 6
    with pytest.raises(InputError, match="has not signed up"):
        resolve_users(signup, seg, user=8)
    with pytest.raises(InputError, match="not in the world"):
        resolve_users(signup, seg, user=9)
    with pytest.raises(InputError, match="no users of segment 'new'"):
        resolve_users(signup, seg, segment_name="new")
    with pytest.raises(InputError, match="unknown segment"):
        resolve_users(signup, seg, segment_name="lapsed")


def test_params_are_read_as_toml_values():
    assert parse_params(["diversity=0.3", "artwork=bandit-play", "rows=['top_picks', 'genre']", "cf=als"]) == {
        "diversity": 0.3, "artwork": "bandit-play", "rows": ["top_picks", "genre"], "cf": "als"}
    for bad in ("diversity", "=1", "x="):
        with pytest.raises(InputError, match="KEY=VALUE"):
            parse_params([bad])


def test_artwork_is_drawn_from_the_public_theme():
    catalog, _ = make_catalog(WorldConfig(titles=200, cast=100), 4)
    by_theme = {k: np.flatnonzero(catalog.art_theme == k) for k in range(3)}
    g = int(by_theme[0][0])
    genre = catalog.genre_names[int(catalog.art_genre[g])]
    st = poster_style(catalog, g)
    assert st.motif == GENRE_STYLE[genre][1] and st.top in poster_svg(catalog, g)
    c = int(by_theme[1][0])
    person = str(catalog.cast_names[int(catalog.art_cast[c])])
    assert person.upper() in poster_svg(catalog, c) and poster_style(catalog, c).credit == person
    m = int(by_theme[2][0])
    top, bottom, motif, pattern = MOOD_STYLE[MOODS[int(catalog.art_mood[m])]]
    assert top in poster_svg(catalog, m) and bottom in poster_svg(catalog, m)
    assert poster_style(catalog, m).pattern == pattern


def _strip(svg: str) -> str:
    """An SVG without what names the artwork (ids, labels, the title's text): only the drawing."""
    return re.sub(r'id="[^"]*"|url\(#[^)]*\)|data-[a-z]+="[^"]*"|aria-label="[^"]*"|<title>[^<]*</title>'
                  r'|<text[^>]*>[^<]*</text>', "", svg)


def test_two_variants_of_a_title_are_drawn_differently():
    """Every title's variants draw different posters, even two variants with the same theme
    (the variant's index picks the composition)."""
    catalog, _ = make_catalog(WorldConfig(titles=300, cast=150), 5)
    same_theme = 0
    for t in range(catalog.n_titles):
        arts = range(int(catalog.art_offsets[t]), int(catalog.art_offsets[t + 1]))
        drawn = [_strip(poster_svg(catalog, a)) for a in arts]
        assert len(set(drawn)) == len(drawn), t
        labels = list(catalog.art_label(np.array(arts)))
        same_theme += len(labels) - len(set(labels))
    assert same_theme > 10   # the case the composition is for does occur


def _poster_lines(svg: str) -> list[str]:
    group = re.search(r'<g class="poster-title"[^>]*>(.*?)</g>', svg).group(1)
    return [html_unescape(x) for x in re.findall(r"<text[^>]*>([^<]*)</text>", group)]


def html_unescape(x: str) -> str:
    import html as _html

    return _html.unescape(x)


def test_titles_are_set_whole_in_at_most_two_lines():
    """Every title of a catalog is set whole on its poster (no ellipsis, never cut mid-word), in
    one or two lines that fit the card at a legible size, with the full name in <title>."""
    catalog, _ = make_catalog(WorldConfig(titles=600, cast=200), 6)
    box = VIEW_W - 2 * MARGIN
    for art in range(0, catalog.n_artwork, 3):
        t = int(catalog.art_title[art])
        svg = poster_svg(catalog, art)
        name, series = poster_title(catalog, t)
        st = poster_style(catalog, art)
        lines = _poster_lines(svg)
        assert 1 <= len(lines) <= 2
        assert " ".join(lines) == (name.upper() if st.type.upper else name)       # whole words, all of them
        assert "\u2026" not in svg
        size = float(re.search(r'class="poster-title"[^>]*font-size="([\d.]+)"', svg).group(1))
        assert size >= 11                     # poster units: at least 9.6 CSS px on a 140 px card
        assert all(text_width(line, st.type, size) <= box + 1e-9 for line in lines)
        assert f"<title>{catalog.name[t]}" in svg.replace("&#x27;", "'")
        assert ("SERIES" in svg) == series


def test_fit_title_prefers_size_then_balance_and_ellipsis_last():
    sans = Type("sans", 700)
    lines, size = fit_title("The Midnight Station 2", sans, 144)
    assert lines == ["The Midnight", "Station 2"] and size == 16        # balanced, not "The" / the rest
    lines, size = fit_title("Up", sans, 144)
    assert lines == ["Up"] and size == 18
    # the last resort: a title that cannot fit two lines at the smallest size ends in an ellipsis at a
    # word boundary, never inside a word that would fit
    long = "The Extraordinarily Long Title Of A Documentary About Everything Anyone Ever Wanted"
    lines, size = fit_title(long, sans, 144)
    assert size == 11 and len(lines) == 2 and lines[1].endswith("\u2026")
    kept = (" ".join(lines)[:-1]).split()
    assert kept == long.split()[:len(kept)]
    assert all(text_width(line, sans, size) <= 144 for line in lines)


def test_blend_shares_sum_to_one():
    w = {"cf": np.array([0.0, 0.5, 0.0]), "content": np.array([0.0, 0.35, 0.0]),
         "popularity": np.array([0.5, 0.25, 0.0])}
    assert blend_shares(w, 0) == {"cf": 0.0, "content": 0.0, "popularity": 1.0}
    s = blend_shares(w, 1)
    assert sum(s.values()) == pytest.approx(1.0) and s["cf"] == pytest.approx(0.5 / 1.1)
    assert blend_shares(w, 2) == {"cf": 0.0, "content": 0.0, "popularity": 0.0, "prior": 1.0}
    # printed figures add up too (largest remainder): 1/3 each prints as 0.34, 0.33, 0.33
    text = format_shares({"cf": 1 / 3, "content": 1 / 3, "popularity": 1 / 3})
    assert sum(float(x) for x in re.findall(r"\d\.\d\d", text)) == pytest.approx(1.0)
    assert "cold-start prior 1.00" in format_shares(blend_shares(w, 2))


def test_page_blend_weights_sum_to_one(user_run, segment_run):
    for html, doc in (user_run[:2], segment_run):
        for u in doc["users"]:
            assert sum(u["blend"].values()) == pytest.approx(1.0)
        shown = re.findall(r"hybrid&#x27;s weights for this user:</b> ([^<]*)</span>", html)
        assert len(shown) == len(doc["users"])
        for text in shown:
            assert text.endswith("(sum to 1)")
            assert sum(float(x) for x in re.findall(r"\d\.\d\d", text)) == pytest.approx(1.0)


def test_rows_are_unique_and_named_for_what_they_hold(segment_run):
    """A new user without plays gets no "Top picks for you" (their ranking is popularity): rows
    "Popular now" and "Popular in <genre>"; no user gets two rows of one name, kind and reference."""
    html, doc = segment_run
    cold = [u for u in doc["users"] if u["plays_seen"] == 0]
    warm = [u for u in doc["users"] if u["plays_seen"] > 0]
    assert cold and warm
    for u in doc["users"]:
        rows = [r for r in u["rows"] if r["titles"]]
        labels = [r["label"] for r in rows]
        assert len(labels) == len(set(labels)), labels
        assert len({(r["kind"], r["ref"]) for r in rows}) == len(rows)
    for u in cold:
        labels = [r["label"] for r in u["rows"]]
        assert "Top picks for you" not in labels and labels[0] == "Popular now"
        assert all(r["kind"] in ("popular_now", "new_this_week") for r in u["rows"])
        for r in u["rows"][1:]:
            if r["kind"] == "popular_now":
                assert r["label"].startswith("Popular in ")
    for u in warm:
        assert u["rows"][0]["label"] == "Top picks for you"
    sections = html.split('<section class="rp-home">')[1:]
    for sec in sections:
        heads = re.findall(r'<h4 class="rp-rowtitle"[^>]*>([^<]*)</h4>', sec)
        assert len(heads) == len(set(heads))


def test_one_ranked_list_cut_into_rows_is_headed_as_its_continuation():
    catalog, _ = make_catalog(WorldConfig(titles=200, cast=100), 4)
    page = Page.from_ranked(np.arange(40, dtype=np.int32)[None, :], Layout(5, 8), row_kind="popular_now")
    assert row_titles(catalog, page, 0) == ["Popular now"] + [f"Popular now, continued ({a}\u2013{a + 7})"
                                                              for a in (9, 17, 25, 33)]
    page.row_kind[0, 1] = ROW_KIND["popular_now"]
    page.row_ref[0, 1] = 2
    assert row_titles(catalog, page, 0)[1] == f"Popular in {catalog.genre_names[2]}"


def test_fragment_for_embedding():
    catalog, _ = make_catalog(WorldConfig(titles=200, cast=100), 4)
    ranked = np.arange(2 * 40, dtype=np.int32).reshape(2, 40)
    ranked[1, 30:] = -1                                         # a short page: empty slots are not drawn
    page = Page.from_ranked(ranked, Layout(5, 8))
    page.artwork = np.where(page.titles >= 0, catalog.art_offsets[np.maximum(page.titles, 0)], -1).astype(np.int32)
    frag = homepage_fragment(catalog, page, 1, heading="User 1")
    assert frag.startswith("<style>") and len(cards(frag)) == 30 and "User 1" in frag
    bare = homepage_fragment(catalog, page, 0, with_style=False)
    assert "<style>" not in bare and len(cards(bare)) == 40
    with pytest.raises(IndexError):
        homepage_fragment(catalog, page, 2)


@pytest.mark.browser
def test_renders_in_headless_chromium(user_run, tmp_path):
    """The page lays out in a real browser: every card drawn, and every poster's text inside its
    poster at a legible size (titles at least 9.5 CSS px on a 140 px card)."""
    exe = chromium()
    html, _, path = user_run
    data = screenshot(path, tmp_path / "shot.png", exe)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    m, dom = measure_posters(html, tmp_path, exe)
    assert dom.count('class="rp-card"') == SLOTS
    assert dom.count("<svg") == SLOTS and dom.count('class="rp-rowtitle"') == 5
    assert m["posters"] == SLOTS and m["overflow"] == []
    assert m["lines"] >= m["posters"] and min(m["title_px"]) >= 9.5


@pytest.mark.parametrize("args, message", [
    (["--user", "99999"], "--user 99999 is not in the world"),
    (["--user", "-3"], "is not in the world"),
    (["--segment", "lapsed"], "argument --segment: invalid choice"),
    (["--user", "1", "--policy", "magic"], "unknown policy 'magic'"),
    (["--user", "1", "--policy", "hybrid", "--param", "diversity=lots"], "diversity must be a number"),
    (["--user", "1", "--policy", "hybrid", "--param", "diversity"], "expected KEY=VALUE"),
    (["--user", "1", "--policy", "cf", "--param", "bogus=1"], "unknown parameter 'bogus'"),
    (["--user", "1", "--policy", "cf", "--param", "artwork=shiny"], "unknown artwork policy 'shiny'"),
    (["--user", "1", "--arm", "nope"], "unknown arm 'nope'"),
    (["--user", "1", "--arm", "hybrid", "--policy", "cf"], "either --policy or --arm"),
    (["--user", "1", "--segment", "new"], "not allowed with argument"),
    ([], "one of the arguments --user --segment is required"),
])
def test_bad_input_exit_2_one_line_nothing_written(config, tmp_path, capsys, args, message):
    out = tmp_path / "page.html"
    code = main(["preview", *args, "--config", str(config), "--out", str(out), "--json", str(tmp_path / "p.json"),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("recsys: error:") and err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_missing_output_folder_is_created_and_a_file_in_the_way_refused(config, tmp_path, capsys):
    code = main(["preview", "--user", "1", "--config", str(config), "--out", str(tmp_path / "no" / "p.html")])
    assert code == 0 and (tmp_path / "no" / "p.html").is_file()
    (tmp_path / "taken").write_text("x")
    code = main(["preview", "--user", "1", "--config", str(config), "--out", str(tmp_path / "taken" / "p.html")])
    err = capsys.readouterr().err
    assert code == 2 and "--out" in err and "not a directory" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no", "taken"]
