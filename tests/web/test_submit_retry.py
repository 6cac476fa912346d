"""The page waits ``Retry-After`` and submits again when the gateway answers 429/503 (nothing was stored).

A real headless Chromium on a real gateway (over the session's Redis and SeaweedFS) whose tenant
cap is one job: a first job holds the place, the page's upload is refused with 429 and retried,
and once the first job has ended the retry is accepted.
"""

from __future__ import annotations

import time

import httpx
import pytest
import redis
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from services.contract.jobs import JobStatus, JobStore
from services.gateway.app import create_app
from tests.support.images import jpeg_bytes
from tests.support.servers import live_app

pytestmark = pytest.mark.e2e

KEY = "fakeweb-dev-key"
DB = 10


@pytest.fixture(scope="module")
def capped_gateway(backends):
    """A live gateway on its own Redis database that lets a tenant have one job at a time."""
    url = backends.settings.redis_url.rsplit("/", 1)[0] + f"/{DB}"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    settings = backends.settings.model_copy(
        update={"redis_url": url, "max_active_jobs_per_tenant": 1, "overload_retry_after_s": 1, "rate_limit_per_s": 0.0}
    )
    with live_app(create_app(settings)) as base:
        yield base, JobStore(client)
    client.flushdb()


def test_a_capped_upload_waits_and_is_sent_again_until_accepted(browser, capped_gateway, tmp_path):
    base, jobs = capped_gateway
    held = httpx.post(f"{base}/v1/jobs", headers={"X-API-Key": KEY}, files={"image": ("a.jpg", jpeg_bytes(seed=7))})
    assert held.status_code == 202, held.text
    refused = httpx.post(f"{base}/v1/jobs", headers={"X-API-Key": KEY}, files={"image": ("b.jpg", jpeg_bytes(seed=8))})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"

    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 64), (120, 90, 60)).save(photo)
    browser.get(f"{base}/")
    browser.execute_script("localStorage.setItem('fakeweb.apiKey', arguments[0])", KEY)
    browser.get(f"{base}/")
    browser.find_element(By.ID, "file-input").send_keys(str(photo))

    wait = WebDriverWait(browser, 30, poll_frequency=0.2)
    error = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".job .job-error").text or None)
    assert error.startswith(refused.json()["error"]["message"]) and "Trying again in 1 s" in error
    time.sleep(2.5)  # it keeps trying, and is not given up as rejected
    card = browser.find_element(By.CSS_SELECTOR, ".job")
    assert card.get_attribute("data-status") != "rejected" and not card.get_attribute("data-job-id")

    jobs.complete(held.json()["id"], JobStatus.NO_FACE)  # the first job ends: the place is free

    job_id = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".job").get_attribute("data-job-id") or None)
    assert jobs.find(job_id) is not None and jobs.find(job_id).tenant == "dev"
    assert browser.find_element(By.CSS_SELECTOR, ".job .job-error").text == ""
