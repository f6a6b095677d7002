"""instructpipe: build instruction-tuning datasets as one resumable pipeline.

The Python API (`docs/python.md`): `run_recipe`, `run_op`, `open_run` and `Record`, imported
lazily so that `import pipeline` and the CLI stay fast.
"""

__version__ = "0.1.0"

__all__ = ["run_recipe", "run_op", "open_run", "Record", "__version__"]


def __getattr__(name: str):
    if name in ("run_recipe", "run_op", "open_run"):
        from pipeline import api

        return getattr(api, name)
    if name == "Record":
        from pipeline.record import Record

        return Record
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
