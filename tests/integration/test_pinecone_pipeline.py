"""The production path: the same ingestion pipeline and search over Pinecone (emulated REST)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loaders.ingest_options import IngestOptions
from loaders.stack import Services
from tests.emulators.pinecone import PineconeEmulator
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration


@pytest.fixture()
def emu() -> Iterator[PineconeEmulator]:
    with PineconeEmulator() as e:
        yield e


@pytest.fixture()
def svc(mongo: Any, tmp_path: Path, emu: PineconeEmulator) -> Iterator[Services]:
    host = emu.create_index("kb", dimension=384)
    services = make_services(
        tmp_path / "var",
        mongo.uri,
        vector_store="pinecone",
        pinecone_api_key="test-key",
        pinecone_host=host,
        pinecone_index_name="kb",
        pinecone_namespace="acme",
    )
    services.worker.stop()
    yield services
    services.close()


def test_ingest_update_delete_over_pinecone(svc: Services, emu: PineconeEmulator) -> None:
    text = b"# Invoices\n\nInvoices are emailed on the 1st.\n\n## VAT\n\nEU customers add a VAT ID."
    r1 = svc.kb.ingest(text, IngestOptions("invoices.md", category="billing", tags=["vat"]))
    n = len(r1.vector_ids)
    assert n >= 2 and emu.vector_count("kb", "acme") == n
    stored = emu.stored("kb", r1.vector_ids[0], "acme")
    assert stored["document_id"] == r1.document_id and stored["category"] == "billing"
    assert "content" in stored and stored["tags"] == ["vat"]

    hits = svc.searcher.search("when are invoices sent", top_k=3, filters={"tags": ["vat"]})
    assert hits and hits[0].document.metadata["document_id"] == r1.document_id
    assert not svc.searcher.search(
        "when are invoices sent", filters={"tags": ["nope"]}, mode="dense"
    )

    assert (
        svc.kb.ingest(text, IngestOptions("invoices.md", category="billing", tags=["vat"])).status
        == "unchanged"
    )
    r2 = svc.kb.ingest(
        b"# Invoices\n\nInvoices are emailed on the 3rd.",
        IngestOptions("invoices.md", category="billing"),
    )
    assert emu.vector_count("kb", "acme") == len(r2.vector_ids) == 1

    emu.clear_requests()
    deleted = svc.kb.delete(r1.document_id)
    assert deleted == {"chunks_deleted": 1, "vectors_deleted": 1}
    assert emu.vector_count("kb", "acme") == 0
    deletes = [r for r in emu.requests if r.path == "/vectors/delete"]
    assert deletes and all("filter" not in (r.body or {}) for r in deletes)
