"""`dedup_exact`: drop records whose normalised text equals an earlier (or better) one.

Normalisation: Unicode NFKC, case-folded, whitespace collapsed. The text compared is the
whole conversation (default), the first instruction, all user turns, or the response.
Keep policy `first` (input order), `longest` (most characters) or `source_priority`
(order of `priority`, then first), across all inputs taken in order. Dropped records name
the kept one (`duplicate_of`, also in the dropped record's meta).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import numpy as np

from pipeline.dedup.keep import KeepParams, duplicate, rank_key, representatives
from pipeline.dedup.text import TextField, key_text, normalise
from pipeline.jsonl import atomic_write_json, read_json_file
from pipeline.ops.base import Item, OpSpec, ShardSteps, StageContext, StageInput
from pipeline.record import Record


class DedupExactParams(KeepParams):
    field: TextField = "conversation"
    normalize: bool = True


def digest(rec: Record, p: DedupExactParams) -> bytes:
    text = key_text(rec, p.field)
    if p.normalize:
        text = normalise(text)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).digest()


def all_records(inputs: list[StageInput]) -> Iterator[Record]:
    for inp in inputs:
        yield from inp


def run(ctx: StageContext, inputs: list[StageInput], p: DedupExactParams) -> Iterator[Item]:
    if p.keep == "first":
        seen: dict[bytes, str] = {}
        for rec in all_records(inputs):
            d = digest(rec, p)
            if d in seen:
                yield duplicate(rec, seen[d], "duplicate", f"same {p.field} as {seen[d]}")
            else:
                seen[d] = rec.id
                yield rec
        return
    # Two passes: the best record of each group may come after the others.
    best: dict[bytes, tuple[tuple[int, int], str]] = {}
    for idx, rec in enumerate(all_records(inputs)):
        d, s = digest(rec, p), (rank_key(rec, p), idx)
        if d not in best or s < best[d][0]:
            best[d] = (s, rec.id)
    for idx, rec in enumerate(all_records(inputs)):
        s, winner = best[digest(rec, p)]
        if s[1] == idx:
            yield rec
        else:
            yield duplicate(rec, winner, "duplicate", f"same {p.field} as {winner} (keep {p.keep})")


# -- the same decisions over shards (`run --workers N`): hash per shard, decide at the driver ------
MAP, WINNERS, WINNER_IDS = "exact_keys.npz", "exact_winners.npy", "exact_winner_ids.json"


def map_shard(inp: StageInput, p: DedupExactParams, folder: Path) -> None:
    """A shard's digests, keep keys and record ids (what the decision needs, not the texts)."""
    recs = list(inp)
    digests = np.array([digest(r, p) for r in recs], dtype="S12")
    keys = np.array([rank_key(r, p) for r in recs], dtype=np.int64)
    np.savez(folder / MAP, digests=digests, keys=keys, ids=np.array([r.id for r in recs], dtype=str))


def reduce_shards(shards: Path, n: int, p: DedupExactParams) -> None:
    """The kept record of every group: best keep key, then input order (as `run` decides)."""
    maps = [np.load(shards / f"{i:05d}" / MAP) for i in range(n)]
    digests = np.concatenate([m["digests"] for m in maps]) if maps else np.array([], dtype="S12")
    keys = np.concatenate([m["keys"] for m in maps]) if maps else np.array([], dtype=np.int64)
    _, labels = np.unique(digests, return_inverse=True)
    winners = representatives(labels.reshape(-1), keys)
    ids = np.concatenate([m["ids"] for m in maps]) if maps else np.array([], dtype=str)
    dup_of = {int(w): str(ids[w]) for w in np.unique(winners[winners != np.arange(len(winners))])}
    np.save(shards / WINNERS, winners)
    atomic_write_json(shards / WINNER_IDS, dup_of)


def apply_shard(ctx: StageContext, inp: StageInput, p: DedupExactParams, offset: int) -> Iterator[Item]:
    shards = ctx.stage_dir.parent
    winners = np.load(shards / WINNERS, mmap_mode="r")
    names = read_json_file(shards / WINNER_IDS)
    why = "" if p.keep == "first" else f" (keep {p.keep})"
    for i, rec in enumerate(inp, start=offset):
        w = int(winners[i])
        if w == i:
            yield rec
        else:
            yield duplicate(rec, names[str(w)], "duplicate", f"same {p.field} as {names[str(w)]}{why}")


SPEC = OpSpec(
    name="dedup_exact", fn=run, params=DedupExactParams, version=2, min_inputs=1,
    shard_steps=ShardSteps(map_shard, reduce_shards, apply_shard),
    doc="Remove exact duplicates (normalised text hash) across all inputs; keep first/longest/by source.",
)
