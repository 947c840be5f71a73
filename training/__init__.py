"""Training tools for darknet-format YOLO models (cfg/weights I/O; PyTorch trainer in torch_* modules)."""
