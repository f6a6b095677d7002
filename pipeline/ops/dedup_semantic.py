"""`dedup_semantic`: drop records whose embedding is too close (cosine) to a kept record.

Embeddings of all records are written to a spill file in the stage folder (float32, one row
per record), then records are visited in keep-policy order (first, longest, source
priority): a record is kept unless its cosine similarity to an already kept record reaches
`threshold`; otherwise it is rejected as `semantic_duplicate` naming that record. Only the
kept embeddings stay in memory, compared a block at a time. Embedders: see `pipeline.embed`.
"""

from __future__ import annotations

import os
import shutil
from array import array
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from pydantic import Field

from pipeline.dedup.keep import KeepParams, duplicate, rank_key
from pipeline.dedup.scratch import scratch
from pipeline.dedup.text import TextField, plain_text
from pipeline.embed import EmbedParams, embedder_for
from pipeline.jsonl import atomic_write_json, read_json_file
from pipeline.ops.base import Item, OpSpec, ShardSteps, StageContext, StageInput
from pipeline.ops.dedup_exact import all_records
from pipeline.record import Record

BLOCK = 1024


class DedupSemanticParams(KeepParams, EmbedParams):
    field: TextField = Field("conversation", description="text embedded: conversation, instruction, user or response")
    threshold: float = Field(0.95, gt=0.0, le=1.0, description="cosine similarity of semantic duplicates")


