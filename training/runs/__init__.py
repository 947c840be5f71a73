"""Run folders: settings, the darknet CLI or PyTorch engine as a child process, checkpoints,
the model bundle a run ends with, and the manual-vs-auto-labels comparison."""
