"""Text uploads in legacy encodings over the API: decoded exactly, the encoding named in the job
result and the stored document; bytes no encoding explains fail with ENCODING_ERROR.

Real nx-27017, local store, MiniLM, the ingestion worker. "Exactly" means: the stored text of a
legacy-encoded upload is the very text the same upload gives when sent as UTF-8.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from loaders.parsers import load_document
from loaders.stack import Services
from tests.auth_fixtures import make_user
from tests.kb_fixtures import counts, ingest_ok, make_services, upload, wait_job

pytestmark = pytest.mark.integration

CP1252_TEXT = "Refund “express” orders cost 5 € — that’s the café’s rule… see ‘Billing’."
LATIN1_TEXT = "Le délai de remboursement est de 30 jours. Après, crédit équivalent à l'été."
UTF16_TEXT = "Wide text: naïve façade, 東京 office, 😀 emoji and שלום."
MARKDOWN = "# Remboursements\n\n## Annuels\n\nLes “forfaits” sont remboursés sous 30 jours — 5 €.\n"
HTML = (
    '<!doctype html><html><head><meta charset="windows-1252"><title>Tarifs</title></head>'
    "<body><h1>Tarifs</h1><p>Le “plan Équipe” coûte 12 € par siège — TVA incluse.</p>"
    "</body></html>"
)


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("enc"), mongo.uri)
    yield services
    services.close()


@pytest.fixture(scope="module")
def client(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc.settings, svc), headers=make_user(svc, "admin").headers) as c:
        yield c


@pytest.mark.parametrize(
    ("name", "text", "codec", "encoding", "fragment"),
    [
        ("cp1252.txt", CP1252_TEXT, "cp1252", "cp1252", "“express” orders cost 5 €"),
        ("latin1.txt", LATIN1_TEXT, "latin-1", "cp1252", "crédit équivalent à l'été"),
        ("wide-le.txt", "\ufeff" + UTF16_TEXT, "utf-16-le", "utf-16", "東京 office, 😀"),
        ("wide-be.txt", "\ufeff" + UTF16_TEXT, "utf-16-be", "utf-16", "東京 office, 😀"),
        ("rembourse.md", MARKDOWN, "cp1252", "cp1252", "Les “forfaits” sont remboursés"),
        ("tarifs.html", HTML, "cp1252", "cp1252", "Le “plan Équipe” coûte 12 € par siège"),
        ("plain.txt", UTF16_TEXT, "utf-8", "utf-8", "naïve façade"),
    ],
)
def test_legacy_encodings_are_decoded_and_named(
    client: TestClient, name: str, text: str, codec: str, encoding: str, fragment: str
) -> None:
    job = ingest_ok(client, name, text.encode(codec))
    assert job["result"]["encoding"] == encoding
    doc = client.get(f"/api/v1/knowledge-base/documents/{job['document_id']}").json()["data"]
    assert doc["metadata"]["encoding"] == encoding
    as_utf8 = text.lstrip("\ufeff").encode("utf-8")
    if name.endswith(".html"):  # the same page declared as UTF-8
        as_utf8 = as_utf8.replace(b"windows-1252", b"utf-8")
    assert doc["content"]["processed"] == load_document(as_utf8, name).text
    assert fragment in doc["content"]["processed"]
    assert "\ufffd" not in doc["content"]["processed"]


def test_docx_has_no_text_encoding(client: TestClient, tmp_path: Any) -> None:
    from tests.files import make_docx

    body = "Guest users can be invited to at most three projects on the Team plan."
    job = ingest_ok(client, "enc.docx", make_docx(tmp_path, heading="Guests", paragraphs=(body,)))
    assert job["result"]["encoding"] is None


def test_bytes_no_encoding_explains_fail_with_a_reason(client: TestClient, svc: Services) -> None:
    before = counts(svc)
    rng = random.Random(4)
    junk = b"Price list: " + bytes(rng.randrange(0x80, 0x100) for _ in range(600))
    r = upload(client, "junk.txt", junk)
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["data"]["job_id"])
    assert job["status"] == "failed"
    error = job["result"]["errors"][0]
    assert error["code"] == "ENCODING_ERROR"
    assert "offset 12" in error["message"] and "UTF-8" in error["message"]
    binary = upload(client, "blob.txt", random.Random(2).randbytes(3000))
    assert binary.status_code == 415, binary.text
    assert binary.json()["error"]["code"] in ("UNSUPPORTED_FORMAT", "EXTENSION_MISMATCH")
    assert counts(svc) == before
