"""Real files generated for tests: PDF, DOCX (plain, rich, bodiless), PNG, an encrypted PDF, a
DOCX zip bomb."""

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


def make_rich_docx(tmp_path: Path) -> bytes:
    """A DOCX with what support articles use: headings, lists, a table, code and a link-free
    body. Code comes both ways Word has: a "Code" paragraph style and runs in Courier New."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.core_properties.title = "Installing the agent"
    document.add_heading("Installing the agent", level=1)
    document.add_paragraph("Before you start, check these points:")
    document.add_paragraph("You are an administrator", style="List Bullet")
    document.add_paragraph("Port 8443 is open", style="List Bullet")
    document.add_heading("On Linux", level=2)
    document.add_paragraph("Open a terminal", style="List Number")
    document.add_paragraph("Run the installer", style="List Number")
    document.add_paragraph("Run this command:")
    document.styles.add_style("Code", WD_STYLE_TYPE.PARAGRAPH)
    for line in ("curl -sSL https://example.com/install.sh | sh", "agent --version"):
        document.add_paragraph(line, style="Code")
    mixed = document.add_paragraph("Then restart it with ")
    mixed.add_run("systemctl restart agent").font.name = "Courier New"
    mixed.add_run(".")
    document.add_paragraph().add_run("    agent status --verbose").font.name = "Consolas"
    document.add_heading("Settings", level=2)
    table = document.add_table(rows=3, cols=2)
    rows = [("Key", "Default"), ("port", "8443"), ("log", "info")]
    for row, cells in zip(table.rows, rows, strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    for cell in table.rows[0].cells:
        cell.paragraphs[0].runs[0].bold = True
    path = tmp_path / "rich.docx"
    document.save(str(path))
    return path.read_bytes()


def make_lines_pdf(tmp_path: Path, lines: list[list[tuple[str, str]]]) -> bytes:
    """A one-page PDF, one line after another, each line made of ``(font, text)`` runs.

    "Vera" is a TrueType font with a real "•" glyph (the standard fonts' encoding loses it).
    """
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("Vera", "Vera.ttf"))
    path = tmp_path / "lines.pdf"
    pdf = canvas.Canvas(str(path))
    for n, runs in enumerate(lines):
        line = pdf.beginText(72, 720 - 14 * n)
        for font, text in runs:
            line.setFont(font, 10)
            line.textOut(text)
        pdf.drawText(line)
    pdf.showPage()
    pdf.save()
    return path.read_bytes()


def make_code_pdf(tmp_path: Path) -> bytes:
    """A PDF page with a lead-in, two Courier code lines, bullets and an inline Courier run."""
    return make_lines_pdf(
        tmp_path,
        [
            [("Helvetica", "To install the client, run:")],
            [("Courier", "pip install supportbot")],
            [("Courier", "    --upgrade")],
            [("Vera", "\u2022 Works on Linux")],
            [("Vera", "\u2022 Works on macOS")],
            [("Helvetica", "Use "), ("Courier", "supportbot --help"), ("Helvetica", ".")],
        ],
    )


def docx_without_body() -> bytes:
    """A DOCX-shaped zip whose document has paragraphs but no ``w:body``: mammoth refuses it,
    docx2txt still reads its words."""
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    xml = f"<w:document {ns}><w:p><w:r><w:t>Words without a body.</w:t></w:r></w:p></w:document>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("word/document.xml", xml)
    return buf.getvalue()
