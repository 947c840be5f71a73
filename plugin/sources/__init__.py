"""Frame sources: each module registers one source type (folder, stream, frigate, ...)."""
