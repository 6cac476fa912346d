"""Provenance of a job's original file: Content Credentials (C2PA) and the IPTC/XMP digital source type.

The ``provenance`` stage reads them (``services/provenance``) and stores a :class:`Provenance` in the
job record; the job document shows it beside the faces' verdicts. It never changes a face's
probability: :func:`provenance_summary` only says, in words, what the credentials declare and where
they disagree with the verdicts. Nothing here depends on the file being a photo, so a video's
provenance reads the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, Field, computed_field


class ProvenanceStatus(StrEnum):
    """What the file's Content Credentials amount to."""

    PENDING = "pending"  # not read (yet): the job has not reached the provenance stage
    NONE = "none"  # no Content Credentials in the file
    VALID = "valid"  # signature and hash bindings hold, the signer chains to a configured trust anchor
    UNTRUSTED = "untrusted"  # signature and bindings hold, but the signer is not on the trust list
    INVALID = "invalid"  # credentials present, but a signature or hash binding fails, or they cannot be read


# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/), by their last path segment.
GENERATED_SOURCE_TYPES = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "algorithmicMedia",
        "compositeSynthetic",
        "trainedAlgorithmicData",  # C2PA's own term
    }
)
CAPTURED_SOURCE_TYPES = frozenset({"digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm", "print"})
# Actions that record no change to the content: anything else in the active manifest counts as an edit.
NON_EDITING_ACTIONS = frozenset(
    {"c2pa.created", "c2pa.opened", "c2pa.published", "c2pa.repackaged", "c2pa.transcoded", "c2pa.converted"}
)


class ProvenanceAction(BaseModel):
    """One action the active manifest records."""

    action: str = Field(description="C2PA action, e.g. `c2pa.created`, `c2pa.edited`.")
    when: str | None = Field(None, description="When the action happened, if recorded.")
    software_agent: str | None = Field(None, description="The tool that performed it, if recorded.")
    digital_source_type: str | None = Field(None, description="IPTC digital source type, e.g. `digitalCapture`.")


class ProvenanceIngredient(BaseModel):
    """A file the active manifest says this one was made from."""

    title: str | None = None
    relationship: str | None = Field(None, description="`parentOf`, `componentOf` or `inputTo`.")
    format: str | None = None
    claim_generator: str | None = Field(None, description="What wrote the ingredient's own credentials, if any.")
    signer: str | None = Field(None, description="Who signed the ingredient's own credentials, if any.")


class Provenance(BaseModel):
    """The ``provenance`` section of a job document."""

    status: ProvenanceStatus = Field(
        ProvenanceStatus.PENDING, description="pending, none, valid, untrusted or invalid (see the README)."
    )
    reason: str | None = Field(None, description="Why the credentials are invalid or untrusted (C2PA codes).")
    claim_generator: str | None = Field(None, description="The application that wrote the credentials.")
    signer: str | None = Field(None, description="Common name of the signing certificate.")
    issuer: str | None = Field(None, description="Organisation that issued the signing certificate.")
    signed_at: str | None = Field(None, description="Time of signing from a trusted timestamp, if the file has one.")
    title: str | None = None
    actions: list[ProvenanceAction] = Field(default_factory=list)
    ingredients: list[ProvenanceIngredient] = Field(default_factory=list)
    digital_source_type: str | None = Field(
        None, description="IPTC digital source type, from the credentials or else the file's XMP."
    )
    digital_source_type_from: str | None = Field(None, description="`c2pa` or `xmp`: where the source type came from.")

    @property
    def credentials_intact(self) -> bool:
        """True when the signature and the hash bindings hold (trusted or not)."""
        return self.status in (ProvenanceStatus.VALID, ProvenanceStatus.UNTRUSTED)

    @property
    def declares_generated(self) -> bool:
        """The file declares AI or algorithmic generation (in intact credentials or in XMP)."""
        return self._source_type_in(GENERATED_SOURCE_TYPES)

    @property
    def declares_captured(self) -> bool:
        """The file declares a camera (or film, or print) capture."""
        return self._source_type_in(CAPTURED_SOURCE_TYPES)

    @property
    def declares_edited(self) -> bool:
        """Intact credentials record an action that changes the content, or an ingredient it was made from."""
        if not self.credentials_intact:
            return False
        return any(a.action not in NON_EDITING_ACTIONS for a in self.actions) or any(
            i.relationship in ("parentOf", "componentOf") for i in self.ingredients
        )

    def _source_type_in(self, kinds: frozenset[str]) -> bool:
        if self.digital_source_type_from == "c2pa" and not self.credentials_intact:
            return False
        types = {a.digital_source_type for a in self.actions} if self.credentials_intact else set()
        return bool(({self.digital_source_type} | types) & kinds)

    @computed_field(description="`ai-generated` or `edited` when the file declares it (the page's badge); else null.")
    @property
    def badge(self) -> str | None:
        """``ai-generated`` or ``edited`` when the file declares it, for the page's badge; else None."""
        if self.declares_generated:
            return "ai-generated"
        if self.declares_edited:
            return "edited"
        return None


