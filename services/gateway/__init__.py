"""FakeWeb gateway."""
