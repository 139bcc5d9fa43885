"""``recsys preview``: the page for a user and for a segment, what its cards say, the hybrid's
explanation, a headless-browser render, and bad input (exit 2, one line, nothing written)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from recsys.cli import main
from recsys.cli.preview import parse_params, resolve_users
from recsys.errors import InputError
from recsys.page import ROW_KINDS, Layout, Page
from recsys.report.preview import GENRE_STYLE, MOOD_STYLE, artwork_svg, homepage_fragment, theme_style
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
    code = main(["preview", "--segment", "regular", "--count", "2", "--config", str(config), "--policy", "popularity",
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
    assert [u["segment"] for u in doc["users"]] == ["regular", "regular"]
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
    st = theme_style(catalog, g)
    assert st["motif"] == GENRE_STYLE[genre][1] and st["top"] in artwork_svg(catalog, g)
    c = int(by_theme[1][0])
    assert str(catalog.cast_names[int(catalog.art_cast[c])])[:10] in artwork_svg(catalog, c)
    m = int(by_theme[2][0])
    top, bottom, motif = MOOD_STYLE[MOODS[int(catalog.art_mood[m])]]
    assert top in artwork_svg(catalog, m) and bottom in artwork_svg(catalog, m)
    # two variants with the same theme look alike (only their ids and titles differ)
    same = [a for a in by_theme[2] if catalog.art_mood[a] == catalog.art_mood[m] and a != m][0]
    strip = lambda s: re.sub(r'rp-g\d+|data-art="\d+"|aria-label="[^"]*"|<text[^>]*>[^<]*</text>', "", s)  # noqa: E731
    assert strip(artwork_svg(catalog, m)) == strip(artwork_svg(catalog, int(same)))
    assert strip(artwork_svg(catalog, m)) != strip(artwork_svg(catalog, g))


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


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.browser
def test_renders_in_headless_chromium(user_run, tmp_path):
    exe = _chromium()
    if exe is None:
        print("no chromium binary found (chromium, chromium-browser, google-chrome)")
        pytest.skip("no chromium: none of chromium, chromium-browser, google-chrome is on PATH")
    _, _, path = user_run
    png = tmp_path / "shot.png"
    base = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000"]
    subprocess.run(base + [f"--screenshot={png}", path.as_uri()], check=True, capture_output=True, timeout=120)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    dom = subprocess.run(base + ["--dump-dom", path.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    assert dom.count('class="rp-card"') == SLOTS
    assert dom.count("<svg") == SLOTS and dom.count('class="rp-rowtitle"') == 5


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


def test_missing_output_directory(config, tmp_path, capsys):
    code = main(["preview", "--user", "1", "--config", str(config), "--out", str(tmp_path / "no" / "p.html")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
