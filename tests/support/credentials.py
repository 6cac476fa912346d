"""Content Credentials made by the tests themselves: a certificate authority generated with ``cryptography``,
files signed with ``c2pa-python``, and XMP packets with an IPTC digital source type.

Nothing here is a fixture file: every certificate and signed image is made when a test runs.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
ORG = "FakeWeb tests"


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG)]
    )


def _key_usage(*, sign_certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign_certs,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certs,
        crl_sign=sign_certs,
        encipher_only=False,
        decipher_only=False,
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class TestAuthority:
    """A root certificate authority (ES256) that issues C2PA signing certificates."""

    __test__ = False  # not a pytest class
    name: str = "FakeWeb Test Root"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(self.name))
            .issuer_name(_name(self.name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(sign_certs=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> str:
        """The root certificate, PEM: what a trust anchors file holds."""
        return _pem(self.certificate).decode()

    def trust_in(self, anchors_file: Path) -> None:
        """Add this root to a trust anchors PEM bundle (the provenance worker re-reads it for every job)."""
        with anchors_file.open("a") as bundle:
            bundle.write(self.pem)

    def signer(self, common_name: str) -> TestSigner:
        """A leaf signing certificate (e-mail protection EKU, as C2PA accepts) issued by this authority."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        leaf = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(sign_certs=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return TestSigner(common_name=common_name, chain=_pem(leaf) + _pem(self.certificate), key=key_pem)


@dataclass(frozen=True)
class TestSigner:
    """A signing certificate chain (leaf first) and its private key."""

    __test__ = False
    common_name: str
    chain: bytes
    key: bytes

    def sign(
        self, data: bytes, manifest: dict[str, Any], media_type: str = "image/jpeg", parent: bytes | None = None
    ) -> bytes:
        """``data`` with a C2PA manifest signed by this certificate; ``parent`` becomes a parentOf ingredient."""
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, self.chain, self.key, None))
        settings = {"builder": {"thumbnail": {"enabled": False}}, "verify": {"remote_manifest_fetch": False}}
        with c2pa.Context.from_dict(settings) as context, c2pa.Builder(manifest, context=context) as builder:
            if parent is not None:
                # An edit of a parent file: the library writes the c2pa.opened action that links it.
                builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
                ingredient = {"title": "parent.jpg", "relationship": "parentOf"}
                builder.add_ingredient(ingredient, media_type, io.BytesIO(parent))
            out = io.BytesIO()
            builder.sign(signer, media_type, io.BytesIO(data), out)
        signer.close()
        return out.getvalue()


def manifest(generator: str, *actions: dict[str, Any], title: str = "photo.jpg") -> dict[str, Any]:
    """A manifest definition: the claim generator and one ``c2pa.actions`` assertion."""
    return {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": list(actions)}}],
    }


def created(source_type: str, when: str = "2026-11-30T10:00:00Z") -> dict[str, Any]:
    """A ``c2pa.created`` action with an IPTC digital source type (``digitalCapture``, ...)."""
    return {"action": "c2pa.created", "digitalSourceType": IPTC + source_type, "when": when}


def edited(agent: str = "FakeWeb test editor") -> dict[str, Any]:
    """A ``c2pa.edited`` action."""
    return {"action": "c2pa.edited", "softwareAgent": {"name": agent}}


def tampered(jpeg: bytes) -> bytes:
    """The JPEG with one entropy-coded byte changed after signing: still decodes, hash binding broken."""
    data = bytearray(jpeg)
    at = len(data) - 64
    while data[at] in (0xFF, 0xFE) or data[at - 1] == 0xFF:
        at -= 1
    data[at] ^= 0x01
    return bytes(data)


def xmp_packet(source_type: str) -> bytes:
    """An XMP packet declaring an IPTC digital source type, as generators write it."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        f"<Iptc4xmpExt:DigitalSourceType>{IPTC}{source_type}</Iptc4xmpExt:DigitalSourceType>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def with_xmp(jpeg: bytes, packet: bytes) -> bytes:
    """The JPEG re-saved (same size, quality 92) with ``packet`` as its XMP."""
    with Image.open(io.BytesIO(jpeg)) as img:
        out = io.BytesIO()
        img.convert("RGB").save(out, format="JPEG", quality=92, xmp=packet)
    return out.getvalue()
