"""What the dashboard's tests share: Horizon served by `python -m nimbus.dashboard serve` over the
module's `nimbus api` (the `dashboard` fixture), its static files collected once per Horizon
version (`dashboard_static`, a session fixture), a headless Chromium driven by Playwright
(`browser`), and a Horizon user's steps in it: log in, screenshot, crawl the menu.

Screenshots go to $NIMBUS_TEST_ARTEFACTS/dashboard/<test>/, else build/artefacts/dashboard/<test>/
(kept after the run, as test artefacts)."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Locator, Page, Response, expect, sync_playwright

from nimbus.dashboard import static
from nimbus.devcloud import cluster
from tests.conftest import REPO

CHROMIUM = pathlib.Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's Chromium drives Horizon: make deps installs it"
)
# What Horizon shows instead of a page when a view raised (its 500.html), and Django's own.
ERROR_PAGES = ("Something went wrong!", "Server Error (500)", "Traceback (most recent call")


def artefacts(test: str) -> pathlib.Path:
    """This test's directory of screenshots, emptied."""
    base = pathlib.Path(os.environ.get("NIMBUS_TEST_ARTEFACTS", REPO / "build" / "artefacts"))
    directory = base / "dashboard" / test
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


@pytest.fixture(scope="session")
def dashboard_static() -> pathlib.Path:
    """Horizon's static files, collected and compressed once per Horizon version (a few
    seconds, the first time; ~/.cache/nimbus/dashboard after that)."""
    return static.collected()


@pytest.fixture(scope="module")
def dashboard(api: str, dashboard_static: pathlib.Path,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # fmt: skip
    """Horizon, unmodified, with Nimbus's local settings, over the module's API: its URL."""
    home = tmp_path_factory.mktemp("dashboard")
    (listen,) = cluster._free_ports(1)
    url = f"http://127.0.0.1:{listen}"
    log = home / "dashboard.log"
    env = dict(os.environ, NIMBUS_DASHBOARD_KEYSTONE_URL=f"{api}/v3",
               NIMBUS_DASHBOARD_SECRET_KEY="tests-only-" + home.name,
               NIMBUS_DASHBOARD_STATIC_ROOT=str(dashboard_static))  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "nimbus.dashboard", "serve", f"--bind=127.0.0.1:{listen}",
             "--workers=2"], stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                urllib.request.urlopen(f"{url}/auth/login/", timeout=30).close()
                break
            except OSError:  # not listening yet, or still loading Horizon
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        # Horizon logs the API errors it shows as messages (with their tracebacks); a view
        # that raised is Django's "Internal Server Error".
        text = log.read_text()
        assert "Internal Server Error" not in text, text[-6000:]
        assert "gAAAAA" not in text  # no token logged


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Crawl:
    """What a crawl of the menu found: pages with their status, server errors (a page's or a
    request's), and the error messages Horizon showed on them."""

    pages: dict[str, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    messages: dict[str, list[str]] = field(default_factory=dict)


def log_in(page: Page, url: str, user: str, password: str) -> None:
    """Horizon's login form, as a user fills it; returns on the page Horizon lands on."""
    page.goto(f"{url}/auth/login/")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("#loginBtn")


def shot(page: Page, shots: pathlib.Path, step: str) -> None:
    """A screenshot of the whole page, named after the step."""
    page.screenshot(path=str(shots / f"{step}.png"), full_page=True)


def row(page: Page, table: str, name: str) -> Locator:
    """The row of a Horizon (Django) table showing `name` (by its id, e.g. `instances`)."""
    return page.locator(f"#{table} tbody tr:has(td a:text-is('{name}'))")


def row_action(page: Page, table: str, name: str, action: str) -> None:
    """Click the action of the row showing `name` (e.g. `stop`, `attachments`)."""
    act(row(page, table, name), action)


def act(found: Locator, action: str) -> None:
    """Click a row's action: its button, else the entry of the row's action menu."""
    expect(found).to_be_visible(timeout=30_000)
    button = found.locator(f"[id$='__action_{action}']")
    if not button.is_visible():
        found.locator(".dropdown-toggle").click()
    button.click()


def choose(form: Locator, field: str, label: str, *, exact: bool = True) -> None:
    """Pick the option shown as `label` (or containing it) in Horizon's own select, a dropdown
    over the hidden `<select id=field>`."""
    select = form.locator(f".themable-select:has(#{field})")
    expect(select.locator("button.dropdown-toggle")).to_be_visible(timeout=30_000)
    select.locator("button.dropdown-toggle").click()
    matching = "text-is" if exact else "has-text"
    select.locator(f".dropdown-menu a:{matching}('{label}')").click()


def confirm(page: Page) -> None:
    """Horizon's confirmation dialog of a dangerous action: its action button."""
    dialog = page.locator(".modal:visible").last
    button = dialog.locator(".modal-footer .btn-danger, .modal-footer .btn-primary").first
    expect(button).to_be_visible(timeout=15_000)
    button.click()


def menu(page: Page) -> list[str]:
    """The paths of every panel in the sidebar, in its order (collapsed groups included)."""
    hrefs: list[str] = page.eval_on_selector_all(
        "#sidebar-accordion a[href]", "links => links.map(a => a.getAttribute('href'))"
    )
    return list(dict.fromkeys(h for h in hrefs if h.startswith("/") and h != "/"))


def crawl(page: Page, url: str, paths: list[str], shots: pathlib.Path) -> Crawl:
    """Visit each path as the logged-in user, waiting for the page's own requests (Angular
    panels load their tables from Horizon's REST API); screenshot each."""
    found = Crawl()

    def on_response(response: Response) -> None:
        status = response.status
        if status >= 500:
            found.server_errors.append(f"{status} {response.url}")

    page.on("response", on_response)
    for number, path in enumerate(paths):
        response = page.goto(url + path, wait_until="networkidle")
        status = response.status if response is not None else 0
        found.pages[path] = status
        text = page.content()
        if status >= 500 or any(marker in text for marker in ERROR_PAGES):
            found.server_errors.append(f"{status} {path}")
        alerts = page.eval_on_selector_all(
            ".alert-danger, .alert-error", "nodes => nodes.map(n => n.innerText.trim())"
        )
        if alerts:
            found.messages[path] = alerts
        name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
        page.screenshot(path=str(shots / f"{number:02d}-{name}.png"), full_page=True)
    page.remove_listener("response", on_response)
    return found
