"""KeywordIndex: BM25 ranking, stemming, filters in SQL, safe query parsing, upsert, delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loaders.keyword_index import KeywordIndex, match_expression, query_terms

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
def test_filters_apply_in_sql(index: KeywordIndex, flt: dict, expected: set[str]) -> None:
    query = "refund order password account café shipping"
    assert set(ids_of(index.search(query, k=10, flt=flt))) == expected


def test_filter_is_applied_before_the_limit(tmp_path: Path) -> None:
    kw = KeywordIndex(tmp_path / "k.sqlite")
    ids = [f"n{i}" for i in range(30)] + ["rare"]
    metas = [{"category": "noise"}] * 30 + [{"category": "wanted"}]
    kw.add(ids, ["refund refund refund"] * 30 + ["a refund mention among other words"], metas)
    assert ids_of(kw.search("refund", k=1, flt={"category": ["wanted"]})) == ["rare"]


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
    assert terms == ["get", "refunds", "near"] and query_terms("what is it") == []
    assert match_expression(terms) == '"get" OR "refunds" OR "near"'


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


def test_postings_budget_drops_the_most_common_terms(tmp_path: Path) -> None:
    ids = [f"c{i}" for i in range(10)]
    texts = ["common words here"] * 9 + ["common and rare words"]
    exact, pruned = (
        KeywordIndex(tmp_path / "a.sqlite"),
        KeywordIndex(tmp_path / "b.sqlite", max_postings=5),
    )
    for kw in (exact, pruned):
        kw.add(ids, texts, [{}] * 10)
    assert len(exact.search("rare common", k=20)) == 10
    assert ids_of(pruned.search("rare common", k=20)) == ["c9"]  # "common" is over budget
    assert len(pruned.search("common", k=20)) == 10  # the rarest term is always kept
