"""Detector backends: each module registers one backend under its name."""
