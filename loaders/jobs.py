"""Asynchronous ingestion: job state in MongoDB, uploads staged on disk, one worker thread.

A job is ``processing`` (stage parsing | chunking | embedding | indexing) until it ends
``completed`` or ``failed``. After a restart, jobs this node left unfinished are resumed from the
staged upload (indexing is idempotent, so starting over is safe) or, when the upload is gone,
ended ``failed`` with a reason: never stuck in ``processing``.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from pymongo import ReturnDocument
from pymongo.database import Database

from loaders.errors import NotFound, SupportbotError
from loaders.ingest_options import IngestOptions, IngestResult, Stage
from loaders.knowledge_base import KnowledgeBase
from loaders.records import utcnow

log = logging.getLogger(__name__)
JOBS = "ingestion_jobs"
_STOP = "__stop__"


class JobStore:
    """The ``ingestion_jobs`` collection."""

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self.col = db[JOBS]

    def create(
        self, kind: str, document_id: str, payload: dict[str, Any], node: str, estimate_s: float
    ) -> dict[str, Any]:
        now = utcnow()
        job: dict[str, Any] = {
            "job_id": str(uuid.uuid4()),
            "kind": kind,
            "document_id": document_id,
            "status": "processing",
            "node": node,
            "payload": payload,
            "progress": {
                "stage": "parsing",
                "percentage": 0,
                "chunks_processed": 0,
                "chunks_total": 0,
            },
            "result": None,
            "errors": [],
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
            "estimated_completion": now + timedelta(seconds=estimate_s),
        }
        self.col.insert_one(dict(job))
        return job

    def get(self, job_id: str) -> dict[str, Any]:
        job = self.col.find_one({"job_id": job_id}, {"_id": 0})
        if job is None:
            raise NotFound(f"No ingestion job with id '{job_id}'.", code="JOB_NOT_FOUND")
        return job

    def start(self, job_id: str) -> dict[str, Any] | None:
        return self.col.find_one_and_update(
            {"job_id": job_id, "status": "processing"},
            {"$inc": {"attempts": 1}, "$set": {"started_at": utcnow(), "updated_at": utcnow()}},
            projection={"_id": 0},
            return_document=ReturnDocument.AFTER,
        )

    def progress(self, job_id: str, stage: Stage, done: int, total: int) -> None:
        weights = {"parsing": 0, "chunking": 10, "embedding": 15, "indexing": 95}
        pct = weights[stage] + (int(80 * done / total) if stage == "embedding" and total else 0)
        self.col.update_one(
            {"job_id": job_id},
            {
                "$set": {
                    "progress": {
                        "stage": stage,
                        "percentage": pct,
                        "chunks_processed": done,
                        "chunks_total": total,
                    },
                    "updated_at": utcnow(),
                }
            },
        )

    def complete(self, job_id: str, result: IngestResult) -> None:
        n = len(result.vector_ids) or result.chunks_skipped
        self.col.update_one(
            {"job_id": job_id},
            {
                "$set": {
                    "status": "completed",
                    "progress": {
                        "stage": "indexing",
                        "percentage": 100,
                        "chunks_processed": n,
                        "chunks_total": n,
                    },
                    "result": result.as_dict(),
                    "finished_at": utcnow(),
                    "updated_at": utcnow(),
                }
            },
        )

    def fail(self, job_id: str, code: str, message: str) -> None:
        # $set of the whole list, not $push: nx-27017 stores a pushed object as a JSON string.
        self.col.update_one(
            {"job_id": job_id},
            {
                "$set": {
                    "status": "failed",
                    "errors": [{"code": code, "message": message}],
                    "finished_at": utcnow(),
                    "updated_at": utcnow(),
                }
            },
        )

    def unfinished(self, node: str) -> list[dict[str, Any]]:
        return list(
            self.col.find({"status": "processing", "node": node}, {"_id": 0}).sort("created_at", 1)
        )

    def active_for(self, document_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"document_id": document_id, "status": "processing"}, {"_id": 0})


class IngestionWorker:
    """Runs ingestion jobs one at a time in a background thread (embedding is CPU-bound)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        jobs: JobStore,
        staging_dir: Path,
        node: str | None = None,
        max_attempts: int = 3,
    ) -> None:
        self.kb = kb
        self.jobs = jobs
        self.staging = staging_dir
        self.staging.mkdir(parents=True, exist_ok=True)
        self.node = node or f"{socket.gethostname()}:{staging_dir.resolve()}"
        self.max_attempts = max_attempts
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.idle = threading.Event()
        self.idle.set()

    def submit_file(self, data: bytes, opts: IngestOptions) -> dict[str, Any]:
        """Stage the upload durably, then record and queue the job."""
        doc_id = opts.resolved_document_id
        job = self.jobs.create(
            "ingest",
            doc_id,
            {"options": asdict(opts)},
            self.node,
            estimate_s=2 + len(data) / 40_000,
        )
        path = self.staging / job["job_id"]
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        self._enqueue(job["job_id"])
        return job

    def submit_reindex(self, document_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        job = self.jobs.create("reindex", document_id, {"changes": changes}, self.node, 5)
        self._enqueue(job["job_id"])
        return job

    def _enqueue(self, job_id: str) -> None:
        self.idle.clear()
        self._queue.put(job_id)

    def start(self) -> None:
        """Recover what a previous run of this node left unfinished, then start working."""
        for job in self.jobs.unfinished(self.node):
            self._enqueue(job["job_id"])
        self._thread = threading.Thread(target=self._run, name="ingestion-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def wait_idle(self, timeout: float = 120.0) -> bool:
        return self.idle.wait(timeout)

    def _run(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id == _STOP:
                return
            try:
                self.run_job(job_id)
            except Exception:  # pragma: no cover - run_job records its own failures
                log.exception("ingestion job %s crashed", job_id)
            finally:
                if self._queue.empty():
                    self.idle.set()

    def run_job(self, job_id: str) -> None:
        """Run one job to ``completed`` or ``failed``; never leaves it ``processing``."""
        job = self.jobs.start(job_id)
        if job is None:
            return
        staged = self.staging / job_id
        try:
            if job["attempts"] > self.max_attempts:
                raise SupportbotError(
                    f"Gave up after {self.max_attempts} interrupted attempts.", code="JOB_ABANDONED"
                )
            result = self._execute(job, staged)
            self.jobs.complete(job_id, result)
        except SupportbotError as exc:
            self.jobs.fail(job_id, exc.code, exc.message)
        except Exception as exc:
            log.exception("ingestion job %s failed", job_id)
            self.jobs.fail(job_id, "INGESTION_FAILED", f"Unexpected error: {type(exc).__name__}")
        finally:
            staged.unlink(missing_ok=True)

    def _execute(self, job: dict[str, Any], staged: Path) -> IngestResult:
        started = time.monotonic()
        job_id = job["job_id"]

        def progress(stage: Stage, done: int, total: int) -> None:
            self.jobs.progress(job_id, stage, done, total)

        if job["kind"] == "reindex":
            result = self.kb.reindex(job["document_id"], job["payload"]["changes"], progress)
        else:
            if not staged.exists():
                raise SupportbotError(
                    "The uploaded file was lost when the server restarted; upload it again.",
                    code="UPLOAD_LOST",
                )
            opts = IngestOptions(**job["payload"]["options"])
            result = self.kb.ingest(staged.read_bytes(), opts, progress)
        log.info("job %s done in %.2fs", job_id, time.monotonic() - started)
        return result
