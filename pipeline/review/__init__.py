"""The review page: browse a run's stages, overrule the pipeline's decisions, edit records.

Needs the `review` extra (Starlette, uvicorn, markdown-it-py). Decisions go to
`<run>/reviews/<stage>.jsonl`; the `review` op applies them in the next run.
"""

from __future__ import annotations

from pathlib import Path


def review_command(run_dir: Path, stage: str | None, host: str, port: int, reviewer: str | None,
                   open_browser: bool) -> None:
    """`instructpipe review`: serve the page for `run_dir` until interrupted."""
    from pipeline.errors import ConfigError

    try:
        import markdown_it  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"the review page needs the review extra ({e.name} is missing): "
                          "pip install 'instructpipe[review]'") from None
    from pipeline.review.server import serve
    from pipeline.review.store import default_reviewer

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port: expected 0-65535, got {port}")
    serve(run_dir, host, port, default_reviewer(reviewer), stage, open_browser)
