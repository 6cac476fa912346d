"""FakeWeb classifier."""
