"""``fakeweb scan`` and ``fakeweb jobs`` against the real local stack (gateway, workers, serving)."""

from __future__ import annotations

import io
import json
import re
import shutil

import httpx
import pytest
from PIL import Image

from tests.support.credentials import TestAuthority, created, manifest
from tests.support.photos import GROUP_MEMBERS, group_photo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_data):
    """A three-face group photo and a one-face press portrait in a fresh folder."""
    folder = tmp_path_factory.mktemp("photos")
    group = folder / "group.jpg"
    group.write_bytes(group_photo(shared_data))
    single = folder / "portrait.jpg"
    shutil.copyfile(shared_data / "wild_press_photos" / "real" / "img12.jpg", single)
    return {"group": group, "single": single}


def decoded_size(path):
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        image.load()
        return image.size


def test_scan_two_photos_writes_annotated_images_and_prints_every_face(cli, photos, tmp_path):
    out = tmp_path / "out"

    result = cli("scan", photos["group"], photos["single"], "-o", out)

    assert result.returncode == 0, result.stderr
    for name in ("group", "single"):
        written = out / f"{photos[name].stem}.fakeweb.jpg"
        assert written.is_file(), result.stdout
        assert decoded_size(written) == decoded_size(photos[name])
    assert "group.jpg" in result.stdout and "portrait.jpg" in result.stdout
    # One table row per face, each naming the model that scored it.
    assert result.stdout.count("fakeweb v1") == len(GROUP_MEMBERS) + 1
    assert re.search(r"\b(manipulated|genuine)\b", result.stdout)
    # One line per photo on its Content Credentials (neither file has any).
    assert "group.jpg: credentials none" in result.stdout and "portrait.jpg: credentials none" in result.stdout


def test_scan_json_is_parseable_honours_threshold_and_writes_next_to_the_photo(cli, photos, tmp_path):
    photo = tmp_path / "copy.jpg"
    shutil.copyfile(photos["group"], photo)

    result = cli("scan", photo, "--json", "--threshold", "0")

    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    assert entry["source"] == str(photo)
    assert entry["status"] == "completed" and entry["error"] is None
    assert entry["output"] == str(tmp_path / "copy.fakeweb.jpg")
    assert decoded_size(tmp_path / "copy.fakeweb.jpg") == decoded_size(photo)
    job = entry["job"]
    assert job["id"] == entry["job_id"] and job["threshold"] == 0.0
    assert len(job["faces"]) == len(GROUP_MEMBERS)
    # At threshold 0 every scored face counts as manipulated.
    assert {face["verdict"] for face in job["faces"]} == {"manipulated"}


def test_scan_exits_nonzero_and_says_why_when_the_gateway_rejects_a_photo(cli, photos, tmp_path):
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("these are not pixels")
    good = tmp_path / "good.jpg"
    shutil.copyfile(photos["single"], good)

    result = cli("scan", bogus, good)

    assert result.returncode == 1
    assert "notes.jpg" in result.stderr and "JPEG, PNG" in result.stderr
    assert "rejected" in result.stdout
    # The other photo was still scanned.
    assert (tmp_path / "good.fakeweb.jpg").is_file()


def test_scan_exits_nonzero_for_a_missing_file(cli, tmp_path):
    result = cli("scan", tmp_path / "nowhere.jpg")

    assert result.returncode == 1
    assert "is not a file" in result.stderr


def test_flags_override_the_environment_and_a_wrong_key_is_refused_in_words(cli, photos, local_stack):
    result = cli("scan", photos["single"], "--api-key", "not-a-key", "--server", local_stack.gateway_url)

    refusal = httpx.get(f"{local_stack.gateway_url}/v1/jobs", headers={"X-API-Key": "not-a-key"}, timeout=30)
    assert refusal.status_code == 401
    assert result.returncode == 1
    assert refusal.json()["error"]["message"] in result.stderr


def test_no_wait_prints_the_job_and_returns_before_it_ends(cli, photos, local_stack):
    result = cli("scan", photos["single"], "--no-wait", "--json", "--threshold", "0.42")

    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    assert re.fullmatch(r"[0-9a-f]{32}", entry["job_id"])
    assert entry["output"] is None
    headers = {"X-API-Key": cli.env["FAKEWEB_API_KEY"]}
    answer = httpx.get(f"{local_stack.gateway_url}/v1/jobs/{entry['job_id']}", headers=headers, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["threshold"] == 0.42


def test_jobs_lists_recent_jobs_newest_first(cli, photos):
    scanned = json.loads(cli("scan", photos["single"], "--json", "--threshold", "0.31").stdout)[0]

    listed = cli("jobs", "--json", "-n", "5")
    table = cli("jobs")

    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout)
    assert 1 <= len(jobs) <= 5
    assert jobs[0]["id"] == scanned["job_id"]
    created = [job["created_at"] for job in jobs]
    assert created == sorted(created, reverse=True)
    assert table.returncode == 0, table.stderr
    assert scanned["job_id"] in table.stdout


def test_a_url_the_gateway_refuses_gives_its_reason_and_a_nonzero_exit(cli, local_stack):
    url = "http://127.0.0.1:9/private.jpg"  # loopback: refused by the gateway's URL checks
    refusal = httpx.post(
        f"{local_stack.gateway_url}/v1/jobs", json={"url": url}, headers={"X-API-Key": cli.env["FAKEWEB_API_KEY"]}
    )
    assert refusal.status_code >= 400

    result = cli("scan", "--url", url, "--json")

    assert result.returncode == 1
    [entry] = json.loads(result.stdout)
    assert entry["status"] == "rejected" and entry["job_id"] is None
    assert entry["error"]["message"] == refusal.json()["error"]["message"]
    assert entry["error"]["http_status"] == refusal.status_code


def test_scan_a_video_saves_the_poster_and_the_clip_and_lists_each_person(cli, shared_data, tmp_path):
    from tests.support.videos import two_person_clip

    clip = tmp_path / "two.mp4"
    clip.write_bytes(two_person_clip(shared_data, seconds=2.0))

    result = cli("scan", clip, "--json")

    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    assert entry["job"]["media"] == "video" and len(entry["job"]["tracks"]) == 2
    assert entry["output"] == str(tmp_path / "two.fakeweb.jpg")
    assert entry["video_output"] == str(tmp_path / "two.fakeweb.mp4")
    assert (tmp_path / "two.fakeweb.mp4").read_bytes()[4:8] == b"ftyp"

    table = cli("scan", clip)  # answered from the result cache: same rows
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("person, 4 frames") == 2


def test_scan_prints_a_line_on_the_content_credentials_and_their_disagreement(cli, local_stack, shared_data, tmp_path):
    authority = TestAuthority(name="CLI Test Root")
    authority.trust_in(local_stack.settings.provenance_trust_anchors)
    camera = authority.signer("CLI Test Camera")
    photo = tmp_path / "signed.jpg"
    photo.write_bytes(
        camera.sign(group_photo(shared_data, tag="cli-credentials"), manifest("Cam", created("digitalCapture")))
    )

    result = cli("scan", photo, "--threshold", "0")

    assert result.returncode == 0, result.stderr
    line = next(text for text in result.stdout.splitlines() if text.startswith("signed.jpg: credentials"))
    assert "credentials valid, written by Cam 1.0, signed by CLI Test Camera, source type digitalCapture (c2pa)" in line
    assert "Disagreement:" in line and "scored manipulated" in line
