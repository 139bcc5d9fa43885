"""The README cannot drift from the code: every command its "Your first hour" block shows runs
(at small sizes, in order, in a scratch folder), and every option its commands table names is
an option of that command."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from recsys.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: per command, the options that make it small (value None: a flag); they replace the README's own
SMALL = {
    "demo": {"--users": "400", "--days": "2", "--quiet": None},
    "ab": {"--users": "400", "--days": "2", "--quiet": None},
    "interleave": {"--users": "400", "--days": "2", "--quiet": None},
    "evaluate": {"--users": "400", "--no-progress": None},
    "tune-model": {"--users": "400", "--trials": "2"},
    "preview": {"--users": "400"},
    "artwork-test": {},
    "tune-diversity": {"--users": "400", "--days": "2", "--replicates": "1", "--quiet": None},
    "surrogate-bank": {"--runs": "5", "--users": "200", "--horizon": "12", "--window": "5", "--warmup-days": "7"},
    "custom_model.py": {"--users": "600", "--days": "2"},
}


def first_hour() -> list[list[str]]:
    section = README.split("## Your first hour", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```bash\n(.*?)```", section, flags=re.S)[0]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def shrink(argv: list[str]) -> list[str]:
    name = argv[1] if argv[0] == "recsys" else Path(argv[1]).name
    out = list(argv)
    for flag, value in SMALL.get(name, {}).items():
        if flag in out:
            if value is not None:
                out[out.index(flag) + 1] = value
        else:
            out += [flag] if value is None else [flag, value]
    if name == "artwork-test" and "--world" in out:
        out[out.index("--users") + 1] = "400"
    return out


def test_the_first_hour_block_lists_every_command():
    named = {argv[1] for argv in first_hour() if argv[0] == "recsys" and not argv[1].startswith("-")}
    assert named == set(COMMANDS), f"missing from the README: {set(COMMANDS) - named}"


#: commands whose full run is covered by their own tests and takes tens of seconds even when shrunk:
#: the default suite checks that their README line parses; ``-m slow`` runs them too
HEAVY = {"tune-diversity", "surrogate-bank", "custom_model.py"}


def _name(argv: list[str]) -> str:
    return argv[1] if argv[0] == "recsys" else Path(argv[1]).name


def _lines():
    for argv in first_hour():
        mark = [pytest.mark.slow] if _name(argv) in HEAVY else []
        yield pytest.param(argv, marks=mark, id=" ".join(argv[:3]))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("first-hour")
    (folder / "experiments").symlink_to(ROOT / "experiments")
    return folder


@pytest.mark.parametrize("argv", list(_lines()))
def test_every_first_hour_line_parses(argv):
    if argv[0] == "python":
        assert (ROOT / argv[1]).is_file()
        return
    if argv[1] == "--version":
        return
    args = build_parser().parse_args(argv[1:])
    assert args.command == argv[1]


@pytest.mark.parametrize("argv", list(_lines()))
def test_every_first_hour_command_runs(argv, workdir, monkeypatch, capsys):
    """In README order, in one folder: later lines read what earlier ones wrote."""
    monkeypatch.chdir(workdir)
    small = shrink(argv)
    if small[0] == "python":
        proc = subprocess.run([sys.executable, *small[1:]], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (small, proc.stderr[-2000:])
        assert (workdir / small[small.index("--out") + 1] / "report.html").is_file()
        return
    assert small[0] == "recsys", small
    if small[1] == "--version":
        with pytest.raises(SystemExit) as exc:
            main(small[1:])
        assert exc.value.code == 0
        assert capsys.readouterr().out.startswith("recsys ")
        return
    rc = main(small[1:])
    err = capsys.readouterr().err
    assert rc == 0, (small, err[-2000:])
    for flag in ("--out", "--json", "--report"):
        if flag in small and not small[small.index(flag) + 1].startswith("-"):
            assert (workdir / small[small.index(flag) + 1]).exists(), (flag, small)


def _table_rows():
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        m = re.match(r"\|\s*`recsys ([a-z-]+)([^`]*)`", line)
        if m:
            yield m.group(1), m.group(2)


@pytest.mark.parametrize("command,usage", list(_table_rows()), ids=[c for c, _ in _table_rows()])
def test_the_commands_table_names_real_options(command, usage, capsys):
    assert command in COMMANDS
    with pytest.raises(SystemExit):
        main([command, "--help"])
    helptext = capsys.readouterr().out
    for option in re.findall(r"(--[a-z][a-z-]*)", usage):
        assert re.search(rf"{re.escape(option)}\b", helptext), f"{command}: {option} is not an option"


def test_the_commands_table_covers_every_command():
    assert {c for c, _ in _table_rows()} == set(COMMANDS)


def test_shrink_keeps_the_readme_arguments():
    assert shrink(["recsys", "ab", "x.toml", "--out", "o", "--users", "9"]) == \
        ["recsys", "ab", "x.toml", "--out", "o", "--users", "400", "--days", "2", "--quiet"]
