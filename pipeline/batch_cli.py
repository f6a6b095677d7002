"""`instructpipe batch status|cancel RUN_DIR`: the Batch API jobs a run folder has submitted."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from pipeline.errors import InputError

app = typer.Typer(no_args_is_help=True, help="Batch API jobs of a run folder (stages with mode: batch).")
TERMINAL = ("completed", "failed", "expired", "cancelled")


def _store(run_dir: Path):
    from pipeline.llm.batch_store import BatchStore
    from pipeline.llm.cache import cache_path

    path = cache_path(run_dir)
    if not path.exists():
        raise InputError(f"{run_dir}: no LLM cache here (not a run folder, or no LLM stage has run)")
    return BatchStore.open(path)


def _sdk(shard):
    import openai

    from pipeline.llm.secrets import api_key, install_log_filter

    install_log_filter()
    return openai.OpenAI(api_key=api_key(shard.api_key_env, shard.base_url), base_url=shard.base_url)


def _open_shards(store) -> list:
    return [s for s in store.shards(states=("submitted",)) if s.status not in TERMINAL and s.batch_id]


@app.command()
def status(run_dir: Path = typer.Argument(..., help="run folder"),
           offline: bool = typer.Option(False, "--offline", help="show what the run folder knows; ask the API nothing"),
           as_json: bool = typer.Option(False, "--json", help="machine-readable list")) -> None:
    """Show every batch of the run: shard, stage, requests, batch id, status and counts."""
    from pipeline.llm.batch_store import counts_text

    store = _store(run_dir)
    if not offline:
        for shard in _open_shards(store):
            batch = _sdk(shard).batches.retrieve(shard.batch_id)
            store.update(shard, status=batch.status, counts=counts_text(batch))
    rows = [{"shard": s.shard, "stage": s.stage, "file": s.file_name, "requests": s.requests,
             "batch_id": s.batch_id, "status": s.status or s.state, "state": s.state,
             "counts": json.loads(s.counts) if s.counts else None, "error": s.error} for s in store.shards()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no batches in this run folder")
        return
    header = ["shard", "stage", "requests", "batch", "status", "done/failed/total"]
    body = [[r["shard"], r["stage"], r["requests"], r["batch_id"] or "-", r["status"],
             "/".join(str((r["counts"] or {}).get(k, "-")) for k in ("completed", "failed", "total"))]
            for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    for row in [header] + body:
        typer.echo("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


@app.command()
def cancel(run_dir: Path = typer.Argument(..., help="run folder")) -> None:
    """Cancel every batch of the run that is still running (partial results stay usable)."""
    store = _store(run_dir)
    shards = _open_shards(store)
    if not shards:
        typer.echo("no running batches")
    for shard in shards:
        batch = _sdk(shard).batches.cancel(shard.batch_id)
        store.update(shard, status=batch.status)
        typer.echo(f"{shard.shard}: batch {shard.batch_id} {batch.status}")
