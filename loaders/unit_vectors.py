"""Vectors of answer units, embedded at ingestion and kept in MongoDB for the chat turn.

The extractive answerer scores every unit of the retrieved passages by cosine with the
question. Embedding ~50 short units per turn would cost more than the rest of the turn, so
ingestion embeds each chunk's units (``loaders.units.embedding_texts``) and stores them in
``knowledge_base_unit_vectors`` keyed by (model, sha256 of the text), as float16. A turn
reads them with one ``$in`` query (an in-process LRU in front), and embeds only units it
has never seen (text edited outside ingestion, a unit split changed by an upgrade).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from pymongo import ReplaceOne
from pymongo.collection import Collection
from pymongo.errors import PyMongoError

from loaders.units import Candidate, candidates, fence_line

log = logging.getLogger(__name__)
COLLECTION = "knowledge_base_unit_vectors"
_LRU_ITEMS = 20_000  # 20k x 384 float32 is about 30 MB


class UnitVectors:
    """Unit vectors by text: LRU, then MongoDB, then the embedding model."""

    def __init__(self, collection: Collection[Any], embeddings: Embeddings, model: str) -> None:
        self.collection = collection
        self.embeddings = embeddings
        self.model = model
        self._lru: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model}\n{text}".encode()).hexdigest()[:32]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors of ``texts``, one row each."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        found = self._from_lru(keys)
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            found.update(self._from_mongo(missing))
        fresh = [(k, t) for k, t in dict.fromkeys(zip(keys, texts, strict=True)) if k not in found]
        if fresh:
            found.update(self._embed_and_store(fresh))
        self._remember(found)
        return np.stack([found[k] for k in keys])

    def query(self, text: str) -> np.ndarray:
        """The question's vector (the embedder's own cache; never stored with the units)."""
        return np.asarray(self.embeddings.embed_query(text), dtype=np.float32)

    def warm(self, chunk_texts: Iterable[str]) -> int:
        """Embed and store the units of chunks not stored yet; returns how many were new."""
        texts = list(dict.fromkeys(t for c in chunk_texts for t in embedding_texts(c)))
        keys = [self._key(t) for t in texts]
        stored = set(self._from_mongo(keys)) if keys else set()
        fresh = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in stored]
        for start in range(0, len(fresh), 256):
            self._embed_and_store(fresh[start : start + 256])
        return len(fresh)

    def forget(self, chunk_texts: Iterable[str], keep: Iterable[str] = ()) -> int:
        """Delete the stored vectors of these chunks' units (a deleted or replaced document's),
        except units the ``keep`` chunks still have (its new version's).

        Vectors are keyed by text, so a unit another document shares goes too; the next turn
        that needs it embeds it again.
        """
        kept = {self._key(t) for c in keep for t in embedding_texts(c)}
        keys = list({self._key(t) for c in chunk_texts for t in embedding_texts(c)} - kept)
        with self._lock:
            for k in keys:
                self._lru.pop(k, None)
        if not keys:
            return 0
        return int(self.collection.delete_many({"_id": {"$in": keys}}).deleted_count)

    def _from_lru(self, keys: list[str]) -> dict[str, np.ndarray]:
        out = {}
        with self._lock:
            for k in keys:
                vec = self._lru.get(k)
                if vec is not None:
                    self._lru.move_to_end(k)
                    out[k] = vec
        return out

    def _remember(self, found: dict[str, np.ndarray]) -> None:
        with self._lock:
            for k, vec in found.items():
                self._lru[k] = vec
                self._lru.move_to_end(k)
            while len(self._lru) > _LRU_ITEMS:
                self._lru.popitem(last=False)

    def _from_mongo(self, keys: list[str]) -> dict[str, np.ndarray]:
        try:
            rows = self.collection.find({"_id": {"$in": keys}}, {"v": 1})
            return {r["_id"]: np.frombuffer(r["v"], dtype=np.float16).astype(np.float32)
                    for r in rows}  # fmt: skip
        except PyMongoError as exc:  # vectors are an optimisation: embed instead
            log.warning("unit vectors unreadable (%s); embedding them", exc)
            return {}

    def _embed_and_store(self, pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
        vectors = np.asarray(self.embeddings.embed_documents([t for _, t in pairs]), np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        out = {k: vectors[i] for i, (k, _) in enumerate(pairs)}
        docs = [{"_id": k, "v": v.astype(np.float16).tobytes()} for k, v in out.items()]
        try:
            self.collection.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs], ordered=False
            )
        except PyMongoError as exc:
            log.warning("unit vectors not stored (%s)", exc)
        return out


def embedding_text(unit: Candidate) -> str:
    """What a unit is embedded as: its nearest heading, then the unit (code fences dropped).

    The heading says what the unit is about ("Resetting your password: ..."), so a unit
    whose words are all pronouns and details still lands near the question it answers.
    """
    heading = unit.context.rsplit(" > ", 1)[-1].strip()
    body = "\n".join(ln for ln in unit.text.splitlines() if not fence_line(ln))
    return f"{heading}: {body}" if heading else body


def embedding_texts(text: str) -> list[str]:
    """The embedding texts of every unit of a chunk's ``text`` (computed at ingestion)."""
    return [embedding_text(c) for c in candidates(text)]
