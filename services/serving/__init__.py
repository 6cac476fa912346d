"""FakeWeb serving."""
