"""Open the built site in a real browser (headless Chromium) and check what a reader sees.

A page can build without a warning and still be broken in a browser: a script that
throws, a figure whose file is missing, a search index that does not load. This serves
``docs/_build/html`` on 127.0.0.1 and drives Debian's ``chromium`` through its
``chromedriver`` (browsers cannot be downloaded here, so Selenium Manager is never asked
to fetch one), and checks that

- every page loads with no error in the browser console and no request answered 4xx/5xx;
- every image on every page loads (``naturalWidth > 0``);
- at desktop width (1280 px), every cell output and every table fits the text column: a
  reader must not have to scroll sideways to find a column (tracebacks wrap);
- no page, notebook or search index names the build machine: no absolute path of the
  clone, the Python environment, the home folder or a kernel's temporary files
  (``build_paths.py``);
- every tutorial links its notebook (``.ipynb``) and source (``.md``), and both exist;
- the search page finds the ``put`` tutorial (``search.html?q=put``);

and notes (without failing) what is wider than the column on a 400 px phone screen. Then
it saves screenshots under ``docs/_build/screenshots/``: the home page, one tutorial and
the Status page in furo's light and dark themes, the Keras tutorial (its comparison
table), and the ``put`` tutorial 400 px wide. Exit status 1 on any problem.

Usage::

    python docs/tools/check_site.py [--html DIR] [--screenshots DIR]
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from build_paths import leaked_paths

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "docs" / "_build"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--lang=en-US",
]
WIDTH, HEIGHT, MAX_HEIGHT = 1280, 900, 6000
PHONE = 400  # px: a narrow screen, where what does not fit is noted, not failed
WAIT = 30.0  # seconds for a page's images or the search results to arrive

# Resolves once every image has loaded or failed (lazy images made eager first, since a
# headless window never scrolls to them), then reports each image's source and width.
_IMAGES_JS = """
const done = arguments[arguments.length - 1];
const images = [...document.images];
images.forEach((img) => { img.loading = "eager"; });
Promise.all(images.map((img) => img.complete ? null : new Promise((resolve) => {
  img.addEventListener("load", resolve); img.addEventListener("error", resolve);
}))).then(() => done(images.map((img) => [img.getAttribute("src"), img.naturalWidth])));
"""

# What does not fit the text column: a cell output or a table whose content overflows
# its own box (a reader scrolls sideways, and may miss a column that is out of sight), or
# that sticks out past the column's right edge. furo's table wrappers are a few pixels
# wider than the column by their padding: for them and their tables, only what they hide
# counts. Each finding as
# [what, text it starts with, width needed, column width].
_TOO_WIDE_JS = """
const column = document.querySelector("article[role=main]") || document.body;
const right = column.getBoundingClientRect().right;
const hides = (el) => ["auto", "scroll", "hidden"].includes(getComputedStyle(el).overflowX)
  && el.scrollWidth > el.clientWidth + 1;
