"""The PyTorch trainer: darknet cfg layers as a torch model, the YOLO loss, the weight average
and the training loop (`python -m gunwatch.training.pytorch.torch_train`)."""
