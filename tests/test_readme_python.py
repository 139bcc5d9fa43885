"""The README's "From Python" example runs as written (in a scratch folder)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the section holds one Python example"
    return blocks[0]


def test_the_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(_example(), "README.md (From Python)", "exec"), namespace)
    out = capsys.readouterr().out
    assert (tmp_path / "report.html").stat().st_size > 10_000
    exp, offline = namespace["exp"], namespace["offline"]
    assert set(exp.table["arm"]) == {"popularity", "ease"}
    assert {"popularity", "itemknn", "ease"} <= set(offline["model"])
    assert exp.decision.verdict in ("ship", "no-ship", "investigate", "inconclusive")
    assert namespace["X"].shape[0] == 1500 and namespace["X"].nnz > 0
    assert "ndcg" in out and "rel_lift" in out
