"""Uploads that must be refused, each with its error class and stable code."""

from __future__ import annotations

import io
import random
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from loaders.errors import DocumentRejected, InvalidInput, UnsupportedFormat
from loaders.parsers import load_document
from tests.files import encrypted_pdf, make_docx, make_pdf, png_bytes
from tests.files import zip_bomb as make_zip_bomb


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    return make_zip_bomb()


def test_png_is_unsupported_and_names_supported_formats() -> None:
    with pytest.raises(UnsupportedFormat) as err:
        load_document(png_bytes(), "screenshot.png")
    assert err.value.code == "UNSUPPORTED_FORMAT"
    assert err.value.status == 415
    assert "PNG" in err.value.message and "PDF, DOCX, HTML, Markdown" in err.value.message


def test_other_zip_is_unsupported() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UnsupportedFormat) as err:
        load_document(buf.getvalue(), "sheet.xlsx")
    assert err.value.code == "UNSUPPORTED_FORMAT"
    assert "XLSX" in err.value.message


def test_png_named_md_is_extension_mismatch() -> None:
    with pytest.raises(UnsupportedFormat) as err:
        load_document(png_bytes(), "notes.md")
    assert (err.value.code, err.value.status) == ("EXTENSION_MISMATCH", 415)
    assert "PNG image" in err.value.message


def test_docx_named_pdf_is_extension_mismatch(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormat) as err:
        load_document(make_docx(tmp_path), "manual.pdf")
    assert (err.value.code, err.value.status) == ("EXTENSION_MISMATCH", 415)
    assert "DOCX" in err.value.message


def test_pdf_named_txt_is_extension_mismatch(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormat) as err:
        load_document(make_pdf(tmp_path, ["hello"]), "notes.txt")
    assert err.value.code == "EXTENSION_MISMATCH"
    assert "PDF" in err.value.message


def test_text_named_pdf_is_extension_mismatch() -> None:
    with pytest.raises(UnsupportedFormat) as err:
        load_document(b"just some words", "fake.pdf")
    assert err.value.code == "EXTENSION_MISMATCH"


def test_empty_file() -> None:
    with pytest.raises(DocumentRejected) as err:
        load_document(b"", "empty.txt")
    assert err.value.code == "EMPTY_FILE"


def test_truncated_pdf_is_corrupt(tmp_path: Path) -> None:
    data = make_pdf(tmp_path, ["Page one", "Page two"])
    with pytest.raises(DocumentRejected) as err:
        load_document(data[: len(data) // 2], "broken.pdf")
    assert err.value.code == "CORRUPT_FILE"


def test_truncated_docx_is_corrupt(tmp_path: Path) -> None:
    data = make_docx(tmp_path)
    with pytest.raises(DocumentRejected) as err:
        load_document(data[: len(data) // 2], "broken.docx")
    assert err.value.code == "CORRUPT_FILE"


@pytest.mark.parametrize("user_password", ["secret", ""])
def test_encrypted_pdf_refused_even_with_empty_password(tmp_path: Path, user_password: str) -> None:
    with pytest.raises(DocumentRejected) as err:
        load_document(encrypted_pdf(tmp_path, user_password), "protected.pdf")
    assert err.value.code == "ENCRYPTED_PDF"
    assert "password" in err.value.message


def test_scanned_pdf_without_text(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.rect(72, 72, 300, 300, fill=1)
    pdf.showPage()
    pdf.save()
    with pytest.raises(DocumentRejected) as err:
        load_document(path.read_bytes(), "scan.pdf")
    assert err.value.code == "NO_TEXT_CONTENT"


def test_docx_zip_bomb_refused_quickly_without_inflating(zip_bomb: bytes) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(DocumentRejected) as err:
            load_document(zip_bomb, "bomb.docx")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.code == "ZIP_BOMB"
    assert elapsed < 2.0
    assert peak < 20 * 1024 * 1024  # 300 MB inflated would blow far past this


def test_bytes_no_encoding_explains_are_encoding_error() -> None:
    """cp1252 text now decodes (tests/unit/test_text_decoding.py); random high bytes do not."""
    rng = random.Random(9)
    data = b"Prix: " + bytes(rng.randrange(0x80, 0x100) for _ in range(400))
    with pytest.raises(DocumentRejected) as err:
        load_document(data, "prices.txt")
    assert err.value.code == "ENCODING_ERROR"
    assert "offset 6" in err.value.message and "UTF-8" in err.value.message


def test_utf16_without_bom_is_encoding_error() -> None:
    with pytest.raises(DocumentRejected) as err:
        load_document("No byte order mark here".encode("utf-16-le"), "wide.txt")
    assert err.value.code == "ENCODING_ERROR"


@pytest.mark.parametrize(
    "name",
    ["../x.md", "/etc/passwd", "a\\..\\b.txt", "C:\\Windows\\x.txt", "bad\x00.txt", "tab\tname.md",
     "", "   ", "..", "a" * 256 + ".txt"],
)  # fmt: skip
def test_path_traversal_and_nonsense_names_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as err:
        load_document(b"hello", name)
    assert err.value.code == "INVALID_FILENAME"


def test_whitespace_only_file_has_no_text() -> None:
    with pytest.raises(DocumentRejected) as err:
        load_document(b"  \n\t\n \r\n  ", "blank.txt")
    assert err.value.code == "NO_TEXT_CONTENT"


def test_html_with_only_scripts_has_no_text() -> None:
    page = b"<html><head><script>alert(1)</script></head><body><style>p{}</style></body></html>"
    with pytest.raises(DocumentRejected) as err:
        load_document(page, "empty.html")
    assert err.value.code == "NO_TEXT_CONTENT"
