"""``recsys artwork-test``: the JSON contract, agreement with statsmodels, the recommendation's
three cases, the chart and page, and bad input (exit 2, nothing written)."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

from recsys.cli import main
from recsys.errors import InputError
from recsys.report.artwork_ab import assign_and_click, two_artwork_test, users_per_arm

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
    null = two_artwork_test(500, 120, 500, 130)
    assert win.winner == "B" and win.recommendation.startswith("Use artwork B")
    assert loss.winner == "A" and loss.recommendation.startswith("Keep artwork A")
    assert null.winner is None and null.recommendation.startswith("Not significant")
    assert "more users are needed" in null.recommendation
    assert f"{null.more_users_needed:,}"[:1] and null.more_users_needed > 0
    assert len({win.recommendation, loss.recommendation, null.recommendation}) == 3
    assert "95%" in win.recommendation and "points higher" in win.recommendation
    # the number of users quoted is the power calculation's, rounded up
    needed = NormalIndPower().solve_power(proportion_effectsize(0.26, 0.24), alpha=0.05, power=0.8)
    assert null.users_needed_per_arm == pytest.approx(needed, rel=1e-3)
    assert "7,400 users per artwork" in null.recommendation
    # through the command line too
    for args, start in ((["--p-a", "0.1", "--p-b", "0.5"], "Use artwork B"),
                        (["--p-a", "0.5", "--p-b", "0.1"], "Keep artwork A"),
                        (["--p-a", "0.3", "--p-b", "0.3", "--users", "200"], "Not significant")):
        d = tmp_path / start.replace(" ", "_")
        d.mkdir()
        code, out = run_cli(d, *args)
        assert code == 0 and json.loads(out.read_text())["recommendation"].startswith(start)


def test_no_difference_and_degenerate_tables():
    same = two_artwork_test(100, 0, 100, 0)
    assert same.p_value == 1.0 and not same.significant and math.isinf(same.users_needed_per_arm)
    assert "equally well" in same.recommendation
    assert two_artwork_test(100, 100, 100, 100).p_value == 1.0
    assert users_per_arm(0.2, 0.2) == math.inf


@pytest.mark.parametrize("args, message", [
    (["--p-a", "1.5", "--p-b", "0.3"], "--p-a"),
    (["--p-a", "0.2", "--p-b", "-0.1"], "--p-b"),
    (["--p-a", "0.2", "--p-b", "abc"], "--p-b"),
    (["--p-a", "0.2", "--p-b", "0.3", "--users", "1"], "argument --users: must be an integer of at least 2"),
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
    code = main(["artwork-test", "--p-a", "0.2", "--p-b", "0.3", "--json", str(tmp_path / "no" / "x.json")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    code = main(["artwork-test", "--p-a", "0.2", "--p-b", "0.3", "--out", str(tmp_path / "file"),
                 "--json", str(tmp_path / "x.json")])
    assert code == 2 and not (tmp_path / "x.json").exists()


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
    assert v["A"]["variant"] == 0 and v["B"]["variant"] == 1 and v["B"]["artwork"] == v["A"]["artwork"] + 1
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


def test_world_mode_interval_covers_the_true_difference(small_world):
    """Over replicates (fresh assignments and clicks), the 95% interval of B - A covers the
    simulator's true difference about 95% of the time: the counts come from the same click
    probabilities the ground truth averages."""
    from recsys.report.artwork_world import run_world_test

    bait = np.flatnonzero(small_world.truth.art_honesty < 0.35)        # a title with a clickbait variant
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
    from recsys.report.artwork_world import default_title, run_world_test

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
