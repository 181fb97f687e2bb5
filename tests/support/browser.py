"""Debian's Chromium, headless, driven through its own chromedriver (Selenium), for the
console's browser tests. A missing browser is a failure, never a skip: CI installs it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
T = TypeVar("T")
#: Longest wait for a page a click loads (a replay answers after the broker's ack).
LOAD_SECONDS = 60.0


class Page:
    """One browser tab on the console at `base_url`."""

    def __init__(self, driver: webdriver.Chrome, base_url: str, screenshots: Path | None):
        self.driver = driver
        self.base_url = base_url
        self.screenshots = screenshots

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    @property
    def path(self) -> str:
        return str(self.driver.current_url).removeprefix(self.base_url)

    @property
    def text(self) -> str:
        return str(self.find("body").text)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def row_with(self, text: str) -> WebElement | None:
        """The first table body row showing `text`."""
        return next((row for row in self.find_all("tbody tr") if text in row.text), None)

    def fill(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def click(self, css: str) -> None:
        """Click a link or a submit button; returns once the page it loads is there."""
        before = self.find("html")
        self.find(css).click()
        # While the old document is torn down, Chromium may answer a staleness probe with an
        # inspector error instead of "stale element"; the wait polls again through it.
        wait = WebDriverWait(self.driver, LOAD_SECONDS, ignored_exceptions=[WebDriverException])
        wait.until(staleness_of(before))

    def until(self, check: Callable[[], T | None], timeout: float = 60.0, reload: bool = True) -> T:
        """`check`'s first truthy answer, reloading the page between tries."""
        deadline = time.monotonic() + timeout
        while True:
            answer = check()
            if answer:
                return answer
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.path}: condition not met in {timeout:.0f}s")
            time.sleep(0.5)
            if reload:
                self.driver.refresh()

    def screenshot(self, name: str) -> None:
        """Saved when the run asks for screenshots (CONSOLE_SCREENSHOTS=<dir>)."""
        if self.screenshots is not None:
            self.screenshots.mkdir(parents=True, exist_ok=True)
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            # The window's size includes what the browser draws around the page.
            self.driver.set_window_size(1280, max(720, min(int(height) + 160, 2400)))
            self.driver.save_screenshot(str(self.screenshots / f"{name}.png"))
            self.driver.set_window_size(1280, 900)


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        raise RuntimeError(
            f"{CHROMIUM} and {CHROMEDRIVER} are needed: apt-get install chromium chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
