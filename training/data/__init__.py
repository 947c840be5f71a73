"""Labelled pictures: reading data sets in their formats, checking, splitting and preparing them,
outside data, and the augmented batches the PyTorch trainer learns from."""
