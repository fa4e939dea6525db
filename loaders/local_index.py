"""In-memory side of the embedded vector store: faiss over positions, tombstones, filter masks.

Positions are faiss ids (0..n-1, append-only between rebuilds); each maps to a SQLite rowid.
Deleted or replaced rows are tombstones that searches exclude with a bitmap selector until
``compact_ratio`` of positions are dead, then the index is rebuilt from the live vectors.
Small stores are searched exactly (``IndexFlatIP``); past ``hnsw_threshold`` live vectors the
store switches to ``IndexHNSWFlat``, whose flat ``storage`` still serves exact filtered search.
A snapshot is ``index.<gen>.faiss`` plus ``rowids.<gen>.npy``, published by atomically
replacing ``snapshot.json``; nothing is pickled. Not thread-safe: the store holds the lock.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from loaders.filters import FILTER_FIELDS, Filter

log = logging.getLogger(__name__)

MANIFEST = "snapshot.json"
_VERSION = 1


@dataclass(frozen=True)
class IndexConfig:
    """Search tuning. ``exact_limit``: filters allowing at most this many vectors go exact."""

    hnsw_threshold: int = 20_000
    exact_limit: int = 20_000
    ef_search: int = 96
    hnsw_m: int = 32
    ef_construction: int = 64
    compact_ratio: float = 0.3


class VectorIndex:
    """Normalised vectors by position with liveness, id -> position and filter postings."""

    def __init__(self, config: IndexConfig, index: Any = None, rowids: Any = None) -> None:
        self.config = config
        self.max_rowid = 0
        self.index: Any = index  # IndexFlatIP or IndexHNSWFlat, or None before the first add
        self._flat: Any = _storage(index) if index is not None else None
        self.size = 0 if index is None else int(index.ntotal)
        self.rowids = np.zeros(max(self.size, 1024), dtype=np.int64)
        if rowids is not None:
            self.rowids[: self.size] = rowids
        self._alive = np.zeros(len(self.rowids), dtype=bool)
        self.count = 0
        self._pos: dict[str, int] = {}
        self._postings: dict[tuple[str, str], list[int]] = {}
        self._arrays: dict[tuple[str, str], np.ndarray] = {}
        self._alive_bits: np.ndarray | None = None

    @property
    def dim(self) -> int | None:
        return None if self.index is None else int(self.index.d)

    def append(self, rowids: list[int], ids: list[str], metas: list[dict], vecs: Any) -> None:
        """Add live rows (vectors already normalised) at the next positions."""
        if self.index is None:
            self.index = self._flat = faiss.IndexFlatIP(vecs.shape[1])
        start, m = self.size, len(ids)
        self.index.add(np.ascontiguousarray(vecs, dtype=np.float32))
        if start + m > len(self.rowids):
            grow = max(start + m, 2 * len(self.rowids)) - len(self.rowids)
            self.rowids = np.concatenate([self.rowids, np.zeros(grow, np.int64)])
            self._alive = np.concatenate([self._alive, np.zeros(grow, bool)])
        self.rowids[start : start + m] = rowids
        self.size = start + m
        self.max_rowid = max(self.max_rowid, *rowids)
        for i, (cid, meta) in enumerate(zip(ids, metas, strict=True)):
            self.mark_alive(start + i, cid, meta)

    def mark_alive(self, pos: int, cid: str, meta: Mapping[str, Any]) -> None:
        self._alive[pos] = True
        self.count += 1
        self._pos[cid] = pos
        self._alive_bits = None
        for key in filter_values(meta):
            self._postings.setdefault(key, []).append(pos)
            self._arrays.pop(key, None)

    def tombstone(self, ids: Iterable[str]) -> None:
        for cid in ids:
            pos = self._pos.pop(cid, None)
            if pos is not None:
                self._alive[pos] = False
                self.count -= 1
                self._alive_bits = None

    def maintain(self) -> None:
        """Compact past ``compact_ratio`` tombstones; switch to HNSW past the threshold."""
        want_hnsw = self.count >= self.config.hnsw_threshold
        needs_hnsw = want_hnsw and not isinstance(self.index, faiss.IndexHNSWFlat)
        too_dead = self.size - self.count > self.config.compact_ratio * self.size
        if self.index is not None and (needs_hnsw or too_dead):
            self._rebuild(want_hnsw)

    def _rebuild(self, hnsw: bool) -> None:
        keep = self._alive[: self.size]
        vecs = self._flat.reconstruct_n(0, self.size)[keep]
        cfg = self.config
        index: Any
        if hnsw:
            index = faiss.IndexHNSWFlat(vecs.shape[1], cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = cfg.ef_construction
        else:
            index = faiss.IndexFlatIP(vecs.shape[1])
        index.add(vecs)
        remap = np.cumsum(keep) - 1
        fresh = VectorIndex(cfg, index, self.rowids[: self.size][keep])
        fresh.max_rowid, fresh.count = self.max_rowid, fresh.size
        fresh._alive[: fresh.size] = True
        fresh._pos = {cid: int(remap[p]) for cid, p in self._pos.items()}
        for key, plist in self._postings.items():
            arr = np.asarray(plist, dtype=np.int64)
            if len(arr := arr[keep[arr]]):
                fresh._postings[key] = remap[arr].tolist()
        self.__dict__.update(fresh.__dict__)

    def search(self, query: Any, k: int, flt: Filter) -> list[tuple[int, float]]:
        """``(rowid, cosine)`` of the best ``k`` live vectors allowed by ``flt``."""
        mask = self._allowed(flt) if flt else None
        allowed = int(mask.sum()) if mask is not None else self.count
        if allowed == 0 or self.index is None:
            return []
        if mask is None and self.count < self.size and self._alive_bits is None:
            self._alive_bits = np.packbits(self._alive[: self.size], bitorder="little")
        bits = np.packbits(mask, bitorder="little") if mask is not None else self._alive_bits
        index, params = self._flat, faiss.SearchParameters()
        hnsw = isinstance(self.index, faiss.IndexHNSWFlat)
        if hnsw and (mask is None or allowed > self.config.exact_limit):
            index, params = self.index, faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
            # A selector hides part of the graph: widen the beam by the hidden share.
            params.efSearch = max(k, min(1024, self.config.ef_search * self.size // allowed))
        if bits is not None:
            params.sel = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bits))
        scores, positions = index.search(query, min(k, allowed), params=params)
        hits = zip(positions[0].tolist(), scores[0].tolist(), strict=True)
        return [(int(self.rowids[p]), s) for p, s in hits if p >= 0]

    def _allowed(self, flt: Filter) -> np.ndarray:
        mask = self._alive[: self.size].copy()
        for field, values in flt.items():
            in_field = np.zeros(self.size, dtype=bool)
            for value in values:
                in_field[self._positions((field, value))] = True
            mask &= in_field
        return mask

    def _positions(self, key: tuple[str, str]) -> np.ndarray:
        if key not in self._arrays:
            self._arrays[key] = np.asarray(self._postings.get(key, []), dtype=np.int64)
        return self._arrays[key]

    def revive(self, rows: Iterable[tuple[int, str, str]]) -> bool:
        """Mark snapshot rows still in SQLite alive; False if SQLite has a row we lack."""
        where = {r: p for p, r in enumerate(self.rowids[: self.size].tolist())}
        for rowid, cid, metadata in rows:
            pos = where.get(rowid)
            if pos is None:
                return False
            self.mark_alive(pos, cid, json.loads(metadata))
        return True

    def save(self, directory: Path) -> None:
        """Write new snapshot files, publish them through the manifest, drop older ones."""
        if self.index is None:
            return
        gen = uuid.uuid4().hex[:12]
        names = {"index": f"index.{gen}.faiss", "rowids": f"rowids.{gen}.npy"}
        _atomic(directory / names["index"], lambda tmp: faiss.write_index(self.index, str(tmp)))
        _atomic(directory / names["rowids"], lambda tmp: _save_npy(tmp, self.rowids[: self.size]))
        manifest: dict[str, Any] = {"version": _VERSION, "count": self.size, "dim": self.dim}
        manifest |= {"max_rowid": self.max_rowid, **names}
        _atomic(directory / MANIFEST, lambda tmp: tmp.write_text(json.dumps(manifest)))
        for old in [*directory.glob("index.*.faiss"), *directory.glob("rowids.*.npy")]:
            if old.name not in names.values():
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path, config: IndexConfig) -> VectorIndex | None:
        """The published snapshot (all positions dead), or None if absent or inconsistent."""
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
            if manifest.get("version") != _VERSION:
                return None
            index = faiss.read_index(str(directory / manifest["index"]))
            rowids = np.load(directory / manifest["rowids"], allow_pickle=False)
            count, max_rowid = int(manifest["count"]), int(manifest["max_rowid"])
            ok = index.ntotal == count and index.d == int(manifest["dim"])
            ok = ok and rowids.dtype == np.int64 and rowids.shape == (count,)
            ok = (
                ok and bool(np.all(np.diff(rowids) > 0)) and (count == 0 or rowids[-1] <= max_rowid)
            )
        except FileNotFoundError:
            return None
        except Exception as exc:  # the snapshot is only a cache: the caller rebuilds from SQLite
            log.warning("ignoring vector snapshot in %s: %s", directory, exc)
            return None
        if not ok:
            return None
        out = cls(config, index, rowids)
        out.max_rowid = max_rowid
        return out


def filter_values(metadata: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """``(field, value)`` pairs a filter can match, with the semantics of ``filters.matches``."""
    for field in FILTER_FIELDS:
        value = metadata.get(field)
        for v in value if isinstance(value, list | tuple) else [value]:
            if isinstance(v, str):
                yield field, v


def normalised(vectors: Sequence[Sequence[float]] | Any, rows: int) -> np.ndarray:
    """``rows`` x dim float32 matrix with unit rows (zero rows stay zero)."""
    mat = np.asarray(vectors, dtype=np.float32).reshape(rows, -1)
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    return np.ascontiguousarray(mat / np.maximum(norms, 1e-12), dtype=np.float32)


def _storage(index: Any) -> Any:
    """The flat vectors of ``index`` (HNSW keeps them in ``storage``), for exact search."""
    return faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index


def _save_npy(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as fh:
        np.save(fh, np.ascontiguousarray(array, dtype=np.int64), allow_pickle=False)


def _atomic(final: Path, write: Callable[[Path], object]) -> None:
    tmp = final.with_name(f".{final.name}.tmp")
    write(tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
