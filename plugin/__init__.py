"""gunwatch: gun detection for existing video recorders."""

__version__ = "0.1.0"
