"""The page at ``/`` in a real headless Chromium against the real local stack."""

from __future__ import annotations

import base64
import io
import json
import time

import httpx
import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.credentials import TestAuthority, created, manifest
from tests.support.photos import GROUP_MEMBERS, group_photo
from tests.web.conftest import stack_api_key

pytestmark = pytest.mark.e2e

# A checksum of the overlay canvas's pixels: equal pictures give equal numbers.
CANVAS_CHECKSUM = """
const canvas = document.querySelector('.job .overlay');
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let sum = 0;
for (let i = 0; i < data.length; i += 1) sum = (sum + data[i] * ((i % 251) + 1)) % 4294967291;
return sum;
"""
# Spread of a thumbnail's pixel values: a blank canvas has none.
THUMB_SPREAD = """
const data = arguments[0].getContext('2d').getImageData(0, 0, arguments[0].width, arguments[0].height).data;
let min = 255, max = 0;
for (let i = 0; i < data.length; i += 4) { min = Math.min(min, data[i + 1]); max = Math.max(max, data[i + 1]); }
return max - min;
"""
# Record every status the job card passes through.
WATCH_STATUSES = """
window.__statuses = [];
new MutationObserver((records) => {
  for (const record of records) {
    const status = record.target.dataset && record.target.dataset.status;
    if (record.attributeName === 'data-status' && status !== window.__statuses.at(-1)) window.__statuses.push(status);
  }
}).observe(document.getElementById('jobs'), {subtree: true, attributes: true, attributeFilter: ['data-status']});
new MutationObserver((records) => {
  for (const record of records) for (const node of record.addedNodes)
    if (node.dataset && node.dataset.status) window.__statuses.push(node.dataset.status);
}).observe(document.getElementById('jobs'), {childList: true});
"""


def wait_for(driver, condition, timeout=120, message=""):
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d), message)


def first_card(driver):
    return driver.find_element(By.CSS_SELECTOR, ".job")


def card_ended(driver):
    card = first_card(driver)
    if card.get_attribute("data-status") in ("failed", "rejected"):
        return card
    return card if card.get_attribute("data-ready") == "true" else None


def overlay_state(driver) -> dict:
    canvas = driver.find_element(By.CSS_SELECTOR, ".job .overlay")
    return {
        "threshold": canvas.get_attribute("data-threshold"),
        "manipulated": int(canvas.get_attribute("data-manipulated")),
        "meshes": int(canvas.get_attribute("data-meshes")),
        "checksum": driver.execute_script(CANVAS_CHECKSUM),
    }


def set_slider(driver, value: float) -> None:
    """Move the slider as a drag does: set the value and fire ``input``."""
    slider = driver.find_element(By.CSS_SELECTOR, ".job .threshold")
    driver.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        slider,
        str(value),
    )


def full_page_png(driver) -> bytes:
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    width = max(metrics["cssContentSize"]["width"], metrics["cssLayoutViewport"]["clientWidth"])
    height = metrics["cssContentSize"]["height"]
    clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
    options = {"format": "png", "captureBeyondViewport": True, "clip": clip}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", options)
    return base64.b64decode(shot["data"])


def wait_for_file(path, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and path.stat().st_size > 0:
            return path.read_bytes()
        time.sleep(0.2)
    raise AssertionError(f"{path} was not downloaded")


@pytest.fixture(scope="module")
def page_url(local_stack) -> str:
    url = f"{local_stack.gateway_url}/"
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), (
        f"the gateway does not serve the page at / ({answer.status_code}): create_app must call "
        "services.gateway.web.mount_web(app)"
    )
    return url


