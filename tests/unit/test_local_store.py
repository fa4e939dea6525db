"""LocalVectorStore: CRUD, upsert, cosine scores, filters, persistence, crash safety, HNSW."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import faiss
import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from loaders.errors import InvalidInput
from loaders.local_index import IndexConfig
from loaders.local_store import LocalVectorStore

REPO = Path(__file__).resolve().parents[2]


class HashEmbeddings(Embeddings):
    """Deterministic bag-of-words embedding: each word hashed into one of 64 dims."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        vec = np.zeros(64, dtype=np.float32)
        for word in text.lower().split():
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
        norm = float(np.linalg.norm(vec))
        return (vec / norm if norm else vec).tolist()


def open_store(path: Path, **config: float) -> LocalVectorStore:
    return LocalVectorStore(path, HashEmbeddings(), IndexConfig(**config))  # type: ignore[arg-type]


def unit(rows: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    vecs = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


DOCS = {
    "faq-1": ("refund policy for orders", {"document_type": "faq", "category": "billing",
              "tags": ["refund", "orders"], "document_id": "d1", "language": "en"}),
    "faq-2": ("shipping times for orders", {"document_type": "faq", "category": "shipping",
              "tags": ["orders"], "document_id": "d1", "language": "en"}),
    "man-1": ("reset your password", {"document_type": "manual", "category": "account",
              "tags": ["security"], "document_id": "d2", "language": "de"}),
    "pol-1": ("privacy policy details", {"document_type": "policy", "category": "legal",
              "tags": [], "document_id": "d3", "language": "en"}),
}  # fmt: skip


@pytest.fixture()
def store(tmp_path: Path) -> LocalVectorStore:
    s = open_store(tmp_path / "vs")
    ids = list(DOCS)
    s.add_texts([DOCS[i][0] for i in ids], [DOCS[i][1] for i in ids], ids=ids)
    return s


def test_add_get_delete(store: LocalVectorStore) -> None:
    assert store.count() == 4
    got = store.get_by_ids(["man-1", "nope", "faq-1"])
    assert [d.id for d in got] == ["man-1", "faq-1"]
    assert got[0].page_content == "reset your password" and got[0].metadata["language"] == "de"
    assert store.delete(["man-1", "unknown"]) is True
    assert store.get_by_ids(["man-1"]) == [] and store.count() == 3
    assert all(d.id != "man-1" for d in store.similarity_search("reset your password", k=4))
    assert store.delete(None) is False and store.count() == 3


def test_generated_ids_and_document_ids(store: LocalVectorStore) -> None:
    new = store.add_texts(["no id given"])
    assert len(new) == 1 and store.get_by_ids(new)[0].page_content == "no id given"
    assert store.add_documents([Document(id="doc-x", page_content="hello there")]) == ["doc-x"]
    assert store.get_by_ids(["doc-x"])[0].page_content == "hello there"


def test_upsert_replaces_without_duplicates(store: LocalVectorStore) -> None:
    store.add_texts(["refund rules changed"], [{"category": "changed"}], ids=["faq-1"])
    store.add_texts(["dup a", "dup b"], ids=["dup", "dup"])  # the last of a batch wins
    assert store.count() == 5
    assert store.get_by_ids(["faq-1"])[0].page_content == "refund rules changed"
    assert store.get_by_ids(["dup"])[0].page_content == "dup b"
    hits = store.similarity_search("refund policy for orders", k=10)
    assert [d.id for d in hits].count("faq-1") == 1
    assert store.similarity_search("x", k=5, filter={"category": "billing"}) == []


def test_cosine_scores_and_relevance(tmp_path: Path) -> None:
    s = open_store(tmp_path / "vs")
    s.add_embeddings(["x", "xy", "y"], [[3, 0, 0], [1, 1, 0], [0, 2, 0]], ids=["x", "xy", "y"])
    hits = s.similarity_search_by_vector_with_score(np.array([5.0, 0, 0]), k=3)
    assert [d.id for d, _ in hits] == ["x", "xy", "y"]
    assert [round(score, 4) for _, score in hits] == [1.0, round(2**-0.5, 4), 0.0]
    assert s._select_relevance_score_fn()(-0.3) == 0.0
    with pytest.raises(InvalidInput) as err:
        s.add_embeddings(["bad"], [[1.0, 0.0]])
    assert err.value.code == "EMBEDDING_DIM_MISMATCH"


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"document_type": ["faq"]}, {"faq-1", "faq-2"}),
        ({"category": "account"}, {"man-1"}),  # raw mapping with a plain string
        ({"tags": ["refund", "security"]}, {"faq-1", "man-1"}),  # any element matches
        ({"document_id": ["d1"], "tags": ["refund"]}, {"faq-1"}),  # AND across fields
        ({"language": ["de", "en"], "document_type": ["policy", "manual"]}, {"man-1", "pol-1"}),
        ({"language": ["fr"]}, set()),
    ],
)
def test_filters(store: LocalVectorStore, flt: dict, expected: set[str]) -> None:
    hits = store.similarity_search("policy orders password", k=10, filter=flt)
    assert {d.id for d in hits} == expected


def test_unknown_filter_field_is_rejected(store: LocalVectorStore) -> None:
    with pytest.raises(InvalidInput):
        store.similarity_search("x", filter={"colour": "red"})


def test_persistence_without_pickle(tmp_path: Path) -> None:
    path = tmp_path / "vs"
    with open_store(path) as s:
        s.add_embeddings(["a", "b"], unit(2), [{"tags": ["t"]}, {}], ids=["a", "b"])
        s.delete(["b"])
    names = sorted(p.suffix for p in path.iterdir())
    assert not any(n in {".pkl", ".pickle", ".joblib"} for n in names) and ".faiss" in names
    manifest = json.loads((path / "snapshot.json").read_text())
    np.load(path / manifest["rowids"], allow_pickle=False)
    with open_store(path) as again:
        assert again.count() == 1
        hit = again.similarity_search_by_vector_with_score(unit(2)[0], k=2, filter={"tags": "t"})
        assert [(d.id, round(s, 4)) for d, s in hit] == [("a", 1.0)]


