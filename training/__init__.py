"""Training tools for darknet-format YOLO models: data sets (data), cfgs and weights (arch), the
PyTorch trainer (pytorch), run folders and engines (runs), accuracy figures (metrics)."""