class KeptSet:
    """Embeddings of kept records in a growing matrix, with their record indices."""

    def __init__(self, dim: int):
        self.m = np.zeros((1024, dim), dtype=np.float32)
        self.idx: list[int] = []

    def add(self, i: int, v: np.ndarray) -> None:
        if len(self.idx) == len(self.m):
            self.m = np.concatenate([self.m, np.zeros_like(self.m)])
        self.m[len(self.idx)] = v
        self.idx.append(i)

    def best(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row: the highest similarity to a kept record, and which (position in idx)."""
        if not self.idx:
            return np.full(len(block), -np.inf), np.zeros(len(block), dtype=np.int64)
        sims = block @ self.m[:len(self.idx)].T
        arg = sims.argmax(axis=1)
        return sims[np.arange(len(block)), arg], arg


def embed_all(inputs: list[StageInput], p: EmbedParams, path: Path, base: Path | None = None,
              key: Callable[[Record], int] = lambda rec: 0) -> tuple[np.ndarray, np.ndarray]:
    """Write every record's embedding (of its `p.field` text) to `path`; return (memmap, key of each)."""
    emb = embedder_for(p, base)
    keys, batch, dim = array("q"), [], 0
    with open(path, "wb") as out:
        def flush() -> int:
            m = emb.embed(batch)
            out.write(np.ascontiguousarray(m, dtype=np.float32).tobytes())
            batch.clear()
            return m.shape[1]
        for rec in all_records(inputs):
            batch.append(plain_text(rec, p.field))
            keys.append(key(rec))
            if len(batch) >= BLOCK:
                dim = flush()
        if batch:
            dim = flush()
    n = len(keys)
    vecs = np.memmap(path, dtype=np.float32, mode="r", shape=(n, dim)) if n else np.zeros((0, 1), np.float32)
    return vecs, np.frombuffer(keys, np.int64)


def greedy(vecs: np.ndarray, keys: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(kept-record index each record duplicates, or -1; its similarity) in keep-policy order."""
    n = len(keys)
    order = np.lexsort((np.arange(n), keys))
    dup_of, sim = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float32)
    kept = KeptSet(vecs.shape[1])
    for start in range(0, n, BLOCK):
        ids = order[start:start + BLOCK]
        block = np.asarray(vecs[np.sort(ids)])[np.argsort(np.argsort(ids))]
        best, arg = kept.best(block)
        inner = block @ block.T
        fresh: list[int] = []
        for j, i in enumerate(ids.tolist()):
            if best[j] >= threshold:
                dup_of[i], sim[i] = kept.idx[arg[j]], best[j]
                continue
            if fresh:
                row = inner[j, fresh]
                k = int(row.argmax())
                if row[k] >= threshold:
                    dup_of[i], sim[i] = ids[fresh[k]], row[k]
                    continue
            fresh.append(j)
        for j in fresh:
            kept.add(int(ids[j]), block[j])
    return dup_of, sim


def run(ctx: StageContext, inputs: list[StageInput], p: DedupSemanticParams) -> Iterator[Item]:
    with scratch(ctx.stage_dir, "semantic") as tmp:
        vecs, keys = embed_all(inputs, p, tmp / "embeddings.f32", ctx.recipe_dir,
                               key=lambda rec: rank_key(rec, p))
        dup_of, sim = greedy(vecs, keys, p.threshold)
        del vecs
    needed = set(dup_of[dup_of >= 0].tolist())
    ids = {i: rec.id for i, rec in enumerate(all_records(inputs)) if i in needed}
    yield from emit(all_records(inputs), 0, dup_of, sim, ids, p)


def emit(records: Iterator[Record], offset: int, dup_of: np.ndarray, sim: np.ndarray, ids: dict,
         p: DedupSemanticParams) -> Iterator[Item]:
    for i, rec in enumerate(records, start=offset):
        d = int(dup_of[i])
        if d < 0:
            yield rec
        else:
            yield duplicate(rec, ids[d], "semantic_duplicate",
                            f"cosine {sim[i]:.3f} >= {p.threshold} with {ids[d]} (keep {p.keep})",
                            similarity=round(float(sim[i]), 4))


# -- over shards (`run --workers N`): each worker embeds its shard, the driver runs the same greedy
# pass over all the embeddings (in keep order) and each shard writes its records' verdicts
EMB, KEYS, DECIDED = "embeddings.f32", "keys.npy", "semantic_decisions.npz"


def map_shard(ctx: StageContext, inp: StageInput, p: DedupSemanticParams, folder: Path) -> None:
    _, keys = embed_all([inp], p, folder / EMB, ctx.recipe_dir, key=lambda rec: rank_key(rec, p))
    np.save(folder / KEYS, keys)
    atomic_write_json(folder / "ids.json", [rec.id for rec in inp])


def reduce_shards(ctx: StageContext, shards: Path, n: int, p: DedupSemanticParams) -> None:
    """The one-process greedy pass over the shards' embeddings, concatenated in input order."""
    folders = [shards / f"{i:05d}" for i in range(n)]
    if (shards / DECIDED).exists() and not all((f / EMB).exists() for f in folders):
        return  # decided, and the embeddings removed, by an attempt killed before its marker
    keys = np.concatenate([np.load(f / KEYS) for f in folders]) if folders else np.zeros(0, np.int64)
    with scratch(shards, "semantic") as tmp:
        with open(tmp / EMB, "wb") as out:
            for f in folders:
                with open(f / EMB, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        size = (tmp / EMB).stat().st_size
        dim = size // 4 // len(keys) if len(keys) and size else 1
        vecs = np.memmap(tmp / EMB, dtype=np.float32, mode="r", shape=(len(keys), dim)) if size else \
            np.zeros((len(keys), 1), np.float32)
        dup_of, sim = greedy(vecs, keys, p.threshold)
        del vecs
    needed = set(dup_of[dup_of >= 0].tolist())
    ids = [i for f in folders for i in read_json_file(f / "ids.json")]
    atomic_write_json(shards / "semantic_ids.json", {str(i): ids[i] for i in sorted(needed)})
    np.savez(shards / f"{DECIDED}.tmp.npz", dup_of=dup_of, sim=sim)
    os.replace(shards / f"{DECIDED}.tmp.npz", shards / DECIDED)  # whole, or absent
    for f in folders:  # the embeddings were only needed for the decision
        (f / EMB).unlink(missing_ok=True)


def align(p: DedupSemanticParams) -> int:
    """A model pads the texts of a batch together: shards of whole blocks embed as one process does
    (the hashing embedder embeds each text alone)."""
    return 1 if p.embedder == "hashing" else BLOCK


def apply_shard(ctx: StageContext, inp: StageInput, p: DedupSemanticParams, offset: int) -> Iterator[Item]:
    shards = ctx.stage_dir.parent
    with np.load(shards / DECIDED) as f:
        dup_of, sim = f["dup_of"], f["sim"]
    ids = {int(k): v for k, v in read_json_file(shards / "semantic_ids.json").items()}
    yield from emit(iter(inp), offset, dup_of, sim, ids, p)


SPEC = OpSpec(
    name="dedup_semantic", fn=run, params=DedupSemanticParams, version=1, min_inputs=1,
    shard_steps=ShardSteps(map_shard, reduce_shards, apply_shard, context=True, align=align),
    doc="Remove semantic duplicates: cosine similarity of embeddings (hashing or a local model) >= threshold.",
)
