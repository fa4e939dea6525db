"""KeywordIndex: exact BM25, stemming, filters before top-k, safe queries, upsert, delete."""

from __future__ import annotations

import math
import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from loaders.bm25 import STOP_WORDS, stem, words
from loaders.filters import matches
from loaders.keyword_index import KeywordIndex, query_terms

DOCS = {
    "refund": ("How to request a refund for a damaged order", {"document_type": "faq",
               "category": "billing", "tags": ["refund", "orders"], "document_id": "d1",
               "language": "en"}),
    "ship": ("Shipping takes five days; refunds are not possible for shipping fees",
             {"document_type": "faq", "category": "shipping", "tags": ["orders"],
              "document_id": "d1", "language": "en"}),
    "pass": ("Reset your password from the account page", {"document_type": "manual",
             "category": "account", "tags": ["security"], "document_id": "d2", "language": "en"}),
    "cafe": ("Le café rembourse les commandes", {"document_type": "policy", "category": "legal",
             "document_id": "d3", "language": "fr"}),
}  # fmt: skip


@pytest.fixture()
def index(tmp_path: Path) -> Iterator[KeywordIndex]:
    kw = KeywordIndex(tmp_path / "var" / "keyword.sqlite")
    ids = list(DOCS)
    kw.add(ids, [DOCS[i][0] for i in ids], [DOCS[i][1] for i in ids])
    yield kw
    kw.close()


def ids_of(hits: list) -> list[str]:
    return [d.id for d, _ in hits]


def test_stemming_ranking_and_positive_scores(index: KeywordIndex) -> None:
    hits = index.search("refunds for damaged orders", k=5)
    assert ids_of(hits)[:2] == ["refund", "ship"]  # "refunds" matches "refund" by stem
    scores = [s for _, s in hits]
    assert all(s > 0 for s in scores) and scores == sorted(scores, reverse=True)
    doc = hits[0][0]
    assert doc.page_content == DOCS["refund"][0] and doc.metadata["tags"] == ["refund", "orders"]


def test_diacritics_fold(index: KeywordIndex) -> None:
    assert ids_of(index.search("cafe", k=3)) == ["cafe"]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"document_type": ["manual"]}, {"pass"}),
        ({"category": ["billing", "shipping"]}, {"refund", "ship"}),  # OR within a field
        ({"tags": ["security", "refund"]}, {"refund", "pass"}),  # any element of a list
        ({"document_id": ["d1"], "tags": ["refund"]}, {"refund"}),  # AND across fields
        ({"language": ["fr"]}, {"cafe"}),
        ({"language": ["de"]}, set()),
    ],
)
def test_filters(index: KeywordIndex, flt: dict, expected: set[str]) -> None:
    query = "refund order password account café shipping"
    assert set(ids_of(index.search(query, k=10, flt=flt))) == expected


def test_filter_is_applied_before_the_limit(tmp_path: Path) -> None:
    kw = KeywordIndex(tmp_path / "k.sqlite")
    ids = [f"n{i}" for i in range(30)] + ["rare"]
    metas = [{"category": "noise"}] * 30 + [{"category": "wanted"}]
    kw.add(ids, ["refund refund refund"] * 30 + ["a refund mention among other words"], metas)
    assert ids_of(kw.search("refund", k=1, flt={"category": ["wanted"]})) == ["rare"]


def test_ties_go_to_the_older_chunk(tmp_path: Path) -> None:
    kw = KeywordIndex(tmp_path / "k.sqlite")
    ids = [f"n{i}" for i in range(10)]
    kw.add(ids, ["same refund words"] * 10, [{}] * 10)
    assert ids_of(kw.search("refund", k=3)) == ["n0", "n1", "n2"]
    kw.add(["n0"], ["same refund words"], [{}])  # an upsert makes n0 the newest
    assert ids_of(kw.search("refund", k=3)) == ["n1", "n2", "n3"]
    kw.close()


