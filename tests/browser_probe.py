"""Headless Chromium for the page tests: find the binary, and measure the posters of a page as the
browser lays them out (a copy of the page with a probe script; the page itself has no script)."""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]


def chromium() -> str:
    """The Chromium binary, or skip the test saying why."""
    exe = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    if exe is None:
        print("skipped: no chromium, chromium-browser or google-chrome binary on PATH")
        pytest.skip("no chromium, chromium-browser or google-chrome binary on PATH")
    return exe


# For every svg.poster: its text elements' boxes must lie inside the poster, and the title's
# rendered font size (user units x the poster's scale) is recorded in CSS pixels.
_PROBE = """<script>addEventListener('load', () => {
  const out = {posters: 0, overflow: [], title_px: [], lines: 0};
  for (const svg of document.querySelectorAll('svg.poster')) {
    out.posters += 1;
    const box = svg.getBoundingClientRect(), scale = box.width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBoundingClientRect();
      if (b.left < box.left - 0.5 || b.right > box.right + 0.5 || b.top < box.top - 0.5 || b.bottom > box.bottom + 0.5)
        out.overflow.push(t.textContent);
    }
    for (const t of svg.querySelectorAll('.poster-title text')) {
      out.lines += 1;
      out.title_px.push(parseFloat(getComputedStyle(t).fontSize) * scale);
    }
  }
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});</script>"""


def measure_posters(html: str, tmp_path: Path, exe: str) -> tuple[dict, str]:
    """Lay out ``html`` in Chromium; returns ({posters, overflow: [texts outside their poster],
    title_px: [rendered title sizes], lines}, the DOM as the browser built it)."""
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run([exe, *FLAGS, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, flags=re.S)
    assert found, "the probe did not run"
    return json.loads(html_lib.unescape(found.group(1))), dom


def screenshot(path: Path, out: Path, exe: str, size: str = "1280,2000") -> bytes:
    subprocess.run([exe, *FLAGS, f"--window-size={size}", f"--screenshot={out}", path.as_uri()], check=True,
                   capture_output=True, timeout=120)
    return out.read_bytes()
