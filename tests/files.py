"""Real files generated for tests: PDF, DOCX, PNG, an encrypted PDF and a DOCX zip bomb."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path


def make_pdf(tmp_path: Path, pages: list[str], title: str | None = None) -> bytes:
    """A real PDF from reportlab, one line of text per page."""
    from reportlab.pdfgen import canvas

    path = tmp_path / "generated.pdf"
    pdf = canvas.Canvas(str(path))
    if title:
        pdf.setTitle(title)
    for text in pages:
        pdf.drawString(72, 720, text)
        pdf.showPage()
    pdf.save()
    return path.read_bytes()


def make_docx(
    tmp_path: Path,
    title: str | None = None,
    heading: str = "Resetting your password",
    paragraphs: tuple[str, ...] = (
        "Open Settings and choose Security.",
        "Click Reset password and follow the email link.",
    ),
) -> bytes:
    """A real DOCX from python-docx with a heading and paragraphs."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading(heading, level=1)
    for p in paragraphs:
        document.add_paragraph(p)
    path = tmp_path / "generated.docx"
    document.save(str(path))
    return path.read_bytes()


def png_bytes() -> bytes:
    """A real 1x1 PNG: signature, IHDR, IDAT and IEND chunks."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def encrypted_pdf(tmp_path: Path, user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(tmp_path, ["Secret manual"]))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bomb() -> bytes:
    """A DOCX-shaped zip whose word/document.xml inflates to 300 MB of zeros (1.3 MB on disk)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range(300):
                member.write(block)
    return buf.getvalue()
