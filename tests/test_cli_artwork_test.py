"""``recsys artwork-test``: the JSON contract, agreement with statsmodels, the recommendation's
three cases, users needed for a planning effect (never the observed one), the chart (legend clear
of the data) and page (the two artworks drawn), output folders, and bad input (exit 2, nothing
written)."""

from __future__ import annotations

import base64
import json
import math
import re

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

from recsys.cli import main
from recsys.core.errors import InputError
from recsys.experiment.artwork_test import assign_and_click
from recsys.report.artwork_page import recommendation
from recsys.stats.proportions import two_artwork_test, users_per_arm

CONTRACT_KEYS = {"arms", "diff", "ci_low", "ci_high", "p_value", "test", "recommendation"}


def run_cli(tmp_path, *args):
    out = tmp_path / "out.json"
    code = main(["artwork-test", *args, "--json", str(out)])
    return code, out


def test_contract_json_png_html(tmp_path, capsys):
    code, out = run_cli(tmp_path, "--users", "1000", "--p-a", "0.24", "--p-b", "0.30", "--seed", "7")
    assert code == 0
    doc = json.loads(out.read_text())
    assert CONTRACT_KEYS <= set(doc)
    assert set(doc["arms"]) == {"A", "B"}
    for arm in doc["arms"].values():
        assert set(arm) == {"users", "clicks", "ctr"}
        assert arm["ctr"] == pytest.approx(arm["clicks"] / arm["users"])
    a, b = doc["arms"]["A"], doc["arms"]["B"]
    assert a["users"] + b["users"] == 1000 and abs(a["users"] - b["users"]) <= 1
    assert doc["test"] == "two-proportion z"
    assert doc["diff"] == pytest.approx(b["ctr"] - a["ctr"])
    assert doc["ci_low"] < doc["diff"] < doc["ci_high"]
    _, p_sm = proportions_ztest([a["clicks"], b["clicks"]], [a["users"], b["users"]])
    assert round(doc["p_value"], 5) == round(float(p_sm), 5)
    assert doc["chi2_p_value"] == pytest.approx(doc["p_value"], abs=1e-9)
    png = tmp_path / "artwork-test.png"
    html = tmp_path / "artwork-test.html"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = html.read_text()
    assert "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()[:200] in page
    assert doc["recommendation"].split(":")[0] in page
    assert doc["png"] == str(png) and doc["html"] == str(html)
    assert "two-proportion z" in capsys.readouterr().out


def test_out_directory_is_used_and_created(tmp_path):
    out_dir = tmp_path / "charts"
    code, out = run_cli(tmp_path, "--p-a", "0.1", "--p-b", "0.2", "--out", str(out_dir))
    assert code == 0 and (out_dir / "artwork-test.png").is_file() and (out_dir / "artwork-test.html").is_file()
    assert not (tmp_path / "artwork-test.png").exists()


def test_same_seed_same_counts_different_seed_different_counts():
    assert assign_and_click(1000, 0.24, 0.3, 7) == assign_and_click(1000, 0.24, 0.3, 7)
    assert assign_and_click(1000, 0.24, 0.3, 7) != assign_and_click(1000, 0.24, 0.3, 8)


@pytest.mark.parametrize("counts", [(500, 120, 500, 150), (480, 90, 520, 60), (1000, 3, 1001, 9), (7, 2, 6, 5)])
def test_p_value_and_chi_squared_agree_with_statsmodels(counts):
    r = two_artwork_test(*counts)
    _, p = proportions_ztest([counts[1], counts[3]], [counts[0], counts[2]])
    assert round(r.p_value, 5) == round(float(p), 5)
    assert r.chi2_p_value == pytest.approx(r.p_value, rel=1e-9)
    assert r.chi2 == pytest.approx(r.z ** 2, rel=1e-9)


