"""Read a file's provenance: its C2PA manifest store with the Content Authenticity Initiative's own library
(``c2pa-python``), and the IPTC digital source type of its XMP packet.

The XMP packet is found by Pillow (JPEG APP1, PNG iTXt, WebP XMP chunk) and parsed with defusedxml,
which refuses entity expansion and external entities; Pillow's own ``getxmp`` drops namespaces, and
the source type must be the IPTC Extension's, not any element of that name. Nothing is fetched: remote
manifests and OCSP are off. Every read runs in a forked child (``bounded.call_bounded``) with a
deadline and a memory ceiling; whatever goes wrong in there reads ``invalid`` with the reason.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.contract.provenance import (
    Provenance,
    ProvenanceAction,
    ProvenanceIngredient,
    ProvenanceStatus,
    source_type_name,
)
from services.contract.settings import Settings
from services.provenance.bounded import ChildFailed, call_bounded

log = logging.getLogger(__name__)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
XMP_INFO_KEYS = ("xmp", "XML:com.adobe.xmp")  # JPEG and WebP; PNG's iTXt keyword
MAX_XMP_BYTES = 1 << 20
# Caps on what one document carries, whatever the manifest holds.
MAX_ACTIONS = 50
MAX_INGREDIENTS = 20
MAX_TEXT = 200
ACTION_LABELS = ("c2pa.actions", "c2pa.actions.v2")


class TrustListInvalid(Exception):
    """FAKEWEB_PROVENANCE_TRUST_ANCHORS is not a PEM bundle the C2PA library accepts."""


@dataclass(frozen=True)
class ReadOptions:
    """What one read may use, taken from the settings."""

    trust_anchors_pem: str
    max_manifest_mb: int
    timeout_s: float
    memory_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadOptions:
        """The options, with the trust anchors file read now (a missing or empty file: no anchors)."""
        return cls(
            trust_anchors_pem=_read_anchors(settings.provenance_trust_anchors),
            max_manifest_mb=settings.provenance_max_manifest_mb,
            timeout_s=settings.provenance_timeout_s,
            memory_bytes=settings.provenance_memory_mb << 20,
        )


def _read_anchors(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def read_provenance(data: bytes, media_type: str, options: ReadOptions) -> Provenance:
    """The file's provenance, read in a bounded child; a read that fails or overruns is ``invalid``.

    Raises TrustListInvalid when the configured trust anchors cannot be used (every read would fail).
    """
    try:
        answer = call_bounded(
            read_unbounded, data, media_type, options, timeout_s=options.timeout_s, memory_bytes=options.memory_bytes
        )
    except ChildFailed as exc:
        log.warning("provenance read stopped: %s", exc)
        return Provenance(status=ProvenanceStatus.INVALID, reason=f"reader_{exc.reason}: {exc.detail}")
    if isinstance(answer, TrustListInvalid):
        raise answer
    return answer


def read_unbounded(data: bytes, media_type: str, options: ReadOptions) -> Provenance | TrustListInvalid:
    """Read C2PA and XMP in this process (call it through :func:`read_provenance`)."""
    try:
        found = read_c2pa(data, media_type, options)
    except TrustListInvalid as exc:
        return exc
    source_type = xmp_source_type(data)
    if found.digital_source_type is None and source_type is not None:
        found.digital_source_type, found.digital_source_type_from = source_type, "xmp"
    return found


def reader_settings(options: ReadOptions) -> dict[str, Any]:
    """c2pa settings: offline (no remote manifests, no OCSP), bounded manifest size, our trust anchors only."""
    settings: dict[str, Any] = {
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_trust": True},
        "core": {"max_decompressed_manifest_size_in_mb": options.max_manifest_mb},
    }
    if options.trust_anchors_pem:
        settings["trust"] = {"trust_anchors": options.trust_anchors_pem}
    return settings


def read_c2pa(data: bytes, media_type: str, options: ReadOptions) -> Provenance:
    """The active manifest's claim, signer, actions and ingredients, and the validation outcome."""
    import c2pa

    try:
        context = c2pa.Context.from_dict(reader_settings(options))
    except c2pa.C2paError as exc:
        raise TrustListInvalid(f"the C2PA library refused the trust anchors: {exc}") from None
    if media_type not in c2pa.Reader.get_supported_mime_types():
        return Provenance(status=ProvenanceStatus.NONE, reason=f"{media_type or 'this format'} is not read for C2PA")
    try:
        with context, c2pa.Reader(media_type, io.BytesIO(data), context=context) as reader:
            store = json.loads(reader.json())
            state = reader.get_validation_state() or "Invalid"
    except c2pa.C2paError as exc:
        if type(exc).__name__ == "_C2paManifestNotFound":
            return Provenance(status=ProvenanceStatus.NONE)
        return Provenance(status=ProvenanceStatus.INVALID, reason=_text(f"unreadable: {exc}"))
    return from_manifest_store(store, state)


