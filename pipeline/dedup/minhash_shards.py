"""`dedup_minhash` over shards (`run --workers N`, `--engine ray`): the same clusters, kept
records, rejections and counters as the one-process op.

- map (per shard, in the worker's process): shingles, signatures and band hashes of the shard's
  records, written band-major (`minhash_bands.npy`: bands x records, uint64), with the keep keys,
  shingle counts, ids and, with `verify`, the shingle sets (`minhash_shingles.u32`).
- reduce (the driver, once): band by band, in band order, the shards' columns are joined into
  one array of n hashes, sorted into buckets, and their new pairs merged into the union-find
  labels, exactly as the one-process op merges its band files (pipeline/dedup/lsh.py). The
  next band's buckets are sorted in a thread while the current one merges. `verify` reads each
  candidate pair's shingle sets from the two shards' spill files. It writes each record's kept
  record and cluster size, the kept records' ids, and the stage counters.
- apply (per shard): each record kept or rejected as decided; shard 0 adds the counters.

What the driver-side reduce costs (synthetic maps, 14 bands, a busy 2-core machine): 1M records
4-5 s and 100-135 MB above the interpreter; 5M records 41 s and 490 MB. That is about 100 bytes
a record (labels, keep keys, one band and its sort, the next band sorted ahead), 93% of the time
in the bands' sorts and 5% in the union-find, linear in the records: fine up to some tens of
millions of records (20M: about 2 GB and 3 minutes). Beyond that, or once it outweighs the
workers' hashing (1M short instructions take about 40 s of hashing on one core, so with dozens
of workers), the buckets need a distributed pass: each band partitioned by hash over the
workers, only the new pairs sent to the driver.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Iterator

import numpy as np
import orjson

from pipeline.dedup import minhash as mh
from pipeline.dedup.keep import rank_key
from pipeline.dedup.lsh import decided, hash_batch, merge_bands
from pipeline.dedup.text import plain_text
from pipeline.jsonl import atomic_write_json, read_json_file
from pipeline.ops.base import Item, StageContext, StageInput

BATCH = 4096
BANDS, KEYS, LENS, IDS, SETS = "minhash_bands.npy", "minhash_keys.npy", "minhash_lens.npy", "minhash_ids.json", \
    "minhash_shingles.u32"
KEPT, SIZES, NAMES, COUNTERS = "minhash_kept.npy", "minhash_sizes.npy", "minhash_names.json", "minhash_counters.json"


def map_shard(inp: StageInput, p, folder: Path) -> None:
    """A shard's band hashes, keep keys, shingle counts and ids (and shingle sets for `verify`)."""
    bands: list[np.ndarray] = []
    lens: list[np.ndarray] = []
    keys: list[int] = []
    ids: list[str] = []
    with open(folder / SETS, "wb") if p.verify else nullcontext() as sets:
        batch: list[str] = []
        for rec in inp:
            batch.append(plain_text(rec, p.field))
            keys.append(rank_key(rec, p))
            ids.append(rec.id)
            if len(batch) >= BATCH:
                _add(hash_batch(batch, p), bands, lens, sets)
                batch = []
        if batch:
            _add(hash_batch(batch, p), bands, lens, sets)
    nb = mh.lsh_params(p.threshold, p.num_perm)[0]
    bh = np.concatenate(bands) if bands else np.empty((0, nb), np.uint64)
    np.save(folder / BANDS, np.ascontiguousarray(bh.T))  # band-major: the reduce reads one band at a time
    np.save(folder / LENS, np.concatenate(lens) if lens else np.empty(0, np.int64))
    np.save(folder / KEYS, np.array(keys, dtype=np.int64))
    (folder / IDS).write_bytes(orjson.dumps(ids))


def _add(hashed: tuple, bands: list, lens: list, sets) -> None:
    bh, counts, data = hashed
    bands.append(bh)
    lens.append(counts)
    if sets is not None:
        sets.write(data)


