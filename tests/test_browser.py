"""The demo report opened in real headless Chromium, as a reader would open it.

Debian's ``chromium`` and ``chromium-driver`` packages, driven by selenium through
``/usr/bin/chromedriver``: the page loads with no console error and no network request other
than the page itself (read from the Chrome DevTools Network events of the performance log),
every image renders, and a full-page screenshot in each language is saved under
``artifacts/`` at the repository root. A hand-made page with an external image, a script
error and a broken image shows that each check fails when it should (negative control).

Skipped, saying why, when Chromium, its driver or selenium is missing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

if not (Path(CHROMIUM).is_file() and Path(DRIVER).is_file()):
    pytest.skip(
        "headless Chromium is not installed (Debian: apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
selenium = pytest.importorskip(
    "selenium", reason="selenium is not installed (pip install selenium)"
)

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from test_report import demo_report


@attrs.frozen
class PageCheck:
    """What a page did in the browser."""

    console_errors: tuple[str, ...]
    requests: tuple[str, ...]
    images: tuple[tuple[bool, int, float], ...]  # complete, naturalWidth, rendered width
    svg_widths: tuple[float, ...]
    text: str

    def foreign_requests(self, page_url: str) -> list[str]:
        """Requests other than the page itself and inline data.

        The browser's own pages (``chrome://``: the new-tab page it may draw while starting)
        are its user interface, not the report's, and never leave the machine.
        """
        own = ("data:", "chrome://", "chrome-untrusted://", "devtools://")
        return [u for u in self.requests if u != page_url and not u.startswith(own)]

    def broken_images(self) -> list[int]:
        return [
            i
            for i, (done, width, shown) in enumerate(self.images)
            if not (done and width > 0 and shown > 0)
        ]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    profile = tempfile.mkdtemp(prefix="stickykit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def inspect_page(driver: Any, url: str) -> PageCheck:
    """Load ``url`` and collect console errors, network requests, images and text."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get_log("performance")
    driver.get(url)
    driver.execute_script("return document.readyState")
    errors = tuple(e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE")
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    images = driver.execute_script(
        "return Array.from(document.images).map("
        "i => [i.complete, i.naturalWidth, i.getBoundingClientRect().width]);"
    )
    svgs = driver.execute_script(
        "return Array.from(document.querySelectorAll('svg')).map("
        "s => s.getBoundingClientRect().width);"
    )
    text = driver.execute_script("return document.body.innerText;")
    return PageCheck(
        console_errors=errors,
        requests=tuple(requests),
        images=tuple((bool(c), int(w), float(r)) for c, w, r in images),
        svg_widths=tuple(float(w) for w in svgs),
        text=text,
    )


def screenshot(driver: Any, path: Path) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.set_window_size(1280, min(int(height) + 40, 30_000))
    path.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)


@pytest.mark.parametrize(("lang", "words"), [("en", "Net Promoter Score"), ("zh", "净推荐值")])
def test_demo_report_in_chromium(browser: Any, tmp_path: Path, lang: str, words: str) -> None:
    page = demo_report(lang).write(tmp_path / f"report-{lang}.html")
    url = page.as_uri()
    check = inspect_page(browser, url)
    assert check.console_errors == ()
    assert url in check.requests
    assert check.foreign_requests(url) == []
    assert len(check.images) >= 8  # one chart per figure-bearing section of the demo
    assert check.broken_images() == []
    assert all(width > 0 for width in check.svg_widths)
    assert words in check.text
    screenshot(browser, ARTIFACTS / f"report-{lang}.png")
    assert (ARTIFACTS / f"report-{lang}.png").stat().st_size > 10_000


def test_checks_catch_a_bad_page(browser: Any, tmp_path: Path) -> None:
    """Negative control: an external image, a script error and a broken image are all seen."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body>"
        '<img src="http://127.0.0.1:9/pixel.png" alt="external">'
        '<img src="data:image/png;base64,AAAA" alt="broken">'
        "<script>console.error('boom')</script>"
        "</body></html>",
        encoding="utf-8",
    )
    url = page.as_uri()
    check = inspect_page(browser, url)
    assert any("boom" in e for e in check.console_errors)
    assert check.foreign_requests(url) == ["http://127.0.0.1:9/pixel.png"]
    assert check.broken_images() == [0, 1]
