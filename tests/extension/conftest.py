"""The extension loaded into the page test's Chromium (headless=new loads unpacked extensions).

Selenium drives pages; a DevTools connection to the browser target does what a user does in
Chrome's own UI: ``Extensions.triggerAction`` clicks the toolbar button (which grants activeTab and
opens the popup), and scripts are evaluated inside the popup and the service worker.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import websocket

from deploy.local.build_extension import build_unpacked, extension_origin
from tests.web.conftest import CHROMIUM_FLAGS, artifacts, browser, browser_binaries


class DevTools:
    """A DevTools Protocol connection to the whole browser (not one page)."""

    def __init__(self, address: str) -> None:
        url = httpx.get(f"http://{address}/json/version", timeout=10).json()["webSocketDebuggerUrl"]
        self._socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self._ids = itertools.count(1)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result (events in between are skipped)."""
        message_id = next(self._ids)
        message: dict = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        while True:
            answer = json.loads(self._socket.recv())
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

    def targets(self, kind: str) -> list[dict]:
        return [t for t in self.call("Target.getTargets", {"filter": [{"type": kind}]})["targetInfos"]]

    def wait_target(self, kind: str, url_part: str, timeout: float = 15) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for target in self.targets(kind):
                if url_part in target["url"]:
                    return target
            time.sleep(0.1)
        raise AssertionError(f"no {kind} target with {url_part!r}: {self.targets(kind)}")

    def evaluate(self, target_id: str, expression: str) -> object:
        """Evaluate ``expression`` (promises awaited) in a target and return its value."""
        session = self.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})["sessionId"]
        try:
            answer = self.call(
                "Runtime.evaluate",
                {"expression": expression, "awaitPromise": True, "returnByValue": True},
                session=session,
            )
        finally:
            self.call("Target.detachFromTarget", {"sessionId": session})
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression[:80]}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, target_id: str) -> bytes:
        """A PNG of a page target (the popup, which Selenium cannot reach)."""
        import base64

        session = self.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})["sessionId"]
        try:
            data = self.call("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
        finally:
            self.call("Target.detachFromTarget", {"sessionId": session})
        return base64.b64decode(data)

    def close(self) -> None:
        self._socket.close()


@dataclass
class ExtensionBrowser:
    """Chromium with the extension loaded: the Selenium driver, DevTools, and the extension's id."""

    driver: object
    devtools: DevTools
    extension_id: str

    def page(self, name: str) -> str:
        return f"chrome-extension://{self.extension_id}/{name}"

    def worker(self) -> str:
        return self.devtools.wait_target("service_worker", self.page("service_worker.js"))["targetId"]

    def in_worker(self, expression: str) -> object:
        """Evaluate in the extension's service worker."""
        return self.devtools.evaluate(self.worker(), expression)

    def current_tab(self) -> dict:
        """The tab target of the page Selenium is on."""
        url = self.driver.current_url
        return next(t for t in self.devtools.targets("tab") if t["url"] == url)

    def click_toolbar_button(self) -> str:
        """Click the extension's toolbar button on the current tab; return the popup's target id."""
        for old in self.devtools.targets("page"):
            if old["url"].startswith(self.page("popup.html")):
                self.devtools.call("Target.closeTarget", {"targetId": old["targetId"]})
        tab = self.current_tab()["targetId"]
        self.devtools.call("Extensions.triggerAction", {"id": self.extension_id, "targetId": tab})
        popup = self.devtools.wait_target("page", self.page("popup.html"))["targetId"]
        deadline = time.monotonic() + 10
        shown = "((document.getElementById('summary') || {}).textContent || '') !== ''"
        while not self.devtools.evaluate(popup, shown):
            assert time.monotonic() < deadline, "the popup never showed the tab's state"
            time.sleep(0.1)
        return popup


@pytest.fixture(scope="module")
def extension_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtensionBrowser]:
    """Headless Chromium (the page test's install) with the built extension loaded unpacked."""
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = browser_binaries()
    unpacked = build_unpacked(tmp_path_factory.mktemp("extension") / "unpacked")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    flags = [flag for flag in CHROMIUM_FLAGS if flag != "--headless"]
    profile = tmp_path_factory.mktemp("chromium-extension-profile")
    for flag in (
        *flags,
        "--headless=new",  # the old headless mode cannot load extensions
        f"--load-extension={unpacked}",
        "--enable-unsafe-extension-debugging",  # lets DevTools click the toolbar button
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    devtools = DevTools(driver.capabilities["goog:chromeOptions"]["debuggerAddress"])
    try:
        worker = devtools.wait_target("service_worker", "/service_worker.js")
        extension_id = worker["url"].split("/")[2]
        yield ExtensionBrowser(driver=driver, devtools=devtools, extension_id=extension_id)
    finally:
        devtools.close()
        driver.quit()


# The page test's fixtures: a plain headless Chromium (the selection unit tests) and the screenshot folder.
__all__ = ["DevTools", "ExtensionBrowser", "artifacts", "browser", "extension_origin"]
