"""What the browser tests share: Playwright driving Debian's headless Chromium.

A browser test module sets `pytestmark = BROWSER_TEST` (its own marks after it), opens the
browser with `with chromium() as browser:`, a page per language with `open_page`, and logs in
with `log_in`. Its fixtures `browser_settings` (used by every test through BROWSER_TEST) and
`screenshots` are in tests/conftest.py. The `browser` and `slow` markers are given by path in
tests/conftest.py (MARKERS_BY_PATH) or by the module's own `pytestmark`. `.ci/run` installs
Chromium; elsewhere, without it, the tests are skipped.
"""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

import pytest

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the requirements install it
    expect = sync_playwright = None

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Flags of a sandboxed headless run on a machine without network (see the machine notes).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The marks of every browser test: a live server's database, no run without Chromium and
# Playwright, and the `browser_settings` fixture.
BROWSER_TEST = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium on this machine (apt install chromium)"
    ),
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed"),
    pytest.mark.usefixtures("browser_settings"),
]

# The browser's locale (its Accept-Language) -> the admin's language (<html lang>).
LANGUAGES = {"en-US": "en", "zh-CN": "zh-hans"}
# For `parametrize(("locale", "lang"), LOCALES)`: the pairs of LANGUAGES, named by the language.
LOCALES = [pytest.param(locale, lang, id=lang) for locale, lang in LANGUAGES.items()]
VIEWPORT = {"width": 1280, "height": 900}


@contextmanager
def chromium() -> Iterator:
    """Debian's Chromium launched by Playwright, closed on the way out."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, *, locale: str | None = None, viewport=None, timeout: int = 15_000):
    """A page in a browser context of its own: `locale` is the language the browser asks for,
    `viewport` its size (Playwright's 1280 x 720 when not given)."""
    options = {"locale": locale, "viewport": viewport}
    context = browser.new_context(
        **{key: value for key, value in options.items() if value is not None}
    )
    page = context.new_page()
    page.set_default_timeout(timeout)
    return page


def log_in(page, live_url: str) -> None:
    """Log in to the admin as pytest-django's `admin_user` and wait for the admin's header."""
    page.goto(f"{live_url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()


def requests_leaving(page, live_url: str) -> list[str]:
    """The list, filled as the page goes, of the requests it makes that leave the test server."""
    own = urlparse(live_url).netloc
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if urlparse(request.url).netloc not in (own, "") and not request.url.startswith("data:")
            else None
        ),
    )
    return outside
