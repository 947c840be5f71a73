"""Pipeline stages between a detector and the sinks: filters (zones, sizes) and confirmation."""
