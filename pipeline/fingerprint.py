"""Stage fingerprints: op, op version, parameters, prompt files, input files and upstream stages.

A local path parameter counts by its content (sha256), not its name: moving or renaming a file
keeps the fingerprint, editing it changes it. Transport settings (concurrency, rate limits,
timeouts, prices, budgets) do not count: they do not change what a stage produces.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from pipeline.prompts import load_prompt
from pipeline.tokens import digest, shapes_output

LLM_TRANSPORT = {"concurrency", "rpm", "tpm", "timeout", "max_retries", "price_in", "price_out",
                 "max_cost_usd", "max_requests", "mode", "api_key_env", "max_wait", "batch_max_requests",
                 "batch_max_bytes", "batch_poll", "batch_poll_max", "tokenizer"}


@lru_cache(maxsize=None)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    st = path.stat()
    return _file_sha256(str(path), st.st_size, st.st_mtime_ns)


def path_digest(path: Path) -> str:
    """sha256 of a file, or of a folder's relative file names and contents."""
    if path.is_file():
        return file_sha256(path)
    h = hashlib.sha256()
    for p in sorted(x for x in path.rglob("*") if x.is_file()):
        h.update(str(p.relative_to(path)).encode() + b"\0" + file_sha256(p).encode())
    return h.hexdigest()


def describe_files(params: dict, path_params: tuple[str, ...]) -> dict:
    """`{param: {path, size, sha256}}` of the local files a stage reads (for the manifest)."""
    out = {}
    for key in path_params:
        value = params.get(key)
        if value and isinstance(value, str):  # a path parameter may also take an inline value
            p = Path(value)
            size = p.stat().st_size if p.is_file() else sum(x.stat().st_size for x in p.rglob("*") if x.is_file())
            out[key] = {"path": str(p), "size": size, "sha256": path_digest(p)}
    return out


def stage_fingerprint(stage, upstream: list[str], run_dir: Path | None = None) -> str:
    """Hash of everything that decides a stage's output (`stage` is a recipe Stage)."""
    params = stage.params.model_dump(mode="json")
    files = {}
    for key in stage.op.path_params:
        if params.get(key) and isinstance(params[key], str):
            files[key] = path_digest(Path(params.pop(key)))
    if run_dir is not None and stage.op.run_files:  # e.g. review decisions: absent counts as empty
        for rel in stage.op.run_files(stage.params, stage.inputs):
            path = Path(run_dir) / rel
            files[f"run:{rel}"] = file_sha256(path) if path.is_file() else None
    prompts = {name: load_prompt(name).sha256 for name in stage.op.prompt_names(stage.params)}
    llm = None
    if stage.llm is not None:
        llm = {k: v for k, v in stage.llm.model_dump(mode="json").items() if k not in LLM_TRANSPORT
               and not (k == "base_url" and isinstance(v, list))}  # a fleet's servers: like concurrency
    doc = {"op": stage.op.name, "version": stage.op.version, "params": params, "files": files,
           "prompts": prompts, "llm": llm, "inputs": upstream}
    if stage.tokenizer and shapes_output(stage):  # token bounds: the tokenizer's content decides what is kept
        doc["tokenizer"] = digest(stage.tokenizer)
    if stage.op.package:  # a plugin op: its package and version decide its output too
        doc["package"] = [stage.op.package, stage.op.package_version]
    canon = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:20]