def test_page_scores_a_group_photo_and_restyles_the_overlay_in_the_browser(
    browser, page_url, local_stack, shared_data, tmp_path, artifacts
):
    key = stack_api_key(local_stack.settings)
    photo = tmp_path / "group.jpg"
    photo.write_bytes(group_photo(shared_data))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.set_window_size(1280, 900)
    browser.get(page_url)
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    assert "FakeWeb" in browser.title

    # The API key is asked for once, kept in local storage and sent as X-API-Key.
    assert browser.find_element(By.ID, "key-panel").get_attribute("open") is not None
    key_input = browser.find_element(By.ID, "api-key")
    key_input.send_keys(key, Keys.ENTER)
    assert browser.execute_script("return localStorage.getItem('fakeweb.apiKey')") == key
    browser.get(page_url)
    assert "saved" in browser.find_element(By.ID, "key-summary").text
    browser.execute_script(WATCH_STATUSES)

    browser.find_element(By.ID, "file-input").send_keys(str(photo))
    card = wait_for(browser, card_ended, message="the job card never showed a result")
    assert card.get_attribute("data-status") == "completed", card.find_element(By.CSS_SELECTOR, ".job-error").text
    statuses = browser.execute_script("return window.__statuses")
    assert statuses[0] == "submitting" and statuses[-1] == "completed", statuses
    assert card.get_attribute("data-image-source") == "upload"

    job_id = card.get_attribute("data-job-id")
    document = httpx.get(f"{local_stack.gateway_url}/v1/jobs/{job_id}", headers={"X-API-Key": key}, timeout=30).json()
    probabilities = sorted(face["manipulated_probability"] for face in document["faces"])
    with_mesh = [face for face in document["faces"] if face["mesh"]]
    assert with_mesh, "the tiny model should call at least one face manipulated at the default threshold"
    assert all(face["landmarks"] for face in with_mesh), "the page must submit with include_landmarks=true"

    # The face list: one row per face, each with a thumbnail, a probability bar, a verdict and the model.
    rows = card.find_elements(By.CSS_SELECTOR, ".face")
    assert len(rows) == len(GROUP_MEMBERS)
    for row in rows:
        assert row.find_element(By.CSS_SELECTOR, ".verdict").text.lower() in ("manipulated", "genuine")
        assert "%" in row.find_element(By.CSS_SELECTOR, ".bar").get_attribute("aria-label")
        assert "model fakeweb v1" in row.find_element(By.CSS_SELECTOR, ".face-meta").text
        assert browser.execute_script(THUMB_SPREAD, row.find_element(By.CSS_SELECTOR, ".thumb")) > 30

    initial = overlay_state(browser)
    assert initial["threshold"] == f"{document['threshold']:.2f}"
    assert initial["manipulated"] == sum(p >= document["threshold"] for p in probabilities)
    assert initial["meshes"] == len(with_mesh)

    # Keyboard: End puts the threshold at 1, so no face is manipulated and the overlay is redrawn.
    slider = card.find_element(By.CSS_SELECTOR, ".threshold")
    slider.send_keys(Keys.END)
    strict = overlay_state(browser)
    assert (strict["threshold"], strict["manipulated"], strict["meshes"]) == ("1.00", 0, 0)
    assert strict["checksum"] != initial["checksum"]
    assert {row.find_element(By.CSS_SELECTOR, ".verdict").text.lower() for row in rows} == {"genuine"}

    # Dragging to between two probabilities splits the verdicts there.
    middle = round((probabilities[0] + probabilities[-1]) / 2, 2)
    set_slider(browser, middle)
    split = overlay_state(browser)
    assert split["manipulated"] == sum(p >= middle for p in probabilities)
    assert split["checksum"] != strict["checksum"]

    slider.send_keys(Keys.HOME)
    lenient = overlay_state(browser)
    assert lenient["manipulated"] == len(GROUP_MEMBERS)
    assert lenient["meshes"] == len(with_mesh)

    # The mesh toggle (keyboard: Space) removes the meshes without a new job.
    toggle = card.find_element(By.CSS_SELECTOR, ".mesh-toggle")
    toggle.send_keys(Keys.SPACE)
    plain = overlay_state(browser)
    assert plain["meshes"] == 0 and plain["manipulated"] == len(GROUP_MEMBERS)
    assert plain["checksum"] != lenient["checksum"]
    toggle.send_keys(Keys.SPACE)
    assert overlay_state(browser)["checksum"] == lenient["checksum"]

    # Downloads: the job document as JSON and the server's annotated JPEG.
    card.find_element(By.CSS_SELECTOR, ".dl-json").click()
    saved = json.loads(wait_for_file(downloads / "group.fakeweb.json"))
    assert saved["id"] == job_id and len(saved["faces"]) == len(GROUP_MEMBERS)
    card.find_element(By.CSS_SELECTOR, ".dl-image").click()
    with Image.open(io.BytesIO(wait_for_file(downloads / "group.fakeweb.jpg"))) as annotated:
        assert annotated.format == "JPEG" and annotated.size == Image.open(photo).size

    set_slider(browser, document["threshold"])
    (artifacts / "web-desktop.png").write_bytes(full_page_png(browser))

    # Phone width: one column, nothing wider than the screen.
    browser.set_window_size(390, 844)
    wait_for(browser, lambda d: d.execute_script("return window.innerWidth") <= 400, timeout=10)
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
    (artifacts / "web-phone.png").write_bytes(full_page_png(browser))

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, severe