const sticksOut = (el) => el.getBoundingClientRect().right > right + 1;
const found = [];
const boxes = [...document.querySelectorAll(
  "article .cell_output pre, article .table-wrapper, article table"
)];
for (const el of boxes) {
  // a wrapper counts by what it hides (it sticks out by its own padding), and so does
  // the table it holds; any other box also by sticking out of the column
  const wrapped = el.classList.contains("table-wrapper") || el.closest(".table-wrapper");
  if (!(wrapped ? hides(el) : hides(el) || sticksOut(el))) continue;
  if (found.some((f) => f[4].contains(el))) continue;
  const what = el.closest(".cell_output") ? "cell output" : "table";
  const text = (el.innerText || "").trim().split("\\n")[0].slice(0, 60);
  found.push([what, text, el.scrollWidth, Math.round(column.clientWidth), el]);
}
return found.map((f) => f.slice(0, 4));
"""


class _Handler(SimpleHTTPRequestHandler):
    """Serves the site quietly and remembers every request that failed."""

    failures: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) >= 400:
            self.failures.append(f"HTTP {code} for {self.path}")


@contextmanager
def serve(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``folder`` on a free port of 127.0.0.1; yield its URL and the failed requests."""
    failures: list[str] = []
    handler = functools.partial(
        type("Handler", (_Handler,), {"failures": failures}), directory=str(folder)
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", failures
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """Headless Chromium with a fresh profile; its home and caches inside the build folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not browser or not driver_path:
        raise SystemExit(
            "chromium and chromedriver are needed: apt-get install chromium chromium-driver "
            "(nox -s site installs them)"
        )
    shutil.rmtree(profile, ignore_errors=True)
    home = profile / "home"
    home.mkdir(parents=True)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in [*FLAGS, f"--user-data-dir={profile / 'data'}", f"--window-size={WIDTH},{HEIGHT}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PATH": "/usr/bin:/bin",
    }
    service = Service(executable_path=driver_path, env=env)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def display(path: Path) -> str:
    """``path`` relative to the repository when inside it."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _wait_until(predicate, what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"{what}: nothing after {WAIT:.0f} s")


def console_errors(driver: Any) -> list[str]:
    """Errors logged in the console since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def site_pages(html: Path) -> list[str]:
    """Every HTML page of the site, relative to its root (static files left out)."""
    return sorted(
        p.relative_to(html).as_posix()
        for p in html.rglob("*.html")
        if not p.relative_to(html).parts[0].startswith(("_static", "_sources", "."))
    )


def _load(driver: Any, url: str, page: str) -> None:
    driver.get(url + page)
    _wait_until(lambda: driver.execute_script("return document.readyState") == "complete", page)
    driver.set_script_timeout(WAIT)


def _too_wide(driver: Any, page: str) -> list[str]:
    return [
        f"{page}: {what} wider than the text column ({needed} px in {column} px): {text!r}"
        for what, text, needed, column in driver.execute_script(_TOO_WIDE_JS)
    ]


def check_pages(driver: Any, url: str, html: Path) -> list[str]:
    """Load every page at desktop width; the problems found (console errors, images that
    did not load, outputs and tables wider than the text column)."""
    problems = []
    pages = site_pages(html)
    driver.set_window_size(WIDTH, HEIGHT)
    for page in pages:
        _load(driver, url, page)
        for src, width in driver.execute_async_script(_IMAGES_JS):
            if not width:
                problems.append(f"{page}: image {src} did not load")
        problems += [f"{page}: console error: {m}" for m in console_errors(driver)]
        problems += _too_wide(driver, page)
    print(f"loaded {len(pages)} pages at {WIDTH} px")
    return problems


def phone_notes(driver: Any, url: str, html: Path) -> list[str]:
    """What is wider than the text column on a 400 px screen (noted, not failed)."""
    driver.set_window_size(PHONE, HEIGHT)
    notes = []
    for page in site_pages(html):
        _load(driver, url, page)
        notes += _too_wide(driver, page)
    driver.set_window_size(WIDTH, HEIGHT)
    return notes


def check_no_machine_paths(html: Path) -> list[str]:
    """Every text file of the site (pages, sources, notebooks, search index) is free of
    the build machine's absolute paths."""
    problems = []
    suffixes = {".html", ".txt", ".ipynb", ".md", ".json"}
    files = [p for p in html.rglob("*") if p.is_file() and p.suffix in suffixes]
    files += [p for p in [html / "searchindex.js"] if p.is_file()]
    for path in sorted(files):
        text = path.read_text(encoding="utf-8", errors="replace")
        for leak in leaked_paths(text):
            problems.append(f"{path.relative_to(html).as_posix()}: a build machine path: {leak}")
    print(f"machine paths: searched {len(files)} files")
    return problems


def check_notebook_links(html: Path) -> list[str]:
    """Every tutorial links its ``.ipynb`` and ``.md``, and the files are there."""
    problems = []
    for page in sorted(html.glob("tutorials/*.html")):
        text = page.read_text(encoding="utf-8")
        for suffix in (".ipynb", ".md"):
            name = page.with_suffix(suffix).name
            if f'href="{name}"' not in text:
                problems.append(f"tutorials/{page.name}: no link to {name}")
            elif not page.with_suffix(suffix).is_file():
                problems.append(f"tutorials/{page.name}: links {name}, which is not in the site")
    return problems


def check_search(driver: Any, url: str, html: Path, query: str) -> list[str]:
    """The search page finds the tutorial whose file name contains ``query``."""
    expected = sorted(
        p.relative_to(html).as_posix() for p in html.glob(f"tutorials/*{query}*.html")
    )
    if not expected:
        return [f"search: no tutorial page named like tutorials/*{query}*.html in the build"]
    driver.get(f"{url}search.html?q={query}")

    def results() -> list[str] | None:
        summary = driver.execute_script(
            "const s = document.querySelector('#search-results .search-summary');"
            "return s ? s.textContent : '';"
        )
        if not summary or "Preparing" in summary:
            return None
        return driver.execute_script(
            "return [...document.querySelectorAll('#search-results ul.search li a')]"
            ".map((a) => a.getAttribute('href'));"
        )

    try:
        found = _wait_until(lambda: results() is not None and results(), f"search for {query!r}")
    except TimeoutError as exc:
        return [str(exc)]
    problems = [f"search: console error: {m}" for m in console_errors(driver)]
    hits = [h.split("?")[0].split("#")[0] for h in found]
    if not any(page in hits for page in expected):
        problems.append(f"search for {query!r} did not find {expected[0]}; it found {hits}")
    else:
        print(f"search for {query!r}: {len(hits)} results, {expected[0]} among them")
    return problems


def screenshots(driver: Any, url: str, pages: dict[str, str], out: Path) -> list[str]:
    """Full-page screenshots of ``pages`` (name -> (path, width, themes)).

    Returns the problems met: a page whose theme cannot be switched is one.
    """
    out.mkdir(parents=True, exist_ok=True)
    problems = []
    for theme in ("light", "dark"):
        for name, (page, width, themes) in pages.items():
            if theme not in themes:
                continue
            driver.set_window_size(width, HEIGHT)
            driver.get(url + page)
            driver.execute_script("localStorage.setItem('theme', arguments[0]);", theme)
            driver.refresh()
            try:
                _wait_until(
                    lambda t=theme: (
                        driver.execute_script("return document.body.dataset.theme") == t
                    ),
                    f"{theme} theme on {page}",
                )
            except TimeoutError as exc:
                problems.append(str(exc))
                continue
            driver.set_script_timeout(WAIT)
            driver.execute_async_script(_IMAGES_JS)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(width, min(max(height, HEIGHT), MAX_HEIGHT))
            path = out / f"{name}-{theme}.png"
            driver.save_screenshot(str(path))
            print(f"screenshot: {display(path)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=BUILD / "html")
    parser.add_argument("--screenshots", type=Path, default=BUILD / "screenshots")
    parser.add_argument("--search", default="put", help="query; must find tutorials/*QUERY*")
    args = parser.parse_args(argv)
    html = args.html.resolve()
    if not (html / "index.html").is_file():
        parser.error(f"no site in {html}: build it first (nox -s docs)")
    tutorials = sorted(p.relative_to(html).as_posix() for p in html.glob("tutorials/*.html"))
    tutorial = next((t for t in tutorials if args.search in Path(t).name), None)
    tutorial = tutorial or (tutorials or ["index.html"])[0]
    both = ("light", "dark")
    shots = {"home": ("index.html", WIDTH, both), "tutorial": (tutorial, WIDTH, both)}
    if (html / "status.html").is_file():
        shots["status"] = ("status.html", WIDTH, both)
    keras = next((t for t in tutorials if "keras" in Path(t).name), None)
    if keras:
        shots["keras"] = (keras, WIDTH, ("light",))
    shots["tutorial-400px"] = (tutorial, PHONE, ("light",))
    problems = check_no_machine_paths(html) + check_notebook_links(html)
    with serve(html) as (url, failed_requests), chromium(BUILD / "home" / "chromium") as driver:
        problems += check_pages(driver, url, html)
        notes = phone_notes(driver, url, html)
        problems += check_search(driver, url, html, args.search)
        problems += screenshots(driver, url, shots, args.screenshots)
    problems += sorted(set(failed_requests))
    for note in notes:
        print(f"note ({PHONE} px): {note}")
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    print(f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
