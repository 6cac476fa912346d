"""`make extension`: the folder and the store zip hold every file the manifest and pages name, and no more power."""

from __future__ import annotations

import json
import re
import zipfile

from deploy.local.build_extension import SOURCE, build_unpacked, build_zip, extension_id, manifest

# The README's "Browser extension" section explains each of these; a new one needs a reason there too.
PERMISSIONS = ["activeTab", "scripting", "storage"]
OPTIONAL_HOSTS = ["https://*/*", "http://*/*"]


def test_the_manifest_asks_for_the_minimal_permissions():
    declared = manifest()
    assert declared["manifest_version"] == 3
    assert declared["permissions"] == PERMISSIONS
    assert declared.get("host_permissions", []) == []  # the gateway is reached through its CORS policy
    assert declared["optional_host_permissions"] == OPTIONAL_HOSTS  # asked only for sites the user lists
    assert "content_scripts" not in declared  # injected on the toggle (activeTab), not into every page


def test_no_remote_code():
    for path in SOURCE.rglob("*"):
        if path.suffix in (".js", ".html"):
            text = path.read_text()
            assert not re.search(r"<script[^>]+src=[\"']https?:", text), path
            assert not re.search(r"\beval\(|new Function\(|importScripts\(", text), path


def test_zip_for_the_store_and_folder_for_unpacked(tmp_path):
    unpacked = build_unpacked(tmp_path / "unpacked")
    archive = build_zip(tmp_path)
    with zipfile.ZipFile(archive) as store:
        names = set(store.namelist())
        store_manifest = json.loads(store.read("manifest.json"))
        assert store.testzip() is None
    assert "key" not in store_manifest  # the store signs with its own key
    assert json.loads((unpacked / "manifest.json").read_text())["key"] == manifest()["key"]
    assert len(extension_id(manifest()["key"])) == 32
    assert archive.name == f"fakeweb-extension-{store_manifest['version']}.zip"
    assert names == {path.relative_to(unpacked).as_posix() for path in unpacked.rglob("*") if path.is_file()}

    referenced = {store_manifest["background"]["service_worker"], store_manifest["action"]["default_popup"]}
    referenced |= {store_manifest["options_page"], *store_manifest["icons"].values()}
    referenced |= set(store_manifest["action"]["default_icon"].values())
    for page in ("popup.html", "options.html"):
        referenced |= set(re.findall(r'(?:src|href)="([^":]+)"', (unpacked / page).read_text()))
    scripts = re.search(r"const SCRIPTS = \[([^\]]+)\]", (unpacked / "service_worker.js").read_text())
    referenced |= set(re.findall(r'"([^"]+)"', scripts.group(1)))
    assert referenced <= names, referenced - names
    assert "palette.js" in referenced  # the page's palette, copied in by the build


def test_the_same_sources_give_the_same_zip(tmp_path):
    first = build_zip(tmp_path / "a").read_bytes()
    assert build_zip(tmp_path / "b").read_bytes() == first
