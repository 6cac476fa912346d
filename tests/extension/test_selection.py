"""Unit tests of the content script's image selection (extension/selection.js), run in the real Chromium.

The script is evaluated on a local test page, so sizes, srcset and <picture> choices and lazy
loading are the browser's own, not a DOM imitation's.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.gateway.httpserver import LocalServer, Reply, local_server

SELECTION = (Path(__file__).resolve().parents[2] / "extension" / "selection.js").read_text()

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>selection</title>
<style>body { margin: 0; } img { display: block; }</style></head><body>
<img id="big" src="/px/300.png">
<img id="tiny" src="/px/40.png">
<img id="shrunk" src="/px/300.png" style="width: 30px; height: 30px">
<img id="upscaled" src="/px/40.png" style="width: 200px; height: 200px">
<img id="none" src="/px/300.png" style="display: none">
<img id="invisible" src="/px/300.png" style="visibility: hidden">
<img id="transparent" src="/px/300.png" style="opacity: 0">
<img id="broken" src="/missing.png" width="200" height="200">
<img id="empty" width="200" height="200">
<img id="srcset" src="/px/100.png" srcset="/px/100.png 100w, /px/400.png 400w , /px/200.png 200w" sizes="100px">
<img id="density" src="/px/100.png" srcset="/px/100.png, /px/300.png 3x, /px/200.png 2x">
<picture id="pic">
  <source type="image/avif" srcset="/px/500.avif 500w">
  <source media="(max-width: 10px)" srcset="/px/450.png 450w">
  <source srcset="/px/120.png 120w, /px/360.png 360w">
  <img id="in-picture" src="/px/100.png">
</picture>
<div style="height: 6000px"></div>
<img id="lazy" loading="lazy" src="/px/250.png">
</body></html>"""


def png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (side % 256, 80, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def site() -> Iterator[LocalServer]:
    sides = (40, 100, 120, 200, 250, 300, 360, 400, 450)
    routes = {f"/px/{side}.png": Reply(200, png(side), {"Content-Type": "image/png"}) for side in sides}
    # The browser shows the AVIF source (it only sniffs the bytes); the gateway would refuse AVIF.
    routes["/px/500.avif"] = Reply(200, png(500), {"Content-Type": "image/avif"})
    routes["/"] = Reply(200, PAGE.encode(), {"Content-Type": "text/html"})
    with local_server(routes) as server:
        yield server


@pytest.fixture
def page(browser, site):
    browser.set_window_size(1280, 900)
    browser.get(site.url("/"))
    browser.execute_script(SELECTION)
    # Everything above the fold has loaded (or failed) before the checks.
    browser.execute_async_script(
        """const done = arguments[0];
        const eager = Array.from(document.images).filter((img) => img.id !== 'lazy');
        Promise.all(eager.map((img) => img.decode().catch(() => null))).then(() => done());"""
    )
    return browser


def classify(driver, element_id: str) -> str:
    return driver.execute_script("return FakeWebSelection.classify(document.getElementById(arguments[0]))", element_id)


def image_url(driver, element_id: str) -> str | None:
    return driver.execute_script("return FakeWebSelection.imageUrl(document.getElementById(arguments[0]))", element_id)


def test_only_shown_face_sized_loaded_images_are_checked(page, site):
    assert classify(page, "big") == "check"
    assert classify(page, "tiny") == "small"  # 40 px cannot hold a judgeable face
    assert classify(page, "shrunk") == "small"  # shown at 30 px although the file is 300 px
    assert classify(page, "upscaled") == "small"  # shown at 200 px but only 40 px of pixels
    for hidden in ("none", "invisible", "transparent"):
        assert classify(page, hidden) == "hidden", hidden
    assert classify(page, "broken") == "broken"
    assert classify(page, "empty") == "nourl"


def test_the_largest_srcset_candidate_is_the_url_checked(page, site):
    assert image_url(page, "srcset") == site.url("/px/400.png")  # by width, whatever the order
    assert image_url(page, "density") == site.url("/px/300.png")  # by density; a bare URL is 1x
    assert image_url(page, "big") == site.url("/px/300.png")
    candidates = page.execute_script(
        "return FakeWebSelection.parseSrcset('a.jpg,, b.jpg 2x, c,d.jpg 640w, , e.jpg 1.5x', 'https://x.test/p/')"
    )
    # HTML's rules: a URL runs to whitespace (commas inside it stay), trailing commas end it.
    assert candidates == [
        {"url": "https://x.test/p/a.jpg", "width": None, "density": 1},
        {"url": "https://x.test/p/b.jpg", "width": None, "density": 2},
        {"url": "https://x.test/p/c,d.jpg", "width": 640, "density": None},
        {"url": "https://x.test/p/e.jpg", "width": None, "density": 1.5},
    ]


def test_picture_takes_the_first_source_the_gateway_and_the_screen_accept(page, site):
    # The AVIF source is skipped (the gateway takes JPEG, PNG and WebP), the media query does not
    # match, so the third source's largest candidate is the one sent.
    assert image_url(page, "in-picture") == site.url("/px/360.png")
    assert classify(page, "in-picture") == "check"


def test_a_lazy_image_waits_until_it_has_loaded(page, site):
    assert classify(page, "lazy") == "wait"
    assert not any(request.path == "/px/250.png" for request in site.received)
    page.execute_script("document.getElementById('lazy').scrollIntoView()")
    page.execute_async_script("document.getElementById('lazy').decode().then(arguments[0], arguments[0])")
    assert classify(page, "lazy") == "check"


def test_images_in_an_added_subtree_are_found(page):
    ids = page.execute_script(
        """const box = document.createElement('div');
        box.innerHTML = '<p><img id="a"></p><section><img id="b"><span></span></section>';
        const lone = document.createElement('img'); lone.id = 'c';
        return [...FakeWebSelection.imagesIn(box), ...FakeWebSelection.imagesIn(lone),
                ...FakeWebSelection.imagesIn(document.createTextNode('x'))].map((img) => img.id);"""
    )
    assert ids == ["a", "b", "c"]