class ShingleSets:
    """The `verify` check over the shards' spill files: record i's set is found through its shard."""

    def __init__(self, folders: list[Path], starts: np.ndarray, lens: list[np.ndarray], threshold: float):
        self.starts, self.threshold = starts, threshold
        self.offsets = [np.concatenate(([0], np.cumsum(n))) for n in lens]
        self.sets = [np.memmap(f / SETS, dtype=np.uint32, mode="r") if n.sum() else None
                     for f, n in zip(folders, lens)]

    def one(self, i: int) -> np.ndarray:
        s = int(np.searchsorted(self.starts, i, side="right")) - 1
        k, off = i - int(self.starts[s]), self.offsets[s]
        return self.sets[s][off[k]:off[k + 1]]

    def __call__(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        keep = np.zeros(len(u), dtype=bool)
        for k, (a, b) in enumerate(zip(u.tolist(), v.tolist())):
            keep[k] = mh.jaccard(self.one(a), self.one(b)) >= self.threshold
        return keep


def reduce_shards(shards: Path, n: int, p) -> None:
    """Cluster every record as the one-process op does; write the decisions and counters."""
    folders = [shards / f"{i:05d}" for i in range(n)]
    lens = [np.load(f / LENS) for f in folders]
    sizes = np.array([len(x) for x in lens], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    valid = np.concatenate(lens) > 0
    keys = np.concatenate([np.load(f / KEYS) for f in folders])
    nb, rows = mh.lsh_params(p.threshold, p.num_perm)
    counters = {f"lsh_bands_{nb}_rows_{rows}": 1}

    def count(name: str, k: int) -> None:
        counters[name] = counters.get(name, 0) + k

    check = ShingleSets(folders, starts, lens, p.threshold) if p.verify else None
    kept, size = merge_bands(_edges(folders, nb, valid), valid, keys, check, count)
    np.save(shards / KEPT, kept)
    np.save(shards / SIZES, size)
    names = np.unique(kept[kept != np.arange(len(kept))])
    atomic_write_json(shards / NAMES, _names(folders, starts, sizes, names))
    atomic_write_json(shards / COUNTERS, counters)


def band_column(path: Path, band: int) -> np.ndarray:
    """Row `band` of a shard's band-major `.npy`, read (not memory-mapped: mapped pages of every
    band would stay in the driver's resident memory)."""
    with open(path, "rb") as fh:
        fmt = np.lib.format
        header = fmt.read_array_header_1_0 if fmt.read_magic(fh) == (1, 0) else fmt.read_array_header_2_0
        (_, m), _, dtype = header(fh)
        fh.seek(band * m * dtype.itemsize, 1)
        return np.fromfile(fh, dtype=dtype, count=m)


def _edges(folders: list[Path], nb: int, valid: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each band's bucket pairs, in band order; the next band is gathered and sorted in a thread
    while the caller merges this one (numpy sorts without holding the GIL)."""
    def edges(i: int) -> tuple[np.ndarray, np.ndarray]:
        return mh.bucket_edges(np.concatenate([band_column(f / BANDS, i) for f in folders]), valid)

    with ThreadPoolExecutor(1) as pool:
        ahead = pool.submit(edges, 0) if nb else None
        for i in range(nb):
            pairs = ahead.result()
            if i + 1 < nb:
                ahead = pool.submit(edges, i + 1)
            yield pairs


def _names(folders: list[Path], starts: np.ndarray, sizes: np.ndarray, wanted: np.ndarray) -> dict[str, str]:
    """The ids of the records `wanted` (global indices), read shard by shard."""
    out: dict[str, str] = {}
    shard_of = np.searchsorted(starts, wanted, side="right") - 1
    for s in np.unique(shard_of).tolist():
        ids = orjson.loads((folders[s] / IDS).read_bytes())
        for i in wanted[shard_of == s].tolist():
            out[str(i)] = ids[i - int(starts[s])]
    return out


def apply_shard(ctx: StageContext, inp: StageInput, p, offset: int) -> Iterator[Item]:
    shards = ctx.stage_dir.parent
    if offset == 0:  # the reduce's counters enter the stage's once, through the first shard
        for name, k in read_json_file(shards / COUNTERS).items():
            ctx.count(name, k)
    own = slice(offset, offset + inp.count)  # this shard's records only
    kept = np.load(shards / KEPT, mmap_mode="r")[own]
    sizes = np.load(shards / SIZES, mmap_mode="r")[own]
    ids = {int(i): name for i, name in read_json_file(shards / NAMES).items()}
    yield from decided(inp, kept, sizes, ids, p.keep, offset)
