"""Sinks: where confirmed incidents go (local incident log, recorder write-back, alert outbox)."""