def source_type_name(uri: str | None) -> str | None:
    """``trainedAlgorithmicMedia`` from ``http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia``."""
    if not uri:
        return None
    name = uri.rstrip("/").rsplit("/", 1)[-1].strip()
    return name or None


def describe_credentials(provenance: Provenance) -> str:
    """One line on what the file's provenance says ("credentials: captured by a camera, not edited")."""
    status = provenance.status
    if status is ProvenanceStatus.PENDING:
        return "credentials: not read yet"
    if status is ProvenanceStatus.INVALID:
        return "credentials: present but invalid (changed after signing, or broken); they prove nothing"
    if status is ProvenanceStatus.NONE:
        declared = _declared(provenance)
        if declared:
            return f"no Content Credentials; unsigned XMP metadata says {declared}"
        return "no Content Credentials (metadata can be stripped, so this says nothing either way)"
    declared = _declared(provenance) or "no source type declared"
    edited = "edited" if provenance.declares_edited else "not edited"
    by = provenance.claim_generator or "an unnamed application"
    trust = "signer trusted" if status is ProvenanceStatus.VALID else "signer not on the trust list"
    return f"credentials ({trust}, written by {by}): {declared}, {edited}"


def _declared(provenance: Provenance) -> str | None:
    if provenance.declares_generated:
        return "AI-generated"
    if provenance.declares_captured:
        return "captured by a camera"
    if provenance.digital_source_type:
        return provenance.digital_source_type
    return None


def disagreement(provenance: Provenance, verdicts: Sequence[str]) -> str | None:
    """A plain sentence when what the file declares contradicts the faces' verdicts; None when they agree.

    ``verdicts`` are the faces' ``verdict`` values. A camera capture declared as not edited
    contradicts a manipulated face; a declared AI generation contradicts faces all scored genuine.
    Invalid credentials declare nothing, so they never disagree.
    """
    if not provenance.credentials_intact and provenance.status is not ProvenanceStatus.NONE:
        return None
    manipulated = sum(1 for v in verdicts if v == "manipulated")
    genuine = sum(1 for v in verdicts if v == "genuine")
    line = describe_credentials(provenance)
    captured_unedited = (
        provenance.declares_captured and not provenance.declares_edited and not provenance.declares_generated
    )
    if captured_unedited and manipulated:
        faces = "1 face is" if manipulated == 1 else f"{manipulated} faces are"
        return f"Disagreement: {line}; but {faces} scored manipulated."
    if provenance.declares_generated and genuine and not manipulated:
        faces = "the face is" if genuine == 1 else f"all {genuine} faces are"
        return f"Disagreement: {line}; but {faces} scored genuine."
    return None


def provenance_summary(provenance: Provenance, verdicts: Sequence[str] | None) -> str:
    """The job summary's sentence on provenance: what the file declares, or its disagreement with the verdicts."""
    if verdicts is not None:
        conflict = disagreement(provenance, verdicts)
        if conflict:
            return conflict
    line = describe_credentials(provenance)
    return f"{line[:1].upper()}{line[1:]}."
