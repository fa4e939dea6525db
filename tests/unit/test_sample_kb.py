"""The bundled Tasklane knowledge base and the labelled eval sets that point into it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import docx2txt
import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from loaders.ingest_options import DOCUMENT_TYPES, PRIORITIES
from loaders.sample import SAMPLE_KB_DIR as KB_DIR
from loaders.sample import read_manifest, sample_items

DATASETS = Path(__file__).resolve().parents[2] / "evals" / "datasets"
CATEGORIES = {
    "account_management", "billing", "refunds", "integrations",
    "troubleshooting", "security", "support_operations",
}  # fmt: skip
KB_SUFFIXES = {".md", ".txt", ".html", ".pdf", ".docx"}
REQUIRED_KEYS = {
    "file", "title", "document_type", "category", "tags", "author",
    "version", "language", "priority", "description",
}  # fmt: skip


def extract_text(path: Path) -> str:
    """Plain text of a KB file, the way an ingestion parser should see it."""
    if path.suffix == ".pdf":
        return "\n".join(page.extract_text() for page in PdfReader(path).pages)
    if path.suffix == ".docx":
        return str(docx2txt.process(str(path)))
    if path.suffix == ".html":
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for tag in soup(["script", "style"]):
            tag.decompose()
        return soup.get_text(" ")
    return path.read_text(encoding="utf-8")


def read_jsonl(name: str) -> list[dict[str, Any]]:
    lines = (DATASETS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def manifest() -> list[dict[str, Any]]:
    entries = json.loads((KB_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert isinstance(entries, list)
    return entries


@pytest.fixture(scope="module")
def manifest_files(manifest: list[dict[str, Any]]) -> set[str]:
    return {entry["file"] for entry in manifest}


def test_manifest_lists_exactly_the_kb_files(manifest: list[dict[str, Any]]) -> None:
    files = [entry["file"] for entry in manifest]
    assert len(files) == len(set(files)), "duplicate manifest entries"
    assert all((KB_DIR / name).is_file() for name in files)
    on_disk = {p.name for p in KB_DIR.iterdir() if p.suffix in KB_SUFFIXES}
    assert on_disk - {"README.md"} == set(files), "KB file missing from manifest (or vice versa)"
    assert not any(name.startswith("_") or "/" in name for name in files)
    assert list(read_manifest(KB_DIR)) == files


def test_manifest_entries_are_valid(manifest: list[dict[str, Any]]) -> None:
    assert 15 <= len(manifest) <= 30
    for entry in manifest:
        assert set(entry) == REQUIRED_KEYS, entry["file"]
        assert entry["document_type"] in DOCUMENT_TYPES
        assert entry["category"] in CATEGORIES
        assert entry["priority"] in PRIORITIES
        assert entry["language"] == "en" and entry["version"] == "1.0"
        assert entry["title"].strip() and entry["description"].strip() and entry["author"].strip()
        assert entry["tags"] and all(isinstance(t, str) and t for t in entry["tags"])
    types = Counter(entry["document_type"] for entry in manifest)
    assert all(types[t] >= 3 for t in DOCUMENT_TYPES), types
    assert len({entry["category"] for entry in manifest}) >= 6


def test_manifest_entries_pass_ingest_validation(manifest: list[dict[str, Any]]) -> None:
    items = list(sample_items())
    assert [options.filename for _, options in items] == [e["file"] for e in manifest]
    for (data, options), entry in zip(items, manifest, strict=True):
        assert data and options.title == entry["title"] and options.tags == entry["tags"]
        assert (options.document_type, options.category) == (
            entry["document_type"],
            entry["category"],
        )


def test_every_format_is_present(manifest_files: set[str]) -> None:
    formats = Counter(Path(name).suffix for name in manifest_files)
    assert formats[".md"] == max(formats.values())
    for suffix in (".txt", ".html", ".pdf", ".docx"):
        assert formats[suffix] >= 3, (suffix, formats)


def test_documents_have_text_of_reasonable_length(manifest_files: set[str]) -> None:
    for name in sorted(manifest_files):
        words = len(extract_text(KB_DIR / name).split())
        assert 200 <= words <= 1200, (name, words)


def test_pdfs_have_extractable_text_and_a_title(manifest_files: set[str]) -> None:
    pdfs = sorted(KB_DIR / n for n in manifest_files if n.endswith(".pdf"))
    page_counts = []
    for path in pdfs:
        reader = PdfReader(path)
        page_counts.append(len(reader.pages))
        assert reader.metadata is not None and reader.metadata.title, path.name
        assert "Tasklane" in extract_text(path), path.name
        assert path.stat().st_size < 60_000
    assert max(page_counts) > 1, "at least one PDF must be multi-page"


def test_docx_have_extractable_text(manifest_files: set[str]) -> None:
    for name in sorted(n for n in manifest_files if n.endswith(".docx")):
        path = KB_DIR / name
        text = extract_text(path)
        assert len(text.split()) >= 200 and "Tasklane" in text, name
        assert path.stat().st_size < 60_000


def test_html_has_structure_and_script_content_to_exclude(manifest_files: set[str]) -> None:
    html_files = sorted(KB_DIR / n for n in manifest_files if n.endswith(".html"))
    with_script = 0
    for path in html_files:
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        assert soup.find("h1") and soup.find("h2"), path.name
        script, style = soup.find("script"), soup.find("style")
        if script is not None and style is not None:
            with_script += 1
            assert "zzscriptmarker" in script.get_text()
            assert "zzstylemarker" in style.get_text()
        visible = extract_text(path)
        assert "zzscriptmarker" not in visible and "zzstylemarker" not in visible
    assert with_script >= 1


def test_committed_pdf_and_docx_match_their_sources(tmp_path: Path) -> None:
    pytest.importorskip("reportlab")
    pytest.importorskip("docx")
    from loaders.sample_kb._generate import generate

    written = generate(tmp_path)
    assert {p.suffix for p in written} == {".pdf", ".docx"}
    for fresh in written:
        committed = KB_DIR / fresh.name
        assert extract_text(fresh) == extract_text(committed), f"regenerate {fresh.name}"


def test_retrieval_set_points_into_the_manifest(manifest_files: set[str]) -> None:
    items = read_jsonl("retrieval.jsonl")
    assert len(items) >= 40
    assert len({item["id"] for item in items}) == len(items)
    for item in items:
        assert set(item) == {"id", "question", "expected_sources", "tags"}, item["id"]
        assert item["question"].strip() and item["tags"]
        assert item["expected_sources"], item["id"]
        assert set(item["expected_sources"]) <= manifest_files, item["id"]
    assert sum("multi-doc" in item["tags"] for item in items) >= 3


def test_qa_set_is_consistent(manifest_files: set[str]) -> None:
    items = read_jsonl("kb_qa.jsonl")
    assert len(items) >= 60
    assert len({item["id"] for item in items}) == len(items)
    for item in items:
        assert isinstance(item["answerable"], bool) and item["reference_answer"].strip()
        question = item["question"]
        turns = [question] if isinstance(question, str) else question
        assert 1 <= len(turns) <= 10 and all(isinstance(t, str) and t.strip() for t in turns)
        assert set(item["expected_sources"]) <= manifest_files, item["id"]
        assert bool(item["expected_sources"]) == item["answerable"], item["id"]
    assert sum(not item["answerable"] for item in items) >= 10
    assert sum(isinstance(item["question"], list) for item in items) >= 10
