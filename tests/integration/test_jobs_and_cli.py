"""Ingestion jobs survive restarts; the ``supportbot ingest`` CLI ingests files and folders."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli import main as cli_main
from loaders.ingest_options import IngestOptions
from loaders.jobs import IngestionWorker
from loaders.sample import SAMPLE_KB_DIR, read_manifest
from loaders.stack import Services
from tests.kb_fixtures import counts, make_services

pytestmark = pytest.mark.integration


@pytest.fixture()
def svc(mongo: Any, tmp_path: Path) -> Iterator[Services]:
    services = make_services(tmp_path / "var", mongo.uri)
    services.worker.stop()
    yield services
    services.close()


def _wait(svc: Services, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = svc.jobs.get(job_id)
        if job["status"] != "processing":
            return job
        time.sleep(0.05)
    raise AssertionError("job stuck in processing")


def test_interrupted_jobs_resume_or_fail_after_restart(svc: Services) -> None:
    # A "previous run" queued three jobs and died before working on them.
    old = IngestionWorker(svc.kb, svc.jobs, svc.worker.staging, node=svc.worker.node)
    good = old.submit_file(b"# Resume\n\nJobs resume after a restart.", IngestOptions("r.md"))
    lost = old.submit_file(b"# Lost\n\nThis upload vanished.", IngestOptions("lost.md"))
    (old.staging / lost["job_id"]).unlink()
    mid = old.submit_file(
        b"# Mid\n\nThis job was half done when the server died.", IngestOptions("mid.md")
    )
    svc.jobs.start(mid["job_id"])  # it was running when the process died
    for job in (good, lost, mid):
        assert svc.jobs.get(job["job_id"])["status"] == "processing"

    restarted = IngestionWorker(svc.kb, svc.jobs, svc.worker.staging, node=svc.worker.node)
    restarted.start()
    try:
        assert _wait(svc, good["job_id"])["status"] == "completed", svc.jobs.get(good["job_id"])
        assert _wait(svc, mid["job_id"])["status"] == "completed", svc.jobs.get(mid["job_id"])
        failed = _wait(svc, lost["job_id"])
        assert failed["status"] == "failed"
        assert failed["errors"][0]["code"] == "UPLOAD_LOST"
    finally:
        restarted.stop()
    assert not list(svc.worker.staging.iterdir()), "staged uploads left behind"
    c = counts(svc)
    assert c["vectors"] == c["chunk_records"] == c["keyword"] == 2


def test_job_interrupted_too_often_is_abandoned(svc: Services) -> None:
    w = IngestionWorker(svc.kb, svc.jobs, svc.worker.staging, node=svc.worker.node, max_attempts=1)
    job = w.submit_file(
        b"# Crashy\n\nThis job crashed the server twice.", IngestOptions("crashy.md")
    )
    svc.jobs.start(job["job_id"])  # attempt 1 died
    w.run_job(job["job_id"])  # attempt 2 exceeds max_attempts
    done = svc.jobs.get(job["job_id"])
    assert done["status"] == "failed" and done["errors"][0]["code"] == "JOB_ABANDONED"


def test_failed_update_rolls_back_to_previous_version(svc: Services) -> None:
    result = svc.kb.ingest(b"# Rollback\n\nVersion one stays searchable.", IngestOptions("rb.md"))
    before = counts(svc)
    previous = [d.page_content for d in svc.kb.records.chunk_documents(result.document_id)]
    original = svc.kb.store.add_documents

    def add_then_fail(documents: list[Any], **kw: Any) -> list[str]:
        original(documents, **kw)  # the new vectors land, then the process "fails"
        raise RuntimeError("disk full")

    svc.kb.store.add_documents = add_then_fail  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError):
            svc.kb.ingest(
                b"# Rollback\n\nVersion two never lands.\n\n## More\n\nExtra text.",
                IngestOptions("rb.md"),
            )
    finally:
        del svc.kb.store.add_documents
    assert counts(svc) == before
    chunks = svc.kb.records.chunk_documents(result.document_id)
    assert [d.page_content for d in chunks] == previous
    hits = svc.searcher.search("Version two never lands", top_k=10)
    assert not any("two" in h.document.page_content for h in hits)


def test_cli_ingests_folder_with_manifest_then_skips_unchanged(
    mongo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "cli-var"))
    monkeypatch.setenv("MONGODB_URI", mongo.uri)
    monkeypatch.setenv("MONGODB_NAME", f"cli_{tmp_path.name[-8:]}")
    monkeypatch.setenv("INGEST_SAMPLE_KB", "false")
    from loaders.settings import get_settings

    get_settings.cache_clear()
    try:
        assert cli_main(["ingest", "-q", str(SAMPLE_KB_DIR)]) == 0
        out = capsys.readouterr().out
        n = len(read_manifest(SAMPLE_KB_DIR))
        assert f"Ingested {n} document(s)" in out
        assert "0 failed" in out
        assert cli_main(["ingest", "-q", str(SAMPLE_KB_DIR)]) == 0
        assert f"{n} unchanged" in capsys.readouterr().out

        bad = tmp_path / "bad.md"
        bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
        assert cli_main(["ingest", "-q", "--type", "faq", str(bad)]) == 1
        out = capsys.readouterr().out
        assert "FAILED" in out and "EXTENSION_MISMATCH" in out
    finally:
        get_settings.cache_clear()
