"""The knowledge-base REST API end to end: real nx-27017, local store, keyword index, MiniLM.

Every format goes through upload -> job -> search; re-ingest, update and delete are checked by
counting vectors, keyword entries, chunk records and record-manager keys, which must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from loaders.stack import Services
from tests.auth_fixtures import make_user
from tests.files import encrypted_pdf, make_docx, make_pdf, png_bytes, zip_bomb
from tests.kb_fixtures import counts, ingest_ok, make_services, search, upload, wait_job

pytestmark = pytest.mark.integration

REFUND_MD = b"""# Refund policy

## Annual plans
Annual plans can be refunded within 30 days of purchase. After 30 days we refund the unused
months as account credit only.

## Monthly plans
Monthly plans are not refunded, but you can cancel any time from Settings > Billing.
"""

HTML = b"""<!doctype html><html><head><title>Webhook guide</title>
<style>.zzstylemarker { color: red }</style></head><body>
<h1>Webhooks</h1><p>Webhooks retry failed deliveries 5 times with exponential backoff.</p>
<script>var zzscriptmarker = "never index me";</script>
<h2>Signing</h2><p>Every webhook carries an X-Tasklane-Signature header (HMAC SHA-256).</p>
</body></html>"""


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("kb"), mongo.uri, max_upload_mb=2)
    yield services
    services.close()


@pytest.fixture(scope="module")
def client(svc: Services) -> Iterator[TestClient]:
    """An admin: knowledge-base writes and job status are admin-only."""
    headers = make_user(svc, "admin").headers
    with TestClient(create_app(svc.settings, svc), headers=headers) as c:
        yield c


def assert_consistent(svc: Services) -> dict[str, int]:
    c = counts(svc)
    assert len(set(c.values())) == 1, f"indexes disagree: {c}"
    return c


def test_markdown_ingest_search_and_envelope(client: TestClient, svc: Services) -> None:
    r = upload(
        client,
        "refund-policy.md",
        REFUND_MD,
        document_type="faq",
        category="refunds",
        tags='["billing", "refunds"]',
        metadata='{"author": "Support", "priority": "high"}',
    )
    assert r.status_code == 202
    body = r.json()
    assert body["success"] is True and body["error"] is None
    assert set(body["meta"]) == {"request_id", "timestamp", "version"}
    job = wait_job(client, body["data"]["job_id"])
    assert job["status"] == "completed"
    assert job["progress"]["percentage"] == 100
    assert job["result"]["chunks_created"] >= 2
    hits = search(client, "how long do I have to get a refund on an annual plan?", top_k=3)
    top = hits[0]
    assert top["document_id"] == body["data"]["document_id"]
    assert "30 days" in top["content"]
    assert top["document_type"] == "faq" and top["category"] == "refunds"
    assert 0 < top["relevance_score"] <= 1
    assert top["metadata"]["heading_path"].startswith("Refund policy")
    assert top["highlights"]
    assert_consistent(svc)


@pytest.mark.parametrize("fmt", ["pdf", "docx", "html", "txt"])
def test_every_format_ingests_and_is_searchable(
    fmt: str, client: TestClient, svc: Services, tmp_path: Path
) -> None:
    fact = {
        "pdf": "The Tasklane desktop app supports offline mode for 14 days.",
        "docx": "Guest users can be invited to at most 3 projects on the Team plan.",
        "html": "",
        "txt": "Exported CSV files use semicolons when the workspace locale is German.",
    }[fmt]
    data = {
        "pdf": lambda: make_pdf(tmp_path, ["Manual intro page.", fact]),
        "docx": lambda: make_docx(tmp_path, heading="Guest access", paragraphs=(fact,)),
        "html": lambda: HTML,
        "txt": lambda: fact.encode(),
    }[fmt]()
    job = ingest_ok(client, f"doc-{fmt}.{fmt}", data, document_type="module")
    query = {
        "pdf": "offline mode desktop",
        "docx": "how many projects can a guest join",
        "html": "webhook retries",
        "txt": "CSV semicolons German",
    }[fmt]
    hits = search(client, query, filters={"document_id": [job["document_id"]]})
    assert hits, f"{fmt} content not found"
    if fmt == "pdf":
        assert any(h["metadata"].get("page_number") == 2 for h in hits)
    if fmt == "html":
        for marker in ("zzscriptmarker", "zzstylemarker"):
            assert not search(client, marker, search_mode="keyword"), f"{marker} was indexed"
            assert all(marker not in h["content"] for h in search(client, marker, top_k=50))
    assert_consistent(svc)


def test_reingest_unchanged_is_noop_update_replaces_delete_removes(
    client: TestClient, svc: Services
) -> None:
    v1 = (
        b"# Seats\n\nAdding a seat is prorated to the day.\n\n"
        b"## Removing\n\nRemoved seats are credited."
    )
    first = ingest_ok(client, "seats.md", v1)
    before = assert_consistent(svc)
    doc_id = first["document_id"]
    again = ingest_ok(client, "seats.md", v1)
    assert again["document_id"] == doc_id
    assert again["result"]["unchanged"] is True
    assert assert_consistent(svc) == before

    v2 = b"# Seats\n\nAdding a seat is billed in full for the current month.\n"
    ingest_ok(client, "seats.md", v2)
    after = assert_consistent(svc)
    own = svc.kb.record_manager.keys_for(doc_id)
    assert len(own) == svc.kb.records.count_chunks(doc_id) == 1
    assert after["vectors"] == before["vectors"] - 1
    hits = search(client, "is a new seat prorated", filters={"document_id": [doc_id]})
    assert all("prorated" not in h["content"] for h in hits)

    r = client.delete(f"/api/v1/knowledge-base/documents/{doc_id}")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["vectors_deleted"] == 1
    assert r.json()["data"]["chunks_deleted"] == 1
    assert assert_consistent(svc)["vectors"] == after["vectors"] - 1
    assert client.get(f"/api/v1/knowledge-base/documents/{doc_id}").status_code == 404
    assert client.delete(f"/api/v1/knowledge-base/documents/{doc_id}").status_code == 404


def test_put_metadata_reindexes_so_filters_follow(client: TestClient, svc: Services) -> None:
    job = ingest_ok(
        client,
        "sso.md",
        b"# SSO\n\nSAML single sign-on is on the Business plan.",
        category="accounts",
    )
    doc_id = job["document_id"]
    r = client.put(
        f"/api/v1/knowledge-base/documents/{doc_id}", json={"category": "security", "tags": ["sso"]}
    )
    assert r.status_code == 200, r.text
    done = wait_job(client, r.json()["data"]["reindexing_job_id"])
    assert done["status"] == "completed", done
    assert search(client, "SAML single sign-on", filters={"category": ["security"]})
    assert not search(client, "SAML single sign-on", filters={"category": ["accounts"]})
    doc = client.get(f"/api/v1/knowledge-base/documents/{doc_id}").json()["data"]
    assert doc["category"] == "security" and doc["tags"] == ["sso"]
    r = client.put(
        f"/api/v1/knowledge-base/documents/{doc_id}",
        json={"content": "# SSO\n\nSCIM provisioning syncs users every 40 minutes."},
    )
    wait_job(client, r.json()["data"]["reindexing_job_id"])
    hits = search(client, "SCIM provisioning", filters={"document_id": [doc_id]})
    assert hits and "40 minutes" in hits[0]["content"]
    assert_consistent(svc)


def test_list_and_get_documents(client: TestClient) -> None:
    ingest_ok(
        client,
        "listed.md",
        b"# Listed\n\nA document that shows up in listings.",
        document_type="sop",
    )
    r = client.get("/api/v1/knowledge-base/documents", params={"document_type": "sop"})
    docs = r.json()["data"]["documents"]
    assert any(d["source"]["file_name"] == "listed.md" for d in docs)
    assert all(d["document_type"] == "sop" for d in docs)


# ---- bad input: clear 4xx, nothing half-indexed, the server keeps serving ----


def _rejects(client: TestClient, svc: Services, resp: Any, status: int, code: str) -> None:
    before = counts(svc)
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is False and body["error"]["code"] == code
    assert body["error"]["message"]
    assert counts(svc) == before
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("image.png", png_bytes(), 415, "UNSUPPORTED_FORMAT"),
        ("notes.md", png_bytes(), 415, "EXTENSION_MISMATCH"),
        ("empty.txt", b"", 422, "EMPTY_FILE"),
        ("../../etc/passwd.md", b"# hi\n\ntext", 422, "INVALID_FILENAME"),
    ],
)
def test_bad_uploads_rejected_up_front(
    client: TestClient, svc: Services, name: str, data: bytes, status: int, code: str
) -> None:
    _rejects(client, svc, upload(client, name, data), status, code)


def test_oversized_upload_is_413(client: TestClient, svc: Services) -> None:
    big = b"a" * (svc.settings.max_upload_bytes + 128 * 1024)
    _rejects(client, svc, upload(client, "big.txt", big), 413, "FILE_TOO_LARGE")


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"chunk_size": "600"}, "CHUNK_SIZE_OUT_OF_RANGE"),
        ({"chunk_size": "100", "chunk_overlap": "90"}, "CHUNK_OVERLAP_OUT_OF_RANGE"),
        ({"chunking_strategy": "magic"}, "UNKNOWN_CHUNKING_STRATEGY"),
        ({"document_type": "blog"}, "INVALID_DOCUMENT_TYPE"),
        ({"metadata": "{not json"}, "INVALID_METADATA"),
    ],
)
def test_bad_ingest_options(
    client: TestClient, svc: Services, form: dict[str, str], code: str
) -> None:
    _rejects(client, svc, upload(client, "ok.md", b"# ok\n\nfine text here", **form), 422, code)


def test_bad_files_end_as_failed_jobs_with_reasons(
    client: TestClient, svc: Services, tmp_path: Path
) -> None:
    cases = {
        "corrupt.pdf": (b"%PDF-1.7\n" + b"\x00garbage" * 50, "CORRUPT_FILE"),
        "locked.pdf": (encrypted_pdf(tmp_path, "secret"), "ENCRYPTED_PDF"),
        "bomb.docx": (zip_bomb(), "ZIP_BOMB"),
        "garbled.txt": (b"Price: " + bytes(range(0x80, 0x100)) * 3, "ENCODING_ERROR"),
    }
    before = counts(svc)
    for name, (data, code) in cases.items():
        r = upload(client, name, data)
        if r.status_code != 202:
            assert r.json()["error"]["code"] == code, (name, r.text)
            continue
        job = wait_job(client, r.json()["data"]["job_id"])
        assert job["status"] == "failed", (name, job)
        assert job["result"]["errors"][0]["code"] == code
        assert job["result"]["errors"][0]["message"]
    assert counts(svc) == before
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": ""}, "EMPTY_QUERY"),
        ({"query": "   "}, "EMPTY_QUERY"),
        ({"query": "x" * 5000}, "QUERY_TOO_LONG"),
        ({"query": "refund", "top_k": 0}, "TOP_K_OUT_OF_RANGE"),
        ({"query": "refund", "top_k": 1000}, "TOP_K_OUT_OF_RANGE"),
        ({"query": "refund", "min_relevance_score": 2}, "MIN_RELEVANCE_OUT_OF_RANGE"),
        ({"query": "refund", "filters": {"colour": ["red"]}}, "INVALID_FILTER"),
        ({"top_k": 3}, "VALIDATION_ERROR"),
    ],
)
def test_bad_search_requests(client: TestClient, body: dict[str, Any], code: str) -> None:
    r = client.post("/api/v1/knowledge-base/search", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code


def test_min_relevance_filters_weak_hits(client: TestClient) -> None:
    ingest_ok(client, "relevance.md", b"# Mobile\n\nThe iOS app needs iOS 16 or later.")
    loose = search(client, "which iOS version do I need", min_relevance_score=0.0, top_k=10)
    strict = search(client, "which iOS version do I need", min_relevance_score=0.99, top_k=10)
    assert loose and not strict
    assert all(
        h["relevance_score"] >= 0.3
        for h in search(client, "which iOS version do I need", min_relevance_score=0.3, top_k=10)
    )


def test_unknown_job_and_document_are_404(client: TestClient) -> None:
    r = client.get("/api/v1/knowledge-base/documents/ingest/nope/status")
    assert r.status_code == 404 and r.json()["error"]["code"] == "JOB_NOT_FOUND"
    r = client.get("/api/v1/knowledge-base/documents/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and r.json()["error"]["code"] == "DOCUMENT_NOT_FOUND"


def test_chunked_upload_over_limit_is_cut_off(client: TestClient, svc: Services) -> None:
    """No Content-Length (chunked transfer): the body is refused once it passes the limit."""
    limit = svc.settings.max_upload_bytes
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        boundary = b"--XyZ\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'
        while sent < limit * 3:
            sent += 64 * 1024
            yield b"a" * 64 * 1024
        yield b"\r\n--XyZ--\r\n"

    before = counts(svc)
    r = client.post(
        "/api/v1/knowledge-base/documents/ingest",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=XyZ"},
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "FILE_TOO_LARGE"
    assert counts(svc) == before


def test_embeddings_generate_and_models(client: TestClient) -> None:
    r = client.post("/api/v1/embeddings/generate", json={"texts": ["reset my password", "hi"]})
    assert r.status_code == 200, r.text
    out = r.json()["data"]["embeddings"]
    assert [e["dimension"] for e in out] == [384, 384]
    assert abs(sum(x * x for x in out[0]["vector"]) - 1.0) < 1e-3
    assert out[0]["model"] == "huggingface/all-MiniLM-L6-v2"
    assert out[0]["vector"] != out[1]["vector"]
    models = client.get("/api/v1/embeddings/models").json()["data"]["models"]
    active = [m for m in models if m.get("active")]
    assert len(active) == 1 and active[0]["dimension"] == 384
    assert {"model_id", "provider", "dimension", "max_sequence_length", "cost"} <= set(models[0])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"texts": []}, "EMPTY_TEXTS"),
        ({"texts": [" "]}, "EMPTY_TEXT"),
        ({"texts": ["x" * 9000]}, "TEXT_TOO_LONG"),
        ({"texts": ["a"] * 300}, "TOO_MANY_TEXTS"),
        ({"texts": ["a"], "model": "text-embedding-ada-002"}, "MODEL_NOT_AVAILABLE"),
        ({"texts": ["a"], "batch_size": 0}, "BATCH_SIZE_OUT_OF_RANGE"),
    ],
)
def test_embeddings_bad_input(client: TestClient, body: dict[str, Any], code: str) -> None:
    r = client.post("/api/v1/embeddings/generate", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
