"""Unit vectors on a real MongoDB-compatible server: stored at ingestion, read in a turn."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from loaders.unit_vectors import COLLECTION, UnitVectors, embedding_texts

pytestmark = pytest.mark.integration

CHUNK = (
    "Library FAQ > How do I install a package?\nPackages come from the package index.\n"
    "To install one, run the command:\n```\npip install NAME\n```"
)


class CountingEmbeddings(Embeddings):
    """A deterministic embedder that records what it was asked to embed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.seen += texts
        return [[float(len(t)), float(t.count(" ")) + 1.0, 1.0] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def test_warm_stores_each_unit_once_and_a_turn_reads_them_back(mongo_db: Any) -> None:
    emb = CountingEmbeddings()
    store = UnitVectors(mongo_db[COLLECTION], emb, "model-a")
    texts = embedding_texts(CHUNK)
    assert store.warm([CHUNK, CHUNK]) == len(texts) == 2
    assert mongo_db[COLLECTION].count_documents({}) == 2
    assert store.warm([CHUNK]) == 0  # already stored: nothing re-embedded
    assert len(emb.seen) == 2

    fresh = UnitVectors(mongo_db[COLLECTION], emb, "model-a")  # a new process: empty LRU
    vectors = fresh(texts)
    assert len(emb.seen) == 2  # read from MongoDB, not embedded again
    assert vectors.shape == (2, 3)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_another_model_never_reads_these_vectors(mongo_db: Any) -> None:
    emb = CountingEmbeddings()
    UnitVectors(mongo_db[COLLECTION], emb, "model-a").warm([CHUNK])
    UnitVectors(mongo_db[COLLECTION], emb, "model-b")(embedding_texts(CHUNK))
    assert len(emb.seen) == 4 and mongo_db[COLLECTION].count_documents({}) == 4


def test_the_question_is_never_stored(mongo_db: Any) -> None:
    store = UnitVectors(mongo_db[COLLECTION], CountingEmbeddings(), "model-a")
    store.query("my secret question")
    assert mongo_db[COLLECTION].count_documents({}) == 0


def test_forget_removes_a_deleted_documents_vectors(mongo_db: Any) -> None:
    store = UnitVectors(mongo_db[COLLECTION], CountingEmbeddings(), "model-a")
    other = "Files FAQ > How do I delete a file?\nUse os.remove() to delete a file from disk."
    store.warm([CHUNK, other])
    assert store.forget([CHUNK]) == 2
    assert mongo_db[COLLECTION].count_documents({}) == 1  # the other document's unit stays


def test_a_new_version_keeps_its_units_and_drops_only_the_old_ones(mongo_db: Any) -> None:
    store = UnitVectors(mongo_db[COLLECTION], CountingEmbeddings(), "model-a")
    edited = CHUNK.replace("from the package index", "from PyPI, the package index")
    store.warm([CHUNK])
    store.warm([edited])
    assert mongo_db[COLLECTION].count_documents({}) == 3  # the code unit is shared
    assert store.forget([CHUNK], keep=[edited]) == 1
    assert {d["_id"] for d in mongo_db[COLLECTION].find()} == {
        store._key(t) for t in embedding_texts(edited)
    }
