"""The provenance stage: Content Credentials (C2PA) and the IPTC/XMP digital source type of the original."""
