"""FakeWeb annotator."""
