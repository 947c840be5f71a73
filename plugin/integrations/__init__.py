"""Recorder integrations: each sub-package is one recorder (its config model, source, write-back
sink and doctor checks) and registers itself with gunwatch.registry when imported; the registry
imports every sub-package here."""
