"""FakeWeb detector."""
