"""`dedup_minhash`: near-duplicate removal with MinHash LSH and union-find clusters.

Pass 1 streams the records in batches and keeps only, per record, its LSH band hashes (spilled
to one file per band in the stage folder) and a keep-policy key; texts are never held. Each
band file is then sorted on its own to find records sharing a band (candidate pairs);
`verify` re-checks every candidate pair's exact Jaccard of the shingle sets (kept as 32-bit
shingle hashes in a spill file) and drops pairs under the threshold. Connected components
are the clusters; the keep policy picks one record per cluster and the others are rejected
as `near_duplicate` with `duplicate_of` naming the kept record. Records with no shingles
(no words) are never duplicates here. Shingling and hashing run in `workers` processes for
inputs of 20,000 records or more; the result does not depend on them. Under `run --workers N`
or `--engine ray` (one input) the stage runs as shards instead, with the same result
(pipeline/dedup/minhash_shards.py); each shard hashes in its own worker and `workers` is unused.
"""

from __future__ import annotations

import os
import threading
from array import array
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Iterator, Literal

import numpy as np
from pydantic import Field

from pipeline.dedup import minhash as mh
from pipeline.dedup import minhash_shards
from pipeline.dedup.keep import KeepParams, rank_key
from pipeline.dedup.lsh import decided, hash_batch, merge_bands
from pipeline.dedup.scratch import scratch
from pipeline.dedup.text import Shingle, TextField, plain_text
from pipeline.errors import ConfigError
from pipeline.ops.base import Item, OpSpec, ShardSteps, StageContext, StageInput
from pipeline.ops.dedup_exact import all_records

BATCH = 4096
PARALLEL_MIN = 20_000  # fewer records than this are hashed in-process: starting workers costs more


class DedupMinhashParams(KeepParams):
    field: TextField = Field("conversation", description="text compared: conversation, instruction, user or response")
    shingle: Shingle = Field("auto", description="auto: words, and single characters for CJK; word; char")
    ngram: int = Field(5, ge=1, le=64, description="tokens per shingle")
    num_perm: int = Field(128, ge=2, le=1024, description="MinHash permutations")
    threshold: float = Field(0.7, gt=0.0, lt=1.0, description="Jaccard similarity of near-duplicates")
    seed: int = Field(1, description="permutation seed (1 = datasketch's default)")
    hashfunc: Literal["xxh32", "sha1"] = Field("xxh32", description="shingle hash (sha1 = datasketch default)")
    verify: bool = Field(False, description="check candidate pairs' exact Jaccard before clustering")
    workers: int = Field(0, ge=0, description="processes hashing shingles: 0 = one per CPU core, 1 = none")


@dataclass
class Index:
    """What pass 1 keeps per record: validity, keep key; band hashes live in files."""

    n: int
    valid: np.ndarray
    keys: np.ndarray
    band_files: list[Path]
    shingle_file: Path | None
    offsets: np.ndarray | None


def worker_count(p: DedupMinhashParams, records: int) -> int:
    if records < PARALLEL_MIN:
        return 1
    return p.workers or len(os.sched_getaffinity(0))


def hashed(texts: Iterator[list[str]], p: DedupMinhashParams, workers: int) -> Iterator[tuple]:
    """`hash_batch` of every batch, in order; with workers, a bounded window of batches in flight."""
    if workers <= 1:
        for batch in texts:
            yield hash_batch(batch, p)
        return
    # fork is cheap but unsafe beside other threads (a live progress bar): spawn then
    method = "fork" if threading.active_count() == 1 else "spawn"
    try:
        with ProcessPoolExecutor(workers, mp_context=get_context(method)) as pool:
            window: deque = deque()
            for batch in texts:
                window.append(pool.submit(hash_batch, batch, p))
                if len(window) >= 2 * workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
    except BrokenProcessPool:
        raise ConfigError("dedup_minhash: its worker processes died (with spawn, a script must guard its "
                          "entry point with `if __name__ == '__main__'`); set workers: 1 to hash in-process"
                          ) from None


def build_index(inputs: list[StageInput], p: DedupMinhashParams, tmp: Path) -> Index:
    bands, _ = mh.lsh_params(p.threshold, p.num_perm)
    band_files = [tmp / f"band{i}.u64" for i in range(bands)]
    sh_file = tmp / "shingles.u32" if p.verify else None
    keys, counts = array("q"), []

    def texts() -> Iterator[list[str]]:
        batch: list[str] = []
        for rec in all_records(inputs):
            batch.append(plain_text(rec, p.field))
            keys.append(rank_key(rec, p))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    outs = [open(f, "wb") for f in band_files] + ([open(sh_file, "wb")] if sh_file else [])
    try:
        for bh, lens, sets in hashed(texts(), p, worker_count(p, sum(i.count for i in inputs))):
            for i in range(bands):
                outs[i].write(np.ascontiguousarray(bh[:, i]).tobytes())
            if sh_file:
                outs[-1].write(sets)
            counts.append(lens)
    finally:
        for out in outs:
            out.close()
    lens = np.concatenate(counts) if counts else np.empty(0, np.int64)
    offsets = np.concatenate(([0], np.cumsum(lens))) if p.verify else None
    return Index(len(keys), lens > 0, np.frombuffer(keys, np.int64), band_files, sh_file, offsets)


def verified(index: Index, u: np.ndarray, v: np.ndarray, threshold: float) -> np.ndarray:
    """Mask of the pairs whose exact Jaccard (of shingle hash sets) reaches the threshold."""
    sets = np.memmap(index.shingle_file, dtype=np.uint32, mode="r") if len(u) else None
    off = index.offsets
    keep = np.zeros(len(u), dtype=bool)
    for k, (a, b) in enumerate(zip(u.tolist(), v.tolist())):
        keep[k] = mh.jaccard(sets[off[a]:off[a + 1]], sets[off[b]:off[b + 1]]) >= threshold
    return keep


def clusters(ctx: StageContext, index: Index, p: DedupMinhashParams) -> tuple[np.ndarray, np.ndarray]:
    """(kept record index, cluster size) for every record, the band files merged one at a time."""
    bands = (mh.bucket_edges(np.fromfile(f, dtype=np.uint64), index.valid) for f in index.band_files)
    check = (lambda u, v: verified(index, u, v, p.threshold)) if p.verify else None
    return merge_bands(bands, index.valid, index.keys, check, ctx.count)


def run(ctx: StageContext, inputs: list[StageInput], p: DedupMinhashParams) -> Iterator[Item]:
    bands, rows = mh.lsh_params(p.threshold, p.num_perm)
    ctx.count(f"lsh_bands_{bands}_rows_{rows}")
    with scratch(ctx.stage_dir, "minhash") as tmp:
        index = build_index(inputs, p, tmp)
        rep, sizes = clusters(ctx, index, p)
    needed = np.zeros(index.n, dtype=bool)
    needed[rep[rep != np.arange(index.n)]] = True
    ids: dict[int, str] = {}
    if p.keep != "first":  # a kept record may come after its duplicates: learn its id first
        ids = {i: rec.id for i, rec in enumerate(all_records(inputs)) if needed[i]}
    yield from decided(all_records(inputs), rep, sizes, ids, p.keep, learn=needed)


SPEC = OpSpec(
    name="dedup_minhash", fn=run, params=DedupMinhashParams, version=1, min_inputs=1,
    shard_steps=ShardSteps(minhash_shards.map_shard, minhash_shards.reduce_shards, minhash_shards.apply_shard),
    doc="Remove near-duplicates (MinHash LSH over word/CJK-character shingles, union-find clusters).",
)
