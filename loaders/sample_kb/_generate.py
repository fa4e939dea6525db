"""Rebuild the sample knowledge base's PDF and DOCX files from their Markdown sources.

Each ``_sources/<name>.<pdf|docx>.md`` becomes ``<name>.<pdf|docx>`` next to the manifest.
The outputs are committed so that running the service never needs reportlab or python-docx
(dev dependencies); run this only after editing a source::

    .venv/bin/python -m loaders.sample_kb._generate

Output is byte-for-byte reproducible (fixed timestamps), so regenerating an unchanged source
leaves ``git status`` clean.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loaders.errors import SupportbotError
from loaders.sample import SAMPLE_KB_DIR as KB_DIR
from loaders.sample import read_manifest

SOURCES_DIR = KB_DIR / "_sources"
FORMATS: tuple[str, ...] = ("pdf", "docx")
_CODE = "SAMPLE_KB_INVALID"
_FIXED_TIME = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_PDF_TAGS = {
    "b": ("<b>", "</b>"),
    "i": ("<i>", "</i>"),
    "code": ('<font face="Courier">', "</font>"),
}
_INLINE = re.compile(r"(\*\*[^*]+\*\*|`[^`]+`|\*[^*]+\*)")


@dataclass
class Block:
    """One Markdown block: a heading (h1-h3), paragraph, list, table or code block."""

    kind: str
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def parse_markdown(text: str) -> list[Block]:
    """Parse the small Markdown subset the sources use into blocks."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line:
            i += 1
        elif line.startswith("```"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            blocks.append(Block("code", "\n".join(lines[i + 1 : end])))
            i = end + 1
        elif m := re.match(r"(#{1,3}) (.+)", line):
            blocks.append(Block(f"h{len(m.group(1))}", m.group(2)))
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", lines[i])]
                if not re.fullmatch(r"[-:| ]+", lines[i]):
                    rows.append(cells[1:-1])
                i += 1
            blocks.append(Block("table", rows=rows))
        elif re.match(r"(- |\d+\. )", line.lstrip()):
            kind = "ul" if line.lstrip().startswith("- ") else "ol"
            items = []
            while i < len(lines) and re.match(r"\s*(- |\d+\. )", lines[i]):
                items.append(re.sub(r"^\s*(- |\d+\. )", "", lines[i]).strip())
                i += 1
            blocks.append(Block(kind, items=items))
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not re.match(r"(#|\||```)", lines[i]):
                para.append(lines[i].strip())
                i += 1
            blocks.append(Block("p", " ".join(para)))
    return blocks


def inline_spans(text: str) -> list[tuple[str, str]]:
    """Split text into ``(style, text)`` spans; style is "", "b", "i" or "code"."""
    spans: list[tuple[str, str]] = []
    for part in _INLINE.split(text):
        if not part:
            continue
        if part.startswith("**"):
            spans.append(("b", part[2:-2]))
        elif part.startswith("`"):
            spans.append(("code", part[1:-1]))
        elif part.startswith("*") and len(part) > 2:
            spans.append(("i", part[1:-1]))
        else:
            spans.append(("", part))
    return spans


def _pdf_markup(text: str) -> str:
    """Inline Markdown to reportlab paragraph markup (escaped)."""
    out = []
    for style, span in inline_spans(text):
        esc = span.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        start, end = _PDF_TAGS.get(style, ("", ""))
        out.append(f"{start}{esc}{end}")
    return "".join(out)


def render_pdf(blocks: list[Block], meta: dict[str, Any], out: Path) -> None:
    """Write a text-extractable PDF with the document title in its metadata."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, Preformatted, SimpleDocTemplate, Table

    styles = getSampleStyleSheet()
    item_style = ParagraphStyle("Item", parent=styles["BodyText"], leftIndent=18, bulletIndent=4)
    doc = SimpleDocTemplate(
        str(out), pagesize=A4, title=meta["title"], author=meta["author"],
        subject=meta["description"], creator="Tasklane Help Centre", invariant=1,
        leftMargin=2.2 * cm, rightMargin=2.2 * cm, topMargin=2 * cm, bottomMargin=2 * cm,
    )  # fmt: skip
    story: list[Any] = []
    for block in blocks:
        if block.kind in ("h1", "h2", "h3"):
            story.append(Paragraph(_pdf_markup(block.text), styles[f"Heading{block.kind[1]}"]))
        elif block.kind == "p":
            story.append(Paragraph(_pdf_markup(block.text), styles["BodyText"]))
        elif block.kind in ("ul", "ol"):
            for number, item in enumerate(block.items, start=1):
                bullet = "\u2022" if block.kind == "ul" else f"{number}."
                story.append(Paragraph(_pdf_markup(item), item_style, bulletText=bullet))
        elif block.kind == "code":
            story.append(Preformatted(block.text, styles["Code"], maxLineLength=80))
        elif block.kind == "table":
            cells = [[Paragraph(_pdf_markup(c), styles["BodyText"]) for c in r] for r in block.rows]
            width = (doc.width) / max(len(r) for r in block.rows)
            table = Table(cells, colWidths=[width] * len(block.rows[0]), repeatRows=1)
            table.setStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                            ("VALIGN", (0, 0), (-1, -1), "TOP")])  # fmt: skip
            story.append(table)
    doc.build(story)


def _docx_runs(paragraph: Any, text: str) -> None:
    """Add inline-formatted runs to a python-docx paragraph."""
    for style, span in inline_spans(text):
        run = paragraph.add_run(span)
        run.bold = style == "b" or None
        run.italic = style == "i" or None
        if style == "code":
            run.font.name = "Courier New"


def render_docx(blocks: list[Block], meta: dict[str, Any], out: Path) -> None:
    """Write a DOCX with real headings, lists and tables, and reproducible bytes."""
    import docx

    document = docx.Document()
    props = document.core_properties
    props.title, props.author, props.subject = meta["title"], meta["author"], meta["description"]
    props.last_modified_by, props.revision = meta["author"], 1
    props.created = props.modified = _FIXED_TIME
    for block in blocks:
        if block.kind in ("h1", "h2", "h3"):
            document.add_heading(block.text, level=int(block.kind[1]))
        elif block.kind in ("p", "code"):
            _docx_runs(document.add_paragraph(), block.text)
        elif block.kind == "ul":
            for item in block.items:
                _docx_runs(document.add_paragraph(style="List Bullet"), item)
        elif block.kind == "ol":
            for number, item in enumerate(block.items, start=1):
                _docx_runs(document.add_paragraph(f"{number}. ", style="List Paragraph"), item)
        elif block.kind == "table":
            table = document.add_table(rows=0, cols=len(block.rows[0]), style="Table Grid")
            for row_index, row in enumerate(block.rows):
                cells = table.add_row().cells
                for cell, text in zip(cells, row, strict=True):
                    _docx_runs(cell.paragraphs[0], f"**{text}**" if row_index == 0 else text)
    buffer = io.BytesIO()
    document.save(buffer)
    out.write_bytes(_freeze_zip(buffer.getvalue()))


def _freeze_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed entry timestamps so identical content gives identical bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2025, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return buffer.getvalue()


def generate(out_dir: Path = KB_DIR, sources_dir: Path = SOURCES_DIR) -> list[Path]:
    """Render every ``_sources/<name>.<fmt>.md`` into ``out_dir``; return the written paths."""
    manifest = read_manifest(KB_DIR)
    written = []
    for source in sorted(sources_dir.glob("*.md")):
        target_name = source.name.removesuffix(".md")
        fmt = target_name.rsplit(".", 1)[-1]
        if fmt not in FORMATS:
            raise SupportbotError(
                f"{source.name}: name must end in .pdf.md or .docx.md.", code=_CODE
            )
        if target_name not in manifest:
            raise SupportbotError(f"{target_name} is not listed in manifest.json.", code=_CODE)
        blocks = parse_markdown(source.read_text(encoding="utf-8"))
        out = out_dir / target_name
        (render_pdf if fmt == "pdf" else render_docx)(blocks, manifest[target_name], out)
        written.append(out)
    return written


def main(argv: list[str] | None = None) -> None:
    """Command line: regenerate the PDF and DOCX files (optionally into another folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=KB_DIR, help="output folder")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(f"{path.name}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
