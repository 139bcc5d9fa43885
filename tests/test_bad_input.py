"""Bad input across the commands: one line naming the problem, exit code 2, no traceback, no output.

Each case writes its input files into a fresh folder, runs the command in-process, and checks
that nothing but those inputs is left in the folder afterwards (no output, no scratch folder).
The per-user-table cases of ``recsys analyze`` live in tests/stats/test_stats_bad_input.py.
"""

from __future__ import annotations

import pytest

from recsys.cli import main

GOOD = """
[experiment]
name = "bad-input"
seed = 1
users = 500
days = 2
warmup_days = 7
control = "popularity"

[world]
titles = 200

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

[metrics]
primary = "ctr"
secondary = ["watch_minutes"]
guardrails = { churn_rate = 0.1 }
"""


def edit(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


# (case id, files {name: text}, argv (with {dir} for the folder), words the one-line error must contain)
CASES = [
    # experiment files (recsys ab)
    ("unknown world key", {"e.toml": edit("titles = 200", "titles = 200\ncolour = 3")}, ["ab", "e.toml"],
     ["world", "colour"]),
    ("negative world size", {"e.toml": edit("titles = 200", "titles = -5")}, ["ab", "e.toml"], ["titles", "-5"]),
    ("share above one", {"e.toml": edit("share = 0.5", "share = 1.5")}, ["ab", "e.toml"], ["share", "[0, 1]"]),
    ("share below zero", {"e.toml": edit("share = 0.5", "share = -0.5")}, ["ab", "e.toml"], ["share", "[0, 1]"]),
    ("warm-up exploration above one", {"e.toml": edit("warmup_days = 7", "warmup_days = 7\nwarmup_explore = 2")},
     ["ab", "e.toml"], ["warmup_explore", "[0, 1]"]),
    ("shares not summing to one", {"e.toml": edit("share = 0.5", "share = 0.3")}, ["ab", "e.toml"], ["sum to 1"]),
    ("unknown policy", {"e.toml": edit('policy = "hybrid"', 'policy = "magic"')}, ["ab", "e.toml"],
     ["unknown policy", "magic"]),
    ("unknown metric", {"e.toml": edit('primary = "ctr"', 'primary = "happiness"')}, ["ab", "e.toml"],
     ["unknown metric", "happiness"]),
    ("unknown control", {"e.toml": edit('control = "popularity"', 'control = "nobody"')}, ["ab", "e.toml"],
     ["control", "nobody"]),
    ("one arm only", {"e.toml": GOOD.split("[[arms]]\nname = \"hybrid\"")[0].replace("share = 0.5", "share = 1.0")
                      + "[metrics]\nprimary = \"ctr\"\n"}, ["ab", "e.toml"], ["two", "arms"]),
    ("toml syntax error", {"e.toml": edit("days = 2", "days = = 2")}, ["ab", "e.toml"], ["e.toml", "line 6"]),
    ("alpha outside (0, 1)", {"e.toml": edit("days = 2", "days = 2\nalpha = 1.5")}, ["ab", "e.toml"],
     ["alpha", "(0, 1)"]),
    ("unknown artwork policy", {"e.toml": edit('artwork = "bandit-play"', 'artwork = "shiny"')}, ["ab", "e.toml"],
     ["artwork", "shiny"]),
    ("unknown policy parameter", {"e.toml": edit("diversity = 0.3", "diversty = 0.3")}, ["ab", "e.toml"],
     ["diversty"]),
    ("unknown table", {"e.toml": GOOD + "\n[extra]\nx = 1\n"}, ["ab", "e.toml"], ["extra"]),
    ("users below two", {"e.toml": edit("users = 500", "users = 1")}, ["ab", "e.toml"], ["users", "at least 2"]),
    ("missing experiment file", {}, ["ab", "nothere.toml"], ["nothere.toml"]),
    ("ab without --out", {"e.toml": GOOD}, ["ab", "e.toml", "--no-out"], ["--out", "required"]),
    ("ab --workers 0", {"e.toml": GOOD}, ["ab", "e.toml", "--workers", "0"], ["positive integer", "0"]),
    ("ab --days -1", {"e.toml": GOOD}, ["ab", "e.toml", "--days", "-1"], ["positive integer", "-1"]),
    ("ab --json under a file", {"e.toml": GOOD, "taken": "x"}, ["ab", "e.toml", "--json", "taken/a.json"],
     ["taken", "not a directory"]),
    ("ab --out is a file", {"e.toml": GOOD, "taken": "x"}, ["ab", "e.toml", "--out", "taken"],
     ["--out", "not a directory"]),
    ("ab --out is not empty", {"e.toml": GOOD, "full/x.txt": "x"}, ["ab", "e.toml", "--out", "full"],
     ["--out", "not empty"]),
    ("ab --out parent missing", {"e.toml": GOOD}, ["ab", "e.toml", "--out", "a/b/c"], ["parent", "does not exist"]),
    ("ab unreachable scheduler", {"e.toml": GOOD}, ["ab", "e.toml", "--scheduler", "tcp://127.0.0.1:9"],
     ["--scheduler", "cannot connect"]),
    # demo
    ("demo --users 0", {}, ["demo", "--users", "0"], ["positive integer"]),
    ("demo --out not empty", {"full/x.txt": "x"}, ["demo", "--out", "full"], ["--out", "not empty"]),
    ("demo --seed not a number", {}, ["demo", "--seed", "seven"], ["--seed", "seven"]),
    # power
    ("power alpha outside (0, 1)", {}, ["power", "--metric", "ctr", "--baseline", "0.1", "--mde", "0.01",
                                        "--alpha", "2"], ["alpha"]),
    ("power unknown metric", {}, ["power", "--metric", "joy", "--baseline", "0.1", "--mde", "0.01"], ["joy"]),
    ("power needs mde or users", {}, ["power", "--metric", "ctr", "--baseline", "0.1"], ["--mde", "--users"]),
    # analyze (arguments; table contents are in tests/stats)
    ("analyze missing table", {}, ["analyze", "missing.parquet", "--control", "a"], ["missing.parquet"]),
    ("analyze not a table", {"t.txt": "\x00\x01garbage"}, ["analyze", "t.json", "--control", "a"], ["t.json"]),
    # evaluate
    ("evaluate unknown format", {"r.csv": "user,item\n1,2\n"}, ["evaluate", "--interactions", "r.csv", "--format",
                                                               "excel"], ["excel"]),
    ("evaluate k zero", {"r.csv": "user,item\n1,2\n"}, ["evaluate", "--interactions", "r.csv", "--k", "0"], ["0"]),
    ("evaluate missing file", {}, ["evaluate", "--interactions", "nothere.csv"], ["nothere.csv"]),
    # artwork-test
    ("artwork-test probability above one", {}, ["artwork-test", "--users", "100", "--p-a", "1.2", "--p-b", "0.3"],
     ["1.2"]),
    ("artwork-test users below two", {}, ["artwork-test", "--users", "1", "--p-a", "0.2", "--p-b", "0.3"],
     ["users"]),
    # unknown command and option
    ("unknown command", {}, ["launch"], ["launch"]),
]


@pytest.mark.parametrize("case,files,argv,needles", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, files, argv, needles, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("recsys.core.parallel.CONNECT_TIMEOUT", 2)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    if argv[0] in ("ab",) and "--out" not in argv and "--no-out" not in argv:
        argv = [*argv, "--out", "out"]
    argv = [a for a in argv if a != "--no-out"]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    rc = main([*argv, "--quiet"] if argv[0] in ("ab", "demo") else argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert rc == 2, (case, captured.err)
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    for word in needles:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before, f"{case}: wrote {set(after) - set(before)}"


def test_the_suite_covers_every_command_and_enough_cases():
    commands = {c[2][0] for c in CASES}
    assert {"ab", "demo", "power", "analyze", "evaluate", "artwork-test"} <= commands
    assert len(CASES) >= 30
