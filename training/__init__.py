"""FakeWeb training: data, crop cache, model, export, evaluation."""