def test_api_errors_are_shown_in_words(browser, page_url, local_stack, tmp_path):
    bogus = tmp_path / "notes.jpg"
    bogus.write_bytes(b"these are not pixels")
    key = stack_api_key(local_stack.settings)
    rejected = httpx.post(
        f"{local_stack.gateway_url}/v1/jobs",
        headers={"X-API-Key": key},
        files={"image": ("notes.jpg", bogus.read_bytes(), "image/jpeg")},
        timeout=30,
    )
    assert rejected.status_code in (400, 415), rejected.text
    browser.set_window_size(1280, 900)
    browser.get(page_url)
    browser.execute_script("localStorage.setItem('fakeweb.apiKey', arguments[0])", key)
    browser.get(page_url)

    browser.find_element(By.ID, "file-input").send_keys(str(bogus))
    card = wait_for(browser, card_ended, timeout=30)
    assert card.get_attribute("data-status") == "rejected"
    assert card.find_element(By.CSS_SELECTOR, ".job-error").text == rejected.json()["error"]["message"]

    # A web address the gateway will not fetch (loopback), submitted as JSON {"url"}.
    url = "http://127.0.0.1:9/private.jpg"
    refused = httpx.post(f"{local_stack.gateway_url}/v1/jobs", json={"url": url}, headers={"X-API-Key": key})
    assert refused.status_code >= 400
    browser.find_element(By.ID, "url-input").send_keys(url, Keys.ENTER)
    wait_for(browser, lambda d: first_card(d).get_attribute("data-status") == "rejected", timeout=30)
    card = first_card(browser)
    assert card.find_element(By.CSS_SELECTOR, ".job-title").text == url
    assert card.find_element(By.CSS_SELECTOR, ".job-error").text == refused.json()["error"]["message"]

    # A wrong key: the gateway's words, a hint, and the key panel opened to fix it.
    browser.execute_script("localStorage.setItem('fakeweb.apiKey', 'not-a-key')")
    browser.get(page_url)
    assert browser.find_element(By.ID, "key-panel").get_attribute("open") is None
    photo = tmp_path / "tiny.png"
    Image.new("RGB", (64, 64), (120, 90, 60)).save(photo)
    browser.find_element(By.ID, "file-input").send_keys(str(photo))
    card = wait_for(browser, card_ended, timeout=30)
    refusal = httpx.get(f"{local_stack.gateway_url}/v1/jobs", headers={"X-API-Key": "not-a-key"}, timeout=30)
    assert refusal.status_code == 401
    error = card.find_element(By.CSS_SELECTOR, ".job-error").text
    assert error.startswith(refusal.json()["error"]["message"]) and "API key" in error
    assert browser.find_element(By.ID, "key-panel").get_attribute("open") is not None


def test_recent_jobs_reopen_a_result_drawn_over_the_stored_original(browser, page_url, local_stack, shared_data):
    key = stack_api_key(local_stack.settings)
    submitted = httpx.post(
        f"{local_stack.gateway_url}/v1/jobs",
        headers={"X-API-Key": key},
        files={"image": ("group.jpg", group_photo(shared_data, height=400), "image/jpeg")},
        data={"include_landmarks": "true", "threshold": "0.6"},
        timeout=30,
    )
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    browser.set_window_size(1280, 900)
    browser.get(page_url)
    browser.execute_script("localStorage.setItem('fakeweb.apiKey', arguments[0])", key)
    browser.get(page_url)

    browser.find_element(By.CSS_SELECTOR, "#recent-panel summary").send_keys(Keys.ENTER)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#recent-list button"), timeout=30)
    browser.find_element(By.CSS_SELECTOR, "#recent-list li button").send_keys(Keys.ENTER)

    card = wait_for(browser, card_ended, message="the reopened job never showed a result")
    assert card.get_attribute("data-job-id") == job_id
    assert card.get_attribute("data-status") == "completed"
    assert card.get_attribute("data-image-source") == "original"
    assert overlay_state(browser)["threshold"] == "0.60"
    rows = card.find_elements(By.CSS_SELECTOR, ".face")
    assert len(rows) == len(GROUP_MEMBERS)
    canvas = card.find_element(By.CSS_SELECTOR, ".overlay")
    assert (int(canvas.get_property("width")), int(canvas.get_property("height"))) == Image.open(
        io.BytesIO(group_photo(shared_data, height=400))
    ).size
    for row in rows:
        assert browser.execute_script(THUMB_SPREAD, row.find_element(By.CSS_SELECTOR, ".thumb")) > 30