def test_recommendation_changes_with_the_result(tmp_path):
    win = two_artwork_test(1000, 200, 1000, 300)
    loss = two_artwork_test(1000, 300, 1000, 200)
    null = two_artwork_test(500, 120, 500, 130, planning=(0.24, 0.26), planning_basis="the planned CTRs")
    assert win.winner == "B" and recommendation(win).startswith("Use artwork B")
    assert loss.winner == "A" and recommendation(loss).startswith("Keep artwork A")
    assert null.winner is None and recommendation(null).startswith("Not significant")
    assert "more users are needed" in recommendation(null)
    assert f"{null.more_users_needed:,}"[:1] and null.more_users_needed > 0
    assert len({recommendation(win), recommendation(loss), recommendation(null)}) == 3
    assert "95%" in recommendation(win) and "points higher" in recommendation(win)
    # the number of users quoted is the power calculation's for the planning effect, rounded up
    needed = NormalIndPower().solve_power(proportion_effectsize(0.26, 0.24), alpha=0.05, power=0.8)
    assert null.users_needed_per_arm == pytest.approx(needed, rel=1e-3)
    assert "7,400 users per artwork" in recommendation(null)
    assert "the planned CTRs, A 24.0% and B 26.0%" in recommendation(null)
    # through the command line too
    for args, start in ((["--p-a", "0.1", "--p-b", "0.5"], "Use artwork B"),
                        (["--p-a", "0.5", "--p-b", "0.1"], "Keep artwork A"),
                        (["--p-a", "0.3", "--p-b", "0.3", "--users", "200"], "Not significant")):
        d = tmp_path / start.replace(" ", "_")
        d.mkdir()
        code, out = run_cli(d, *args)
        assert code == 0 and json.loads(out.read_text())["recommendation"].startswith(start)


def test_users_needed_come_from_the_planning_effect_not_the_observed_one(tmp_path):
    """Post hoc power restates the p-value: the users needed depend on the planning effect only.
    Two tables with different observed differences give the same figure for the same plan, and no
    plan gives no figure."""
    a = two_artwork_test(500, 120, 500, 130, planning=(0.24, 0.30))
    b = two_artwork_test(500, 120, 500, 122, planning=(0.24, 0.30))
    assert a.users_needed_per_arm == b.users_needed_per_arm == pytest.approx(users_per_arm(0.24, 0.30))
    assert a.users_needed_per_arm != pytest.approx(users_per_arm(a.ctr_a, a.ctr_b))
    assert a.to_json(recommendation(a))["users_needed_for"] == {"basis": "the planned CTRs", "ctr_a": 0.24, "ctr_b": 0.30,
                                               "diff": pytest.approx(0.06)}
    none = two_artwork_test(500, 120, 500, 130)
    assert none.users_needed_per_arm is None and "not computed" in recommendation(none)
    # the command line plans with the probabilities it was given
    code, out = run_cli(tmp_path, "--users", "1000", "--p-a", "0.24", "--p-b", "0.30", "--seed", "7")
    doc = json.loads(out.read_text())
    assert code == 0 and not doc["significant"]
    assert doc["users_needed_per_arm"] == math.ceil(users_per_arm(0.24, 0.30))
    assert doc["users_needed_for"]["basis"] == "the click probabilities given with --p-a and --p-b"
    assert "not the observed difference" in (tmp_path / "artwork-test.html").read_text()


def test_no_difference_and_degenerate_tables():
    same = two_artwork_test(100, 0, 100, 0, planning=(0.2, 0.2))
    assert same.p_value == 1.0 and not same.significant and math.isinf(same.users_needed_per_arm)
    assert "equally good" in recommendation(same)
    assert two_artwork_test(100, 100, 100, 100).p_value == 1.0
    assert users_per_arm(0.2, 0.2) == math.inf


def test_chart_legend_sits_clear_of_the_data():
    """The "true CTR" legend overlaps no bar, error bar, marker or count label."""
    from matplotlib.transforms import Bbox

    from recsys.report.artwork_page import bar_chart_figure

    for counts, truth in (((1000, 240, 1000, 300), (0.25, 0.29)), ((1000, 30, 1000, 900), (0.03, 0.92)),
                          ((50, 49, 50, 50), (0.99, 1.0))):
        r = two_artwork_test(*counts)
        fig = bar_chart_figure(r, truth=truth)
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent(renderer)
        data = [p.get_window_extent(renderer) for p in ax.patches]
        data += [line.get_window_extent(renderer) for line in ax.lines]
        data += [t.get_window_extent(renderer) for t in ax.texts]
        for c in ax.collections:     # error bars' segments and the truth markers, with the markers' size
            segs = [np.asarray(x) for x in getattr(c, "get_segments", lambda: [])()]
            pts = np.vstack(segs) if segs else np.asarray(c.get_offsets())
            xy = ax.transData.transform(pts)
            sizes = getattr(c, "get_sizes", lambda: [])()
            pad = np.sqrt(np.max(sizes)) / 2 * fig.dpi / 72 if len(sizes) else 1.0
            data.append(Bbox([xy.min(0) - pad, xy.max(0) + pad]))
        assert len(ax.patches) == 2 and len(ax.texts) == 2 and len(ax.collections) == 2 and len(data) == 8
        for box in data:
            assert not legend.overlaps(box), (counts, box)
        # and inside the figure, below its title
        assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)
        assert legend.y1 <= ax.title.get_window_extent(renderer).y0 + 1