def from_manifest_store(store: dict[str, Any], state: str) -> Provenance:
    """A Provenance from the reader's JSON and its validation state (``Trusted``, ``Valid``, ``Invalid``)."""
    manifests = store.get("manifests") or {}
    active = manifests.get(store.get("active_manifest") or "") or {}
    failures = _failure_codes(store.get("validation_results") or {})
    if state == "Trusted":
        status, reason = ProvenanceStatus.VALID, None
    elif state == "Valid":
        status = ProvenanceStatus.UNTRUSTED
        reason = ", ".join(failures) or "signingCredential.untrusted"
    else:
        status, reason = ProvenanceStatus.INVALID, ", ".join(failures) or "the manifest does not validate"
    signature = active.get("signature_info") or {}
    actions = _actions(active)
    source_type = next((a.digital_source_type for a in actions if a.digital_source_type), None)
    return Provenance(
        status=status,
        reason=_text(reason),
        claim_generator=_claim_generator(active),
        signer=_text(signature.get("common_name")),
        issuer=_text(signature.get("issuer")),
        signed_at=_text(signature.get("time")),
        title=_text(active.get("title")),
        actions=actions,
        ingredients=[_ingredient(each, manifests) for each in (active.get("ingredients") or [])[:MAX_INGREDIENTS]],
        digital_source_type=source_type,
        digital_source_type_from="c2pa" if source_type else None,
    )


def _failure_codes(results: dict[str, Any]) -> list[str]:
    codes = [entry.get("code", "") for entry in (results.get("activeManifest") or {}).get("failure") or []]
    return list(dict.fromkeys(code for code in codes if code))[:10]


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info") or []
    if isinstance(info, list) and info and isinstance(info[0], dict) and info[0].get("name"):
        first = info[0]
        return _text(" ".join(str(part) for part in (first.get("name"), first.get("version")) if part))
    return _text(manifest.get("claim_generator"))


def _actions(manifest: dict[str, Any]) -> list[ProvenanceAction]:
    found: list[ProvenanceAction] = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict) or assertion.get("label") not in ACTION_LABELS:
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            if isinstance(action, dict) and len(found) < MAX_ACTIONS:
                found.append(
                    ProvenanceAction(
                        action=_text(action.get("action")) or "unknown",
                        when=_text(action.get("when")),
                        software_agent=_agent(action.get("softwareAgent")),
                        digital_source_type=source_type_name(_text(action.get("digitalSourceType"))),
                    )
                )
    return found


def _agent(agent: Any) -> str | None:
    if isinstance(agent, dict):
        return _text(" ".join(str(agent[k]) for k in ("name", "version") if agent.get(k)))
    return _text(agent)


def _ingredient(ingredient: dict[str, Any], manifests: dict[str, Any]) -> ProvenanceIngredient:
    own = manifests.get(ingredient.get("active_manifest") or "") or {}
    return ProvenanceIngredient(
        title=_text(ingredient.get("title")),
        relationship=_text(ingredient.get("relationship")),
        format=_text(ingredient.get("format")),
        claim_generator=_claim_generator(own) if own else None,
        signer=_text((own.get("signature_info") or {}).get("common_name")),
    )


def _text(value: Any) -> str | None:
    """A short string, or None: every field of the document is capped, whatever the file holds."""
    if value is None or value == "":
        return None
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def xmp_source_type(data: bytes) -> str | None:
    """The IPTC Extension ``DigitalSourceType`` of the file's XMP packet, as its short name; None if absent."""
    from defusedxml import ElementTree
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            packet = next((img.info[key] for key in XMP_INFO_KEYS if img.info.get(key)), None)
    except Exception:  # noqa: BLE001 - not an image Pillow reads (a video, say): no XMP from here
        return None
    if packet is None:
        return None
    if isinstance(packet, str):
        packet = packet.encode("utf-8", "replace")
    if len(packet) > MAX_XMP_BYTES:
        return None
    try:
        root = ElementTree.fromstring(packet.rstrip(b"\x00 \n\r\t"))
    except Exception:  # noqa: BLE001 - malformed or hostile XML (entities): the XMP says nothing
        return None
    for description in root.iter(f"{{{RDF}}}Description"):
        value = description.get(f"{{{IPTC_EXT}}}DigitalSourceType")
        if value is None:
            element = description.find(f"{{{IPTC_EXT}}}DigitalSourceType")
            value = element.text if element is not None else None
        name = source_type_name(_text((value or "").strip()))
        if name:
            return name
    return None