# The clip element's state once it has loaded what it can: a browser without H.264 reports an error.
CLIP_STATE = """
const clip = document.querySelector('.job .clip');
return {hidden: clip.hidden, src: clip.src, ready: clip.readyState, width: clip.videoWidth,
        duration: clip.duration, error: clip.error && clip.error.code};
"""


def test_page_takes_a_video_plays_the_annotated_clip_and_lists_each_person(
    browser, page_url, local_stack, shared_data, tmp_path
):
    from tests.support.videos import two_person_clip

    clip = tmp_path / "two-people.mp4"
    clip.write_bytes(two_person_clip(shared_data, seconds=3.0))
    browser.get(page_url)
    browser.execute_script(f"localStorage.setItem('fakeweb.apiKey', {stack_api_key(local_stack.settings)!r})")
    browser.get(page_url)

    browser.find_element(By.ID, "file-input").send_keys(str(clip))
    card = wait_for(browser, card_ended, message="the video job card never showed a result")
    assert card.get_attribute("data-status") == "completed", card.find_element(By.CSS_SELECTOR, ".job-error").text

    rows = card.find_elements(By.CSS_SELECTOR, ".face")
    assert [row.find_element(By.CSS_SELECTOR, ".face-name").text for row in rows] == ["Person 1", "Person 2"]
    for row in rows:
        assert row.find_element(By.CSS_SELECTOR, ".verdict").text.lower() in ("manipulated", "genuine")
        assert "seen in 6 frames" in row.find_element(By.CSS_SELECTOR, ".face-meta").text
        assert browser.execute_script(THUMB_SPREAD, row.find_element(By.CSS_SELECTOR, ".thumb")) > 30  # the timeline
    assert "2 people in 6 frames" in card.find_element(By.CSS_SELECTOR, ".summary").text

    def clip_loaded(driver):
        state = driver.execute_script(CLIP_STATE)
        return state if state["ready"] >= 1 or state["error"] else None

    state = wait_for(browser, clip_loaded, 30)
    assert state["error"] is None, f"the browser cannot play the annotated clip: {state}"
    assert (state["hidden"], state["width"], round(state["duration"])) == (False, 906, 3)
    assert state["src"].startswith("blob:")


def test_content_credentials_show_in_a_panel_with_a_badge_and_the_disagreement(
    browser, page_url, local_stack, shared_data, tmp_path
):
    authority = TestAuthority(name="Web Test Root")
    authority.trust_in(local_stack.settings.provenance_trust_anchors)
    generator = authority.signer("Web Test Generator")
    photo = tmp_path / "generated.jpg"
    photo.write_bytes(
        generator.sign(
            group_photo(shared_data, tag="web-credentials"),
            manifest("Image Generator", created("trainedAlgorithmicMedia")),
        )
    )
    browser.set_window_size(1280, 900)
    browser.get(page_url)
    browser.execute_script("localStorage.setItem('fakeweb.apiKey', arguments[0])", stack_api_key(local_stack.settings))
    browser.get(page_url)

    browser.find_element(By.ID, "file-input").send_keys(str(photo))
    card = wait_for(browser, card_ended, message="the job card never showed a result")
    panel = card.find_element(By.CSS_SELECTOR, ".credentials")
    assert panel.get_attribute("data-provenance") == "valid"
    assert panel.find_element(By.CSS_SELECTOR, ".cred-status").text.startswith("valid: Signed, unchanged")
    details = panel.find_element(By.CSS_SELECTOR, ".cred-details").text
    assert "Image Generator 1.0" in details and "Web Test Generator" in details and "trainedAlgorithmicMedia" in details
    badge = card.find_element(By.CSS_SELECTOR, ".cred-badge")
    assert badge.is_displayed() and badge.text == "Declares AI generation"
    job_id = card.get_attribute("data-job-id")
    document = httpx.get(
        f"{local_stack.gateway_url}/v1/jobs/{job_id}", headers={"X-API-Key": stack_api_key(local_stack.settings)}
    ).json()
    assert panel.find_element(By.CSS_SELECTOR, ".cred-note").text == document["summary"]
    disagrees = "Disagreement:" in document["summary"]
    assert ("disagree" in panel.find_element(By.CSS_SELECTOR, ".cred-note").get_attribute("class")) == disagrees