@pytest.mark.parametrize("args, message", [
    (["--p-a", "1.5", "--p-b", "0.3"], "--p-a"),
    (["--p-a", "0.2", "--p-b", "-0.1"], "--p-b"),
    (["--p-a", "0.2", "--p-b", "abc"], "--p-b"),
    (["--p-a", "0.2", "--p-b", "0.3", "--users", "1"], "argument --users: expected an integer of at least 2"),
    (["--p-a", "0.2", "--p-b", "0.3", "--users", "0"], "--users"),
    (["--p-a", "0.2", "--p-b", "0.3", "--users", "many"], "--users"),
    (["--p-a", "0.2", "--p-b", "0.3", "--alpha", "1"], "--alpha"),
    (["--p-b", "0.3"], "--p-a"),
])
def test_bad_input_exit_2_one_line_nothing_written(tmp_path, capsys, args, message):
    code, out = run_cli(tmp_path, *args)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("recsys: error:") and err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_locations_fail_before_writing(tmp_path, capsys):
    code = main(["artwork-test", "--p-a", "0.2", "--p-b", "0.3", "--json", str(tmp_path / "no" / "deeper" / "x.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot be created" in err and "does not exist" in err
    (tmp_path / "file").write_text("x")
    code = main(["artwork-test", "--p-a", "0.2", "--p-b", "0.3", "--json", str(tmp_path / "file" / "x.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "is not a directory" in err
    code = main(["artwork-test", "--p-a", "0.2", "--p-b", "0.3", "--out", str(tmp_path / "file"),
                 "--json", str(tmp_path / "x.json")])
    assert code == 2 and not (tmp_path / "x.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_json_folder_is_created_like_the_out_folder(tmp_path):
    """A --json in a folder that does not exist yet: the folder is made (as --out's is), the file
    written whole; with a separate --out both folders are made."""
    code = main(["artwork-test", "--p-a", "0.2", "--p-b", "0.3", "--json", str(tmp_path / "new" / "x.json")])
    assert code == 0 and json.loads((tmp_path / "new" / "x.json").read_text())["test"] == "two-proportion z"
    assert (tmp_path / "new" / "artwork-test.html").is_file()
    assert not [p for p in (tmp_path / "new").iterdir() if p.name.startswith(".")]       # no temporary left
    code = main(["artwork-test", "--p-a", "0.2", "--p-b", "0.3", "--json", str(tmp_path / "j" / "x.json"),
                 "--out", str(tmp_path / "o")])
    assert code == 0 and (tmp_path / "j" / "x.json").is_file() and (tmp_path / "o" / "artwork-test.png").is_file()


@pytest.mark.parametrize("counts, message", [((0, 0, 10, 1), "at least one user"), ((10, 11, 10, 1), "exceed"),
                                             ((10, -1, 10, 1), "non-negative")])
def test_bad_counts(counts, message):
    with pytest.raises(InputError, match=message):
        two_artwork_test(*counts)


# ---------------------------------------------------------------- --world: the test inside the simulated world

WORLD_TOML = """
[experiment]
seed = 5
users = 3000
[world]
titles = 400
cast = 300
"""


@pytest.fixture(scope="module")
def world_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("world") / "exp.toml"
    path.write_text(WORLD_TOML)
    return path


@pytest.fixture(scope="module")
def small_world():
    from recsys.world.build import build_world
    from recsys.world.config import WorldConfig

    return build_world(WorldConfig(users=3000, titles=400, cast=300), 5)


def test_world_mode_contract_and_ground_truth(tmp_path, world_config, capsys):
    code, out = run_cli(tmp_path, "--world", "--config", str(world_config), "--users", "2000", "--seed", "3")
    assert code == 0
    doc = json.loads(out.read_text())
    assert CONTRACT_KEYS <= set(doc) and doc["test"] == "two-proportion z" and doc["mode"] == "world"
    a, b = doc["arms"]["A"], doc["arms"]["B"]
    assert a["users"] == b["users"] == 1000
    _, p_sm = proportions_ztest([a["clicks"], b["clicks"]], [a["users"], b["users"]])
    assert round(doc["p_value"], 5) == round(float(p_sm), 5)
    v = doc["variants"]
    assert v["A"]["variant"] == 0 and v["B"]["variant"] >= 1
    assert v["B"]["artwork"] == v["A"]["artwork"] + v["B"]["variant"]
    truth = doc["ground_truth"]
    assert set(truth["true_ctr"]) == {"A", "B"} and all(0 < x < 1 for x in truth["true_ctr"].values())
    assert truth["true_diff"] == pytest.approx(truth["true_ctr"]["B"] - truth["true_ctr"]["A"])
    assert doc["world_users"] == 3000 and doc["world_seed"] == 5
    page = (tmp_path / "artwork-test.html").read_text()
    assert "ground truth" in page and doc["title"]["name"] in page
    assert (tmp_path / "artwork-test.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "true CTR (ground truth" in printed and "two-proportion z" in printed
    # the same seed gives the same test
    again = tmp_path / "again"
    again.mkdir()
    assert run_cli(again, "--world", "--config", str(world_config), "--users", "2000", "--seed", "3")[0] == 0
    assert json.loads((again / "out.json").read_text())["arms"] == doc["arms"]


def test_world_mode_compares_two_different_artworks_and_draws_them(tmp_path, world_config, small_world, capsys):
    """By default the test compares two variants whose public themes differ, describes them so they
    read differently, and draws both posters on the page (different drawings)."""
    from recsys.experiment.artwork_test import default_title, describe_variant, theme_key

    cat = small_world.catalog
    code, out = run_cli(tmp_path, "--world", "--config", str(world_config), "--users", "60", "--seed", "3")
    assert code == 0
    doc = json.loads(out.read_text())
    v = doc["variants"]
    assert v["A"]["theme"] != v["B"]["theme"] and v["A"]["description"] != v["B"]["description"]
    assert doc["title"]["id"] == default_title(cat)
    printed = capsys.readouterr().out
    assert f"A = {v['A']['description']}; B = {v['B']['description']}" in printed
    page = (tmp_path / "artwork-test.html").read_text()
    posters = re.findall(r'<svg class="poster".*?</svg>', page, flags=re.S)
    assert len(posters) == 2 and posters[0] != posters[1]
    assert [f'data-art="{v[k]["artwork"]}"' in p for k, p in zip("AB", posters)] == [True, True]
    assert v["A"]["description"] in page and v["B"]["description"] in page
    # two variants with the same theme are still told apart by their index
    key = theme_key(cat)
    t = next(t for t in range(cat.n_titles) if cat.n_variants[t] >= 2
             and key[cat.art_offsets[t]] == key[cat.art_offsets[t] + 1])
    a, b = int(cat.art_offsets[t]), int(cat.art_offsets[t]) + 1
    assert cat.art_label(np.array([a]))[0] == cat.art_label(np.array([b]))[0]
    assert describe_variant(cat, a) != describe_variant(cat, b)


def test_world_mode_users_needed_come_from_the_true_effect(tmp_path, world_config):
    """Not significant with 60 users: the users needed are computed for the true CTRs (ground
    truth), and say so."""
    code, out = run_cli(tmp_path, "--world", "--config", str(world_config), "--users", "60", "--seed", "3")
    doc = json.loads(out.read_text())
    assert code == 0 and not doc["significant"]
    true = doc["ground_truth"]["true_ctr"]
    assert doc["users_needed_per_arm"] == math.ceil(users_per_arm(true["A"], true["B"]))
    a, b = doc["arms"]["A"]["ctr"], doc["arms"]["B"]["ctr"]
    assert doc["users_needed_per_arm"] != math.ceil(users_per_arm(a, b))
    assert doc["users_needed_for"] == {"basis": "the true CTRs known to the simulator", "ctr_a": true["A"],
                                       "ctr_b": true["B"], "diff": pytest.approx(true["B"] - true["A"])}
    assert "the true CTRs known to the simulator" in doc["recommendation"]
    assert "for the true CTRs known to the simulator" in (tmp_path / "artwork-test.html").read_text()


def test_world_mode_interval_covers_the_true_difference(small_world):
    """Over replicates (fresh assignments and clicks), the 95% interval of B - A covers the
    simulator's true difference about 95% of the time: the counts come from the same click
    probabilities the ground truth averages."""
    from recsys.experiment.artwork_test import run_world_test

    honesty = small_world.truth.art_honesty
    bait = np.flatnonzero(honesty < 0.35)        # a title with a clickbait variant ...
    bait = bait[honesty[small_world.catalog.default_art[small_world.catalog.art_title[bait]]] >= 0.35]  # ... not its default
    art = int(bait[0])
    title = int(small_world.catalog.art_title[art])
    b = art - int(small_world.catalog.art_offsets[title])
    covered, diffs = [], []
    for seed in range(80):
        t = run_world_test(small_world, 1200, title=title, variant_b=b, seed=seed)
        r = two_artwork_test(*t.counts())
        true = t.true_ctr_b - t.true_ctr_a
        covered.append(r.ci_low <= true <= r.ci_high)
        diffs.append(r.diff - true)
    assert 0.88 <= np.mean(covered) <= 1.0
    assert abs(np.mean(diffs)) < 3 * np.std(diffs) / np.sqrt(len(diffs))       # unbiased
    # the clickbait variant draws more clicks, as the behaviour model says
    assert t.true_ctr_b > t.true_ctr_a


def test_world_mode_defaults_to_a_released_title_with_variants(small_world):
    from recsys.experiment.artwork_test import default_title, run_world_test

    t = default_title(small_world.catalog)
    assert small_world.catalog.release_day[t] <= 0 and small_world.catalog.n_variants[t] >= 2
    test = run_world_test(small_world, 10, seed=1)
    assert test.title == t and len(test.users_a) == len(test.users_b) == 5
    assert len(np.intersect1d(test.users_a, test.users_b)) == 0


@pytest.mark.parametrize("args, message", [
    (["--world", "--p-a", "0.2"], "--p-a does not apply with --world"),
    (["--world", "--users", "1"], "--users"),
    (["--world", "--users", "5000"], "more than the world's 3,000 users"),
    (["--world", "--title", "400"], "--title 400 is not in the catalog"),
    (["--world", "--title", "-1"], "is not in the catalog"),
    (["--world", "--title", "3", "--variant-b", "9"], "--variant-b 9 is not a variant of title 3"),
    (["--world", "--title", "3", "--variant-b", "0"], "0 is A"),
    (["--p-a", "0.2", "--p-b", "0.3", "--title", "3"], "--title needs --world"),
])
def test_world_mode_bad_input(tmp_path, world_config, capsys, args, message):
    code, _ = run_cli(tmp_path, *args, "--config", str(world_config)) if "--world" in args else run_cli(tmp_path, *args)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("recsys: error:") and err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_world_mode_unreleased_title(tmp_path, world_config, small_world, capsys):
    later = np.flatnonzero(small_world.catalog.release_day > 0)
    assert len(later)
    code, _ = run_cli(tmp_path, "--world", "--config", str(world_config), "--title", str(int(later[0])))
    assert code == 2 and "is not released by day 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.browser
def test_world_page_renders_in_headless_chromium(tmp_path, world_config):
    """The page lays out in a real browser: both posters drawn, their text inside them and large."""
    from browser_probe import chromium, measure_posters

    exe = chromium()
    code, _ = run_cli(tmp_path, "--world", "--config", str(world_config), "--users", "60", "--seed", "3")
    assert code == 0
    path = tmp_path / "artwork-test.html"
    m, dom = measure_posters(path.read_text(), tmp_path, exe)
    assert m["posters"] == 2 and m["overflow"] == [] and min(m["title_px"]) >= 18
    assert dom.count('<svg class="poster"') == 2 and "data:image/png;base64," in dom