@pytest.mark.parametrize(
    "query",
    ['"', 'refund"', "NEAR(refund order", "a OR", "refund*", "-refund", "col:val", "text:refund",
     "(refund", "AND OR NOT", "^refund", "refund + order {x}", "' OR 1=1; --", "\x00"],
)  # fmt: skip
def test_fts_syntax_in_queries_is_inert(index: KeywordIndex, query: str) -> None:
    hits = index.search(query, k=5)
    assert all(d.id in DOCS for d, _ in hits)
    if "refund" in query:
        assert "refund" in ids_of(hits)


def test_query_cleaning() -> None:
    terms = query_terms('How do I get "refunds" NEAR(me)? get')
    assert terms == ["get", "refund", "near"] and query_terms("what is it") == []
    assert query_terms("Billing_billed BILLS, café!") == ["bill", "cafe"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [("refunds", "refund"), ("refunding", "refund"), ("billing", "bill"), ("billed", "bill"),
     ("caresses", "caress"), ("ponies", "poni"), ("agreed", "agre"), ("hopping", "hop"),
     ("falling", "fall"), ("filing", "file"), ("sized", "size"), ("cancelled", "cancel"),
     ("damaged", "damag"), ("damage", "damag"), ("happy", "happi"), ("sky", "sky"),
     ("payment", "payment"), ("東京", "東京"), ("404", "404")],
)  # fmt: skip
def test_light_porter_stemmer(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_empty_queries_return_nothing(index: KeywordIndex) -> None:
    assert index.search("", k=5) == [] and index.search("what is the", k=5) == []
    assert index.search("refund", k=0) == []


def test_upsert_replaces_text_and_filters(index: KeywordIndex) -> None:
    index.add(["refund"], ["Gift cards never expire"], [{"tags": ["gifts"]}])
    assert index.count() == 4
    assert "refund" not in ids_of(index.search("damaged", k=5))
    assert ids_of(index.search("gift card", k=5)) == ["refund"]
    assert index.search("gift", k=5, flt={"tags": ["refund"]}) == []
    assert ids_of(index.search("gift", k=5, flt={"tags": ["gifts"]})) == ["refund"]


def test_delete_and_get(index: KeywordIndex) -> None:
    assert index.delete(["pass", "missing"]) == 1
    assert index.search("password", k=5) == [] and index.count() == 3
    assert index.search("account", k=5, flt={"category": ["account"]}) == []
    docs = index.get(["ship", "pass", "refund"])
    assert [d.id for d in docs] == ["ship", "refund"] and docs[1].metadata["category"] == "billing"


def test_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "k.sqlite"
    first = KeywordIndex(path)
    first.add(["a"], ["persistent refund text"], [{"language": "en"}])
    first.close()
    again = KeywordIndex(path)
    assert ids_of(again.search("refunding", k=3, flt={"language": ["en"]})) == ["a"]
    again.close()


def reference_bm25(docs: dict[str, tuple[str, dict]], query: str) -> dict[str, float]:
    """Brute-force Lucene BM25 (k1=1.2, b=0.75) over the same tokenizer, in float64."""
    bags = {
        c: Counter(stem(w) for w in words(t) if w not in STOP_WORDS) for c, (t, _) in docs.items()
    }
    n, avgdl = len(bags), sum(sum(b.values()) for b in bags.values()) / len(bags)
    scores: dict[str, float] = {}
    for term in query_terms(query):
        df = sum(term in b for b in bags.values())
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for cid, bag in bags.items():
            if tf := bag[term]:
                norm = 1.2 * (1 - 0.75 + 0.75 * sum(bag.values()) / avgdl)
                scores[cid] = scores.get(cid, 0.0) + idf * tf * 2.2 / (tf + norm)
    return scores


def assert_exact_top_k(hits: list, ref: dict[str, float], k: int) -> None:
    """Hits are a best-first top ``k`` of ``ref`` with its scores (ties in any order)."""
    assert len(hits) == min(k, len(ref))
    for doc, score in hits:
        assert score == pytest.approx(ref[doc.id], rel=1e-5)
    got = [s for _, s in hits]
    assert got == sorted(got, reverse=True)
    left_out = [s for cid, s in ref.items() if cid not in set(ids_of(hits))]
    assert not hits or max(left_out, default=0.0) <= got[-1] * (1 + 1e-5)


WORDS = ["refund", "refunds", "refunded", "billing", "billed", "invoice", "invoices", "order",
         "ordering", "shipping", "password", "account", "café", "cafe", "the", "a", "of", "card",
         "gift", "expire", "expired", "damage", "damaged", "seat", "plan", "upgrade"]  # fmt: skip


def random_docs(rng: random.Random, count: int, start: int = 0) -> dict[str, tuple[str, dict]]:
    return {
        f"c{start + i}": (
            " ".join(rng.choices(WORDS, k=rng.randint(1, 40))),
            {
                "category": rng.choice(["billing", "shipping", "account"]),
                "tags": [rng.choice("xyz")],
            },
        )
        for i in range(count)
    }


def test_scores_equal_brute_force_bm25_through_upserts_deletes_and_compaction(
    tmp_path: Path,
) -> None:
    rng = random.Random(5)
    kw = KeywordIndex(tmp_path / "k.sqlite")
    docs: dict[str, tuple[str, dict]] = {}
    for round_ in range(6):
        batch = random_docs(rng, 60, start=40 * round_)  # overlaps: upserts of earlier ids
        kw.add(list(batch), [t for t, _ in batch.values()], [m for _, m in batch.values()])
        docs |= batch
        gone = rng.sample(sorted(docs), 25)  # enough dead slots to trigger compaction
        assert kw.delete(gone) == 25
        docs = {c: v for c, v in docs.items() if c not in gone}
        assert kw.count() == len(docs)
        for query in ["refunds for the damaged order", "billing invoice plan", "cafe gift"]:
            assert_exact_top_k(kw.search(query, 7), reference_bm25(docs, query), 7)
            flt = {"category": ["billing"], "tags": ["x", "y"]}
            allowed = {c: v for c, v in docs.items() if matches(v[1], flt)}
            ref = {c: s for c, s in reference_bm25(docs, query).items() if c in allowed}
            assert_exact_top_k(kw.search(query, 5, flt), ref, 5)
    kw.close()
    again = KeywordIndex(tmp_path / "k.sqlite")  # rebuilt from SQLite: same ranking
    assert_exact_top_k(again.search("expired card", 10), reference_bm25(docs, "expired card"), 10)
    again.close()


def test_opens_a_file_written_by_the_fts5_version(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE docs (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                           text TEXT NOT NULL, metadata TEXT NOT NULL);
        CREATE TABLE doc_values (field TEXT, value TEXT, doc INTEGER);
        CREATE VIRTUAL TABLE fts USING fts5 (text, content = 'docs', content_rowid = 'rowid');
        CREATE TRIGGER docs_insert AFTER INSERT ON docs BEGIN
            INSERT INTO fts (rowid, text) VALUES (new.rowid, new.text);
        END;
        INSERT INTO docs (id, text, metadata) VALUES ('old', 'legacy refund text', '{}');
    """)
    db.commit()
    db.close()
    kw = KeywordIndex(path)
    kw.add(["new"], ["fresh refund"], [{}])
    assert set(ids_of(kw.search("refund", 5))) == {"old", "new"}
    tables = {r[0] for r in kw._db.execute("SELECT name FROM sqlite_master")}
    assert "fts" not in tables and "docs_insert" not in tables
    kw.close()


def test_concurrent_writes_and_searches(tmp_path: Path) -> None:
    kw = KeywordIndex(tmp_path / "k.sqlite")
    errors: list[BaseException] = []

    def write() -> None:
        for i in range(20):
            ids = [f"w{i}-{j}" for j in range(10)]
            kw.add(ids, ["refund policy text"] * 10, [{"category": "billing"}] * 10)
            kw.delete(ids[:3])

    def read() -> None:
        try:
            for _ in range(200):
                for doc, score in kw.search("refund", 5, {"category": ["billing"]}):
                    assert doc.page_content == "refund policy text" and score > 0
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and kw.count() == 20 * 7
    kw.close()
