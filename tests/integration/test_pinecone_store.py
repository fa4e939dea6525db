"""The Pinecone store through the real pinecone SDK and langchain-pinecone, against the emulator."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.indexing import IndexingResult, InMemoryRecordManager, index
from pinecone.exceptions import PineconeApiException

from loaders.errors import InvalidInput, ServiceUnavailable
from loaders.pinecone_store import SupportbotPineconeStore, make_pinecone_store
from loaders.settings import Settings
from tests.emulators.pinecone import (
    DELETE_BY_FILTER_MESSAGE,
    STATS_BY_FILTER_MESSAGE,
    PineconeEmulator,
    matches_filter,
)

pytestmark = pytest.mark.integration

API_KEY = "test-key"
DIM = 32
SEED_FIELDS = {
    "chunk_id", "document_id", "document_title", "document_type", "category", "tags",
    "content", "chunk_index", "token_count", "created_at", "language",
}  # fmt: skip


class HashEmbeddings(Embeddings):
    """Deterministic bag of hashed words, unit length: texts sharing words are close."""

    def _embed(self, text: str) -> list[float]:
        v = [0.0] * DIM
        v[0] = 0.05  # never the zero vector, which a cosine index rejects
        for word in re.findall(r"\w+", text.lower()):
            v[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        norm = math.sqrt(sum(x * x for x in v))
        return [x / norm for x in v]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)


def chunk(chunk_id: str, text: str, document_type: str, tags: list[str], **extra: Any) -> Document:
    doc_id, index_ = chunk_id.split("#")
    md = {
        "chunk_id": chunk_id, "document_id": doc_id, "document_title": doc_id.upper(),
        "document_type": document_type, "category": "support", "tags": tags,
        "chunk_index": int(index_), "token_count": len(text.split()),
        "created_at": datetime(2024, 5, 1, tzinfo=UTC), "language": "en",
        "heading_path": ["Help", doc_id], "page_number": None, "source": f"{doc_id}.md",
    }  # fmt: skip
    md.update(extra)
    return Document(id=chunk_id, page_content=text, metadata=md)


def corpus() -> list[Document]:
    return [
        chunk("faq-1#0", "How do I reset my password? Use the forgot password link.", "faq",
              ["account", "password"], extra={"author": {"name": "Ana"}}),
        chunk("faq-2#0", "Refunds go back to the original payment method.", "faq", ["billing"]),
        chunk("guide-1#0", "Export your invoices as PDF from the billing page.", "guide",
              ["billing", "export"]),
    ]  # fmt: skip


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "pinecone_api_key": API_KEY, "pinecone_index_name": "kb", "pinecone_namespace": "",
        "pinecone_host": None,
    }  # fmt: skip
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.hypot(*a) / math.hypot(*b)


@pytest.fixture()
def emu() -> Iterator[PineconeEmulator]:
    with PineconeEmulator(api_key=API_KEY) as emulator:
        yield emulator


@pytest.fixture()
def store(emu: PineconeEmulator) -> SupportbotPineconeStore:
    host = emu.create_index("kb", DIM)
    s = settings(pinecone_host=host, pinecone_namespace="tenant-a")
    return make_pinecone_store(s, HashEmbeddings(), dimension=DIM)


def sent(emu: PineconeEmulator, method: str, path: str) -> list[Any]:
    return [r.body for r in emu.requests if (r.method, r.path) == (method, path)]


def test_add_sanitises_metadata_and_keeps_seed_fields(store, emu) -> None:
    docs = corpus()
    store.add_documents(docs, ids=[d.id for d in docs])

    stored = emu.stored("kb", "faq-1#0", namespace="tenant-a")
    assert set(stored) >= SEED_FIELDS | {"heading_path", "source"}
    assert "page_number" not in stored  # None dropped: Pinecone rejects nulls
    assert json.loads(stored["extra"]) == {"author": {"name": "Ana"}}
    assert stored["created_at"] == "2024-05-01T00:00:00+00:00"
    assert stored["content"] == docs[0].page_content
    assert stored["tags"] == ["account", "password"]
    assert "content" not in docs[0].metadata  # the caller's documents are not mutated


def test_search_returns_cosine_scores_and_applies_normal_form_filters(store, emu) -> None:
    docs = corpus()
    store.add_documents(docs, ids=[d.id for d in docs])
    emb = HashEmbeddings()

    found = store.similarity_search_with_score("reset password", k=3)
    assert found[0][0].id == "faq-1#0"
    expected = cosine(emb.embed_query("reset password"), emb.embed_query(docs[0].page_content))
    assert found[0][1] == pytest.approx(expected, abs=1e-9)
    assert found[0][0].metadata["chunk_index"] == 0 and found[0][0].page_content.startswith("How")
    assert isinstance(found[0][0].metadata["token_count"], int)  # Pinecone's floats restored

    def ids(flt: dict[str, Any]) -> set[str]:
        return {d.id for d, _ in store.similarity_search_with_score("billing", k=10, filter=flt)}

    assert ids({"document_type": ["guide"]}) == {"guide-1#0"}
    assert ids({"tags": ["password", "export"]}) == {"faq-1#0", "guide-1#0"}  # any-of on a list
    assert ids({"document_type": ["faq"], "tags": ["billing"]}) == {"faq-2#0"}
    assert sent(emu, "POST", "/query")[-1]["filter"] == {
        "$and": [{"document_type": {"$in": ["faq"]}}, {"tags": {"$in": ["billing"]}}]
    }


def test_namespaces_do_not_see_each_other(store, emu) -> None:
    other = make_pinecone_store(
        settings(pinecone_host=emu.host("kb"), pinecone_namespace="tenant-b"),
        HashEmbeddings(),
        dimension=DIM,
    )
    docs = corpus()
    store.add_documents(docs[:1], ids=["faq-1#0"])
    other.add_documents(docs[1:], ids=["faq-2#0", "guide-1#0"])

    assert {d.id for d in store.similarity_search("billing password", k=10)} == {"faq-1#0"}
    assert {d.id for d in other.similarity_search("billing password", k=10)} == {
        "faq-2#0", "guide-1#0"
    }  # fmt: skip
    assert (store.count(), other.count()) == (1, 2)
    assert store.get_by_ids(["faq-2#0"]) == []


def test_get_by_ids_and_delete_by_ids_only(store, emu) -> None:
    docs = corpus()
    store.add_documents(docs, ids=[d.id for d in docs])

    got = store.get_by_ids(["guide-1#0", "missing", "faq-1#0"])
    assert [d.id for d in got] == ["guide-1#0", "faq-1#0"]
    assert got[0].page_content == docs[2].page_content
    assert got[0].metadata["chunk_index"] == 0 and got[0].metadata["source"] == "guide-1.md"
    assert store.count() == 3

    store.delete(["faq-1#0"])
    assert store.count() == 2 == emu.vector_count("kb", "tenant-a")
    with pytest.raises(InvalidInput) as err:
        store.delete(filter={"document_id": "faq-2"})
    assert err.value.code == "DELETE_BY_FILTER_UNSUPPORTED"
    store.delete(["faq-2#0", "guide-1#0"])
    store.delete(["guide-1#0"])  # empty namespace: Pinecone answers 404, still a no-op
    assert store.count() == 0
    deletes = sent(emu, "POST", "/vectors/delete")
    assert len(deletes) == 3 and all("filter" not in body for body in deletes)


def test_emulator_keeps_serverless_limits(store, emu) -> None:
    """What our code must not rely on: the raw SDK sees the errors real Pinecone sends."""
    raw = store.index
    with pytest.raises(PineconeApiException) as err:
        raw.delete(filter={"document_id": {"$eq": "faq-1"}}, namespace="tenant-a")
    assert err.value.status == 400 and DELETE_BY_FILTER_MESSAGE in err.value.body
    for bad in ({"page_number": None}, {"author": {"name": "Ana"}}, {"ids": [1, 2]}):
        with pytest.raises(PineconeApiException) as err:
            raw.upsert(vectors=[("x", [1.0] * DIM, bad)], namespace="tenant-a")
        assert err.value.status == 400 and "Metadata value must be" in err.value.body
    with pytest.raises(PineconeApiException) as err:
        raw.describe_index_stats(filter={"document_type": {"$eq": "faq"}})
    assert STATS_BY_FILTER_MESSAGE in err.value.body
    assert emu.vector_count("kb", "tenant-a") == 0


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"tags": "billing"}, True),
        ({"tags": {"$eq": "export"}}, False),
        ({"tags": {"$ne": "billing"}}, False),
        ({"tags": {"$nin": ["export"]}}, True),
        ({"chunk_index": {"$gte": 2, "$lt": 3}}, True),
        ({"chunk_index": {"$gt": 2}}, False),
        ({"title": {"$exists": False}}, True),
        ({"$or": [{"lang": "de"}, {"$and": [{"lang": "en"}, {"flag": True}]}]}, True),
        ({"flag": 1}, False),  # a boolean never equals a number
    ],
)
def test_emulator_filter_semantics(flt: dict[str, Any], expected: bool) -> None:
    md = {"tags": ["billing", "account"], "chunk_index": 2.0, "lang": "en", "flag": True}
    assert matches_filter(md, flt) is expected


def test_control_plane_creates_the_missing_index_once(emu, monkeypatch) -> None:
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", emu.url)
    s = settings(pinecone_index_name="auto-kb", pinecone_cloud="gcp",
                 pinecone_environment="europe-west4")  # fmt: skip
    store = make_pinecone_store(s, HashEmbeddings(), dimension=DIM)
    store.add_documents(corpus()[:1], ids=["faq-1#0"])
    make_pinecone_store(s, HashEmbeddings(), dimension=DIM)

    (create,) = sent(emu, "POST", "/indexes")
    assert (create["name"], create["dimension"], create["metric"]) == ("auto-kb", DIM, "cosine")
    assert create["spec"] == {"serverless": {"cloud": "gcp", "region": "europe-west4"}}
    assert emu.vector_count("auto-kb") == 1 and store.count() == 1


@pytest.mark.parametrize("via_host", [False, True])
def test_dimension_mismatch_is_refused(emu, monkeypatch, via_host: bool) -> None:
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", emu.url)
    host = emu.create_index("kb", DIM * 2)
    s = settings(pinecone_host=host if via_host else None)
    with pytest.raises(ServiceUnavailable) as err:
        make_pinecone_store(s, HashEmbeddings(), dimension=DIM)
    assert err.value.code == "EMBEDDING_DIMENSION_MISMATCH"
    assert (
        f"{DIM * 2}-dimensional" in err.value.message and f"{DIM}-dimensional" in err.value.message
    )
    assert sent(emu, "POST", "/indexes") == [] and emu.indexes["kb"].dimension == DIM * 2


def test_missing_api_key_is_a_clear_error(emu) -> None:
    with pytest.raises(ServiceUnavailable) as err:
        make_pinecone_store(settings(pinecone_api_key=None), HashEmbeddings(), dimension=DIM)
    assert err.value.code == "PINECONE_NOT_CONFIGURED" and emu.requests == []


def test_langchain_index_api_is_idempotent_and_replaces_changed_documents(store, emu) -> None:
    def docs(faq_texts: list[str]) -> list[Document]:
        # index() hashes metadata as JSON, so the pipeline hands it ISO dates, not datetimes
        when = {"created_at": "2024-05-01T00:00:00+00:00"}
        faq = [chunk(f"faq-1#{i}", t, "faq", ["account"], **when) for i, t in enumerate(faq_texts)]
        return [*faq, chunk("guide-1#0", "Export invoices as PDF.", "guide", ["billing"], **when)]

    manager = InMemoryRecordManager("pinecone/kb")
    manager.create_schema()

    def run(batch: list[Document]) -> IndexingResult:
        return index(batch, manager, store, cleanup="incremental",
                     source_id_key="document_id", key_encoder="sha256")  # fmt: skip

    first = docs(["Reset the password from the login page.", "Passwords expire yearly."])
    assert run(first)["num_added"] == 3 and emu.vector_count("kb", "tenant-a") == 3
    emu.clear_requests()
    assert run(first) == {"num_added": 0, "num_updated": 0, "num_skipped": 3, "num_deleted": 0}
    assert sent(emu, "POST", "/vectors/upsert") == sent(emu, "POST", "/vectors/delete") == []

    changed = docs(["Reset it from Settings.", "Passwords expire after 90 days.", "Use 2FA."])
    result = run(changed)
    assert (result["num_added"], result["num_deleted"], result["num_skipped"]) == (3, 2, 1)
    assert store.count() == 4 == emu.vector_count("kb", "tenant-a")
    texts = {d.page_content for d in store.similarity_search("password", k=10)}
    assert "Passwords expire yearly." not in texts and "Use 2FA." in texts
    assert all("filter" not in body for body in sent(emu, "POST", "/vectors/delete"))
