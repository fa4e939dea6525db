"""A chunk's text as quotable answer *units*, each with the section context it sits in.

A unit is what an answer may quote whole: a sentence, an FAQ question with its answer, a
list (numbered steps or bulleted options), a code block or command, or a table row spelled
out with its column headers. Chunks reach the answerer in the shapes the parsers give them
(fenced code, ``- `` / ``1. `` list items, ``a | b`` table rows; see ``loaders.parsers``):

- PDF text is hard-wrapped: a line that does not end a sentence continues on the next one.
- A table row means little without the header row: ``PayPal - Available for: All paid plans``.
- The heading path (a chunk's first line) and short in-text labels are kept as ``context``,
  which the scorer counts at a discount and never quotes.
- A lead-in that points at what follows ("run the command:", "as follows") is one unit with
  the code block or list it introduces; alone it would cite a thing the answer lacks, so a
  pointing sentence whose thing is not in the chunk is no unit at all.
- Two or more numbered items make one ``steps`` unit (cut after ``_STEPS_CHARS``, last line
  ``...``); bulleted runs a ``list`` unit. Each item is still a unit of its own.
- A list of questions or short titles (a table of contents) is navigation, never an answer.

Everything here is generic text structure: nothing keys on any knowledge base's vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[`]?[A-Z0-9])")
_BULLET = re.compile(r"^\s*(?:[-*•◦▪>]|#{1,6}|\d{1,2}[.)])\s+")
_NUMBERED = re.compile(r"^\s*(\d{1,2})[.)]\s+")
_EMPHASIS = re.compile(r"\*\*|__")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")
_TOC_NUMBER = re.compile(r"^\d+(?:\.\d+)+\.?\s")  # "9.1. How can I ...?", "2.3 Setup"
# "This article covers..." announces a page; it matches every question about it, answers none.
_ANNOUNCEMENT = re.compile(
    r"^(?:this|the following) (?:article|page|guide|policy|document|section|sop|procedure)"
    r" (?:covers|explains|describes|lists|shows|sets out|is about)\b",
    re.I,
)
# A sentence that points at a thing after it: without that thing it is no answer.
_POINTS = re.compile(
    r"(?:\b(?:as follows|the following|following (?:code|command|example|snippet|steps)|"
    r"(?:shown |listed |given )?below|like this|like so|this (?:command|code|snippet|example)|"
    r"the (?:command|snippet|code|example)|for example|e\.g\.|such as)\W*$)|:$",
    re.I,
)
_TERMINAL = tuple(".!?:;)\"'`")
_TITLE_NOT_END = tuple(".!?:;\"'")
_PATH_NOT_END = tuple(".!:;")
_WRAP_WIDTH = 60  # a PDF line this long that ends mid-sentence was wrapped by the layout
_LABEL_WORDS = 8
_STEPS_CHARS = 900  # a procedure longer than this is cut: the answer must stay readable
_CODE_CHARS = 1200  # a code block longer than this is cut at a line
ELLIPSIS = "..."
"""The last line of a procedure cut short."""
KINDS = ("sentence", "faq", "row", "steps", "list", "code")


@dataclass
class Candidate:
    """One quotable unit of a passage and the headings it sits under."""

    text: str
    context: str
    position: int
    steps: int = 0  # numbered steps in a procedure; 0 for anything else
    kind: str = "sentence"  # one of KINDS


@dataclass
class _Line:
    text: str
    kind: str  # "heading", "item" (a list item), "body" or "code" (a whole fenced block)
    open: bool  # may continue on the next line
    tail: int = 0  # length of its last physical line
    number: str = ""  # "3" for the third item of a numbered list

    def __post_init__(self) -> None:
        self.tail = self.tail or len(self.text)


@dataclass
class _Piece:
    text: str
    context: str
    whole: bool  # quoted as it is, never split into sentences
    steps: int = 0
    kind: str = "sentence"


def candidates(text: str) -> list[Candidate]:
    """Sentences, FAQ pairs, table rows, lists, code blocks and procedures of ``text``.

    Questions, bare lead-ins, announcements and fragments under 4 words are left out: they
    are not answers. A list unit comes just before its first item.
    """
    reader = _Reader()
    for line in _joined(text):
        reader.feed(line)
    pieces = reader.finish()
    out: list[Candidate] = []
    for piece in pieces:
        for sentence in [piece.text] if piece.whole else _sentences(piece.text):
            sentence = sentence.strip()
            if (piece.whole and piece.kind in ("code", "steps", "list")) or _answer_like(sentence):
                kind = piece.kind if piece.whole else "sentence"
                out.append(Candidate(sentence, piece.context, len(out), piece.steps, kind))
    return out


class _Reader:
    """Turns joined lines into pieces: the state machine of ``candidates``."""

    def __init__(self) -> None:
        self.heading = self.label = ""
        self.pieces: list[_Piece] = []
        self.table: list[list[str]] = []
        self.header: list[str] | None = None
        self.run: list[_Line] = []  # the list items read so far of the current list
        self.run_at = 0  # where its first item's piece is

    def context(self) -> str:
        h, label = self.heading, self.label
        return f"{h} > {label}" if h and label else h or label

    def feed(self, line: _Line) -> None:
        if self.run and (line.kind != "item" or line.number == "1" or
                         bool(line.number) != bool(self.run[-1].number)):  # fmt: skip
            self._close_run()
        cells = None if line.kind != "body" else _cells(line.text)
        if self.table and cells is None:
            self._close_table()
        if line.kind == "item":
            self.run_at = self.run_at if self.run else len(self.pieces)
            self.run.append(line)
        if line.kind == "heading":
            self.heading, self.label = line.text.lstrip("#").strip(), ""
        elif line.kind == "code":
            self._add_code(line.text)
        elif cells is not None:
            if not _SEPARATOR.match(line.text):
                self.table.append(cells)
            elif len(self.table) == 1 and self.header is None:
                self.header = self.table.pop()
        elif line.kind == "body" and _is_label(line.text):
            self.label = line.text
        elif (self.pieces and self.pieces[-1].text.endswith("?") and not self.pieces[-1].whole
              and not line.text.endswith("?") and line.kind == "body"):  # fmt: skip
            question = self.pieces.pop()  # an FAQ question stays with its answer
            self.pieces.append(_Piece(f"{question.text} {line.text}", question.context, True,
                                      kind="faq"))  # fmt: skip
        else:
            self.pieces.append(_Piece(line.text, self.context(), False))

    def finish(self) -> list[_Piece]:
        self._close_table()
        if self.pieces and _wraps(self.pieces[-1].text) and not self.pieces[-1].whole:
            self.pieces.pop()  # the chunk ends mid-sentence: the fragment would misquote
            self.run = self.run[:-1]
        self._close_run()
        return self.pieces

    def _close_table(self) -> None:
        rows = [_Piece(_row(self.header, r), self.context(), True, kind="row") for r in self.table]
        self.pieces += rows
        self.table, self.header = [], None

    def _close_run(self) -> None:
        run, self.run = self.run, []
        if len(run) < 2:
            return
        if _is_navigation(run):  # a table of contents: drop its items too
            del self.pieces[self.run_at : self.run_at + len(run)]
            return
        numbered = bool(run[0].number)
        lines: list[str] = []
        for item in run:
            entry = f"{item.number}. {item.text}" if numbered else f"- {item.text}"
            if lines and sum(len(s) + 1 for s in lines) + len(entry) > _STEPS_CHARS:
                lines.append(ELLIPSIS)
                break
            lines.append(entry)
        kept = len(lines) - (lines[-1] == ELLIPSIS)
        body = "\n".join(lines)
        at, lead = self._lead_in(self.run_at)
        piece = _Piece(f"{lead}\n{body}" if lead else body, self.context(), True,
                       kept if numbered else 0, "steps" if numbered else "list")  # fmt: skip
        self.pieces.insert(at, piece)

    def _add_code(self, block: str) -> None:
        at, lead = self._lead_in(len(self.pieces))
        text = f"{lead}\n{block}" if lead else block
        self.pieces.insert(at, _Piece(text, self.context(), True, kind="code"))

    def _lead_in(self, at: int) -> tuple[int, str]:
        """The sentence just before ``at`` when it points at what follows (taken out)."""
        if at == 0 or at > len(self.pieces):
            return at, ""
        before = self.pieces[at - 1]
        faq = before.kind == "faq"  # a question with its answer: led in as one
        if before.whole and not faq:
            return at, ""
        last = before.text if faq else _sentences(before.text)[-1].strip()
        if not _POINTS.search(last.rstrip()):
            return at, ""
        rest = "" if faq else before.text[: before.text.rindex(last)].strip()
        if rest:
            before.text = rest
            return at, last
        del self.pieces[at - 1]
        return at - 1, last


def _sentences(text: str) -> list[str]:
    """Sentences of ``text``; a boundary inside inline code (`` `a. B` ``) is no boundary."""
    parts = _SENTENCE_END.split(text)
    out: list[str] = []
    for part in parts:
        if out and out[-1].count("`") % 2:
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


def _joined(text: str) -> list[_Line]:
    """Non-empty lines without list markers or emphasis, wrapped lines joined, code blocks whole.

    A body line continues on the next when it does not end a sentence and is either as long
    as a wrapped PDF line, ends on a word no sentence ends with, or the next line starts in
    lower case. Nothing joins onto a heading, a table row or a code block.
    """
    out: list[_Line] = []
    fence: list[str] | None = None
    for raw in text.splitlines():
        if fence is not None:
            fence.append(raw.rstrip())
            if _FENCE.match(raw) and len(fence) > 1:
                out.append(_Line(_code("\n".join(fence)), "code", open=False))
                fence = None
            continue
        if _FENCE.match(raw):
            fence = [raw.strip()]
            continue
        stripped = _plain(raw).strip()
        if not stripped:
            if out:
                out[-1].open = False
            continue
        line = _line(stripped, first=not out)
        prev = out[-1] if out else None
        if prev is not None and _continues(prev, line):
            prev.text, prev.tail = f"{prev.text} {line.text}", len(line.text)
            prev.open = not prev.text.endswith(_TERMINAL)
            continue
        out.append(line)
    if fence is not None and len(fence) > 1:  # a block the chunk cut off: close it
        out.append(_Line(_code("\n".join([*fence, fence[0][:3]])), "code", open=False))
    return out


def _plain(line: str) -> str:
    """``line`` without Markdown emphasis, except inside inline code (``**kwargs`` stays)."""
    parts = line.split("`")
    return "`".join(p if i % 2 else _EMPHASIS.sub("", p) for i, p in enumerate(parts))


def _code(block: str) -> str:
    """A fenced block, cut at a line (and closed again) when it is too long to quote."""
    if len(block) <= _CODE_CHARS:
        return block
    lines = block.splitlines()
    kept: list[str] = []
    for line in lines[:-1]:
        if sum(len(k) + 1 for k in kept) + len(line) > _CODE_CHARS - 10:
            break
        kept.append(line)
    return "\n".join([*kept, "# ...", lines[-1]])


def _line(text: str, *, first: bool) -> _Line:
    if text.startswith("#") or (text.isupper() and len(text) > 3):
        return _Line(text, "heading", open=False)
    # A title may end in a bracket ("Setting up single sign-on (SSO)"), never in a full stop;
    # a heading path may end in a question ("2FA > Lost your phone?").
    path = " > " in text and not text.endswith(_PATH_NOT_END)
    if first and (path or (not text.endswith(_TITLE_NOT_END) and len(text.split()) < 15)):
        return _Line(text, "heading", open=False)  # a chunk's heading path or a title
    if _BULLET.match(text) and not _TOC_NUMBER.match(text):
        numbered = _NUMBERED.match(text)
        text = _BULLET.sub("", text).strip()
        number = numbered.group(1) if numbered else ""
        return _Line(text, "item", open=not text.endswith(_TERMINAL), number=number)
    return _Line(text, "body", open=_cells(text) is None and not text.endswith(_TERMINAL))


def _continues(prev: _Line, line: _Line) -> bool:
    if not prev.open or prev.kind == "code" or line.kind != "body" or _cells(line.text):
        return False
    return line.text[:1].islower() or prev.tail >= _WRAP_WIDTH or _wraps(prev.text)


def _wraps(line: str) -> bool:
    """Ends on a word that cannot end a sentence (``of``, ``the``, a comma)."""
    last = line.rsplit(" ", 1)[-1].lower()
    return line.endswith(",") or last in {"a", "an", "the", "of", "to", "and", "or", "in", "for"}


def _cells(line: str) -> list[str] | None:
    """The cells of a table row (``a | b`` or ``| a | b |``), else None."""
    if "|" not in line or line.count("`") >= 2:  # a pipe inside code is no table
        return None
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return cells if len(cells) >= 2 else None


def _row(header: list[str] | None, cells: list[str]) -> str:
    """``first - Header 2: cell 2; Header 3: cell 3`` when the header is known."""
    if header is None or len(header) != len(cells):
        return " | ".join(c for c in cells if c)
    rest = "; ".join(f"{h}: {c}" for h, c in zip(header[1:], cells[1:], strict=True) if c)
    return f"{cells[0]} - {rest}" if rest else cells[0]


def _is_label(text: str) -> bool:
    """A short title-like line inside the text (``Annual subscriptions``, ``Before you start``)."""
    return text[:1].isupper() and not text.endswith(_TERMINAL) and len(text.split()) <= _LABEL_WORDS


def _is_navigation(run: list[_Line]) -> bool:
    """Most items are questions or short titles: a table of contents, not content."""
    titles = sum(
        i.text.endswith("?") or (not i.text.endswith(_TERMINAL) and len(i.text.split()) <= 6)
        for i in run
    )
    return titles >= max(3, 0.7 * len(run)) and not any(i.text.endswith(".") for i in run[:2])


def fence_line(line: str) -> bool:
    """The line opens or closes a fenced code block."""
    return bool(_FENCE.match(line))


def _answer_like(sentence: str) -> bool:
    return (
        len(sentence.split()) >= 4
        and not sentence.endswith(("?", ":"))
        and not _ANNOUNCEMENT.match(sentence)
        and not _POINTS.search(sentence)
    )
