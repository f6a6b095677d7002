"""instructpipe: build instruction-tuning datasets as one resumable pipeline."""

__version__ = "0.1.0"