def test_reopen_without_flush_keeps_writes_and_deletes(tmp_path: Path) -> None:
    path, vecs = tmp_path / "vs", unit(4)
    first = open_store(path)
    first.add_embeddings(list("abc"), vecs[:3], ids=list("abc"))
    first.flush()
    first.add_embeddings(["d"], vecs[3:], ids=["d"])  # after the snapshot
    first.delete(["a"])  # in the snapshot, gone from SQLite
    second = open_store(path)  # the first is never flushed again nor closed
    assert second.count() == 3
    assert second.get_by_ids(list("abcd")) == second.get_by_ids(list("bcd"))
    top = second.similarity_search_by_vector(vecs[0], k=4)
    assert "a" not in {d.id for d in top}
    assert second.similarity_search_by_vector(vecs[3], k=1)[0].id == "d"


def test_killed_process_loses_nothing(tmp_path: Path) -> None:
    script = f"""
import os, numpy as np
from tests.unit.test_local_store import open_store, unit
s = open_store({str(tmp_path / "vs")!r})
s.add_embeddings(["a", "b"], unit(3)[:2], ids=["a", "b"])
s.flush()
s.add_embeddings(["c"], unit(3)[2:], ids=["c"])
s.delete(["a"])
os._exit(0)
"""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=REPO, timeout=120)
    with open_store(tmp_path / "vs") as s:
        assert s.count() == 2 and {d.id for d in s.get_by_ids(list("abc"))} == {"b", "c"}
        assert s.similarity_search_by_vector(unit(3)[2], k=1)[0].id == "c"
        assert "a" not in {d.id for d in s.similarity_search_by_vector(unit(3)[0], k=3)}


def test_snapshot_from_another_database_is_not_resurrected(tmp_path: Path) -> None:
    path = tmp_path / "vs"
    with open_store(path) as s:
        s.add_embeddings(["a"], unit(1), ids=["a"])
    for f in path.glob("store.sqlite*"):
        f.unlink()
    with open_store(path) as s:
        assert s.count() == 0 and s.similarity_search_by_vector(unit(1)[0], k=1) == []


def test_damaged_snapshot_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "vs"
    with open_store(path) as s:
        s.add_embeddings(["a", "b"], unit(2), ids=["a", "b"])
    manifest = json.loads((path / "snapshot.json").read_text())
    (path / manifest["index"]).write_bytes(b"garbage")
    with open_store(path) as s:
        assert s.similarity_search_by_vector(unit(2)[1], k=1)[0].id == "b"


def test_hnsw_path_exact_top1_tombstones_filters(tmp_path: Path) -> None:
    path, vecs = tmp_path / "vs", unit(600, dim=32)
    ids = [f"v{i}" for i in range(600)]
    metas = [
        {"category": "even" if i % 2 == 0 else "odd", "tags": [f"t{i % 5}"]} for i in range(600)
    ]
    s = open_store(path, hnsw_threshold=300, exact_limit=50)
    s.add_embeddings(ids, vecs, metas, ids=ids)
    assert isinstance(s._index.index, faiss.IndexHNSWFlat)
    for i in range(0, 600, 37):
        (doc, score), *_ = s.similarity_search_by_vector_with_score(vecs[i], k=3)
        assert doc.id == ids[i] and score == pytest.approx(1.0, abs=1e-5)
    s.delete(ids[:100])
    for i in range(0, 100, 9):
        assert all(int(d.id[1:]) >= 100 for d in s.similarity_search_by_vector(vecs[i], k=10))
    for i in (101, 250, 599):  # filter allows ~250 > exact_limit: HNSW with a selector
        hits = s.similarity_search_by_vector(
            vecs[i], k=5, filter={"category": metas[i]["category"]}
        )
        assert hits[0].id == ids[i] and {d.metadata["category"] for d in hits} == {
            metas[i]["category"]
        }
    small = s.similarity_search_by_vector(vecs[7], k=50, filter={"tags": "t2", "category": "even"})
    assert {int(d.id[1:]) % 10 for d in small} == {2} and len(small) == 50
    s.close()
    again = open_store(path, hnsw_threshold=300, exact_limit=50)
    assert isinstance(again._index.index, faiss.IndexHNSWFlat) and again.count() == 500
    assert again.similarity_search_by_vector(vecs[450], k=1)[0].id == "v450"


def test_compaction_keeps_results(tmp_path: Path) -> None:
    s, vecs = open_store(tmp_path / "vs", compact_ratio=0.3), unit(50)
    ids = [str(i) for i in range(50)]
    s.add_embeddings(ids, vecs, ids=ids)
    s.delete(ids[:20])
    assert s._index.size == 30 and s.count() == 30  # rebuilt without the tombstones
    assert s.similarity_search_by_vector(vecs[42], k=1)[0].id == "42"
    s.add_embeddings(["42"], -vecs[42:43], ids=["42"])
    assert s.similarity_search_by_vector(-vecs[42], k=1)[0].id == "42"


def test_concurrent_writers_and_readers(tmp_path: Path) -> None:
    s, errors = open_store(tmp_path / "vs"), []

    def work(n: int) -> None:
        try:
            for j in range(20):
                s.add_embeddings([f"{n}-{j}"], unit(1, seed=n * 100 + j), ids=[f"{n}-{j}"])
                s.similarity_search_by_vector(unit(1, seed=j)[0], k=3, filter={"tags": "x"})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and s.count() == 80
