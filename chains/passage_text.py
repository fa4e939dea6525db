"""A passage's text as quotable answer candidates, each with the section context it sits in.

Chunks reach the extractive answerer in the shapes the parsers and splitters give them, and a
sentence read alone often loses what it is about:

- PDF text is hard-wrapped (``...usually`` / ``because a server clock is wrong``): a line that
  does not end a sentence continues on the next one, so wrapped lines are joined first.
- Table rows (``| PayPal | All paid plans |``) mean little without the header row: a row of a
  table whose header is known (a Markdown separator line follows it) is spelled out as
  ``PayPal - Available for: All paid plans``; the words all come from the passage.
- A sentence under ``Plans > What each plan includes > Business`` is about the Business plan:
  the heading path (a chunk's first line) and short in-text labels (``Annual subscriptions``)
  are kept as ``context``, which the scorer counts at a discount, never quoted.
- A numbered list is a procedure: "How do I reset my password?" is answered by steps 1-4
  together, not by the one step that shares most words. Two or more consecutive numbered items
  also make one candidate, one step a line with its number kept (``steps`` says how many); a
  long list is cut after the steps that fit ``_STEPS_CHARS``, marked by a last line ``...``.
  Each step is still a candidate of its own, for questions about one detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_BULLET = re.compile(r"^\s*(?:[-*•>]|#{1,6}|\d{1,2}[.)])\s+")
_NUMBERED = re.compile(r"^\s*(\d{1,2})[.)]\s+")
_EMPHASIS = re.compile(r"\*\*|__")
_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")
# "This article covers..." announces a page; it matches every question about it, answers none.
_ANNOUNCEMENT = re.compile(
    r"^(?:this|the following) (?:article|page|guide|policy|document|section|sop|procedure)"
    r" (?:covers|explains|describes|lists|shows|sets out|is about)\b",
    re.I,
)
_TERMINAL = tuple(".!?:;)\"'")
_TITLE_NOT_END = tuple(".!?:;\"'")
_PATH_NOT_END = tuple(".!:;")
_WRAP_WIDTH = 60  # a PDF line this long that ends mid-sentence was wrapped by the layout
_LABEL_WORDS = 8
_STEPS_CHARS = 900  # a procedure longer than this is cut: the answer must stay readable
ELLIPSIS = "..."
"""The last line of a procedure cut short."""


@dataclass
class Candidate:
    """One quotable piece of a passage and the headings it sits under."""

    text: str
    context: str
    position: int
    steps: int = 0  # numbered steps in a procedure; 0 for a sentence, FAQ pair or table row


@dataclass
class _Line:
    text: str
    kind: str  # "heading", "item" (a list item) or "body"
    open: bool  # may continue on the next line
    tail: int = 0  # length of its last physical line
    number: str = ""  # "3" for the third item of a numbered list

    def __post_init__(self) -> None:
        self.tail = self.tail or len(self.text)


def candidates(text: str) -> list[Candidate]:
    """Sentences, FAQ question-answer pairs, table rows and procedures of ``text``, in order.

    Questions, lead-ins ending in ``:``, announcements and fragments under 4 words are left
    out: they are not answers. A procedure comes just before its first step.
    """
    heading, label = "", ""
    pieces: list[_Piece] = []
    table: list[list[str]] = []
    header: list[str] | None = None
    run: list[_Line] = []  # the numbered items read so far of the current list
    run_at = 0  # where its first step's piece is
    for line in _joined(text):
        if run and (not line.number or line.number == "1"):
            _add_procedure(pieces, run_at, run, _ctx(heading, label))
            run = []
        cells = None if line.kind != "body" else _cells(line.text)
        if table and cells is None:
            pieces += [_Piece(_row(header, r), _ctx(heading, label), True) for r in table]
            table, header = [], None
        if line.number:
            run_at = run_at if run else len(pieces)
            run.append(line)
        if line.kind == "heading":
            heading, label = line.text.lstrip("#").strip(), ""
        elif cells is not None:
            if not _SEPARATOR.match(line.text):
                table.append(cells)
            elif len(table) == 1 and header is None:
                header = table.pop()
        elif line.kind == "body" and _is_label(line.text):
            label = line.text
        elif pieces and pieces[-1].text.endswith("?") and not line.text.endswith("?"):
            question = pieces.pop()  # an FAQ question stays with its answer
            pieces.append(_Piece(f"{question.text} {line.text}", question.context, True))
        else:
            pieces.append(_Piece(line.text, _ctx(heading, label), False))
    pieces += [_Piece(_row(header, r), _ctx(heading, label), True) for r in table]
    if pieces and _wraps(pieces[-1].text):
        pieces.pop()  # the chunk ends mid-sentence: the fragment would misquote
        run = run[:-1]
    if run:
        _add_procedure(pieces, run_at, run, _ctx(heading, label))
    out: list[Candidate] = []
    for piece in pieces:
        for sentence in [piece.text] if piece.whole else _SENTENCE_END.split(piece.text):
            sentence = sentence.strip()
            if _answer_like(sentence):
                out.append(Candidate(sentence, piece.context, len(out), piece.steps))
    return out


@dataclass
class _Piece:
    text: str
    context: str
    whole: bool  # quoted as it is, never split into sentences
    steps: int = 0


def _add_procedure(pieces: list[_Piece], at: int, run: list[_Line], context: str) -> None:
    """Insert the numbered ``run`` as one procedure at ``at``, before its first step."""
    if len(run) < 2:
        return
    lines: list[str] = []
    for item in run:
        step = f"{item.number}. {item.text}"
        if lines and sum(len(s) + 1 for s in lines) + len(step) > _STEPS_CHARS:
            lines.append(ELLIPSIS)
            break
        lines.append(step)
    kept = len(lines) - (lines[-1] == ELLIPSIS)
    pieces.insert(at, _Piece("\n".join(lines), context, True, kept))


def _joined(text: str) -> list[_Line]:
    """Non-empty lines without list markers or emphasis, wrapped lines joined.

    A body line continues on the next when it does not end a sentence and is either as long
    as a wrapped PDF line, ends on a word no sentence ends with, or the next line starts in
    lower case. Nothing joins onto a heading or a table row; a list item can be continued.
    """
    out: list[_Line] = []
    for raw in text.splitlines():
        stripped = _EMPHASIS.sub("", raw).strip()
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
    return out


def _line(text: str, *, first: bool) -> _Line:
    if text.startswith("#") or (text.isupper() and len(text) > 3):
        return _Line(text, "heading", open=False)
    # A title may end in a bracket ("Setting up single sign-on (SSO)"), never in a full stop;
    # a heading path may end in a question ("2FA > Lost your phone?").
    path = " > " in text and not text.endswith(_PATH_NOT_END)
    if first and (path or (not text.endswith(_TITLE_NOT_END) and len(text.split()) < 15)):
        return _Line(text, "heading", open=False)  # a chunk's heading path or a title
    if _BULLET.match(text):
        numbered = _NUMBERED.match(text)
        text = _BULLET.sub("", text).strip()
        number = numbered.group(1) if numbered else ""
        return _Line(text, "item", open=not text.endswith(_TERMINAL), number=number)
    return _Line(text, "body", open=_cells(text) is None and not text.endswith(_TERMINAL))


def _continues(prev: _Line, line: _Line) -> bool:
    if not prev.open or line.kind != "body" or _cells(line.text) is not None:
        return False
    return line.text[:1].islower() or prev.tail >= _WRAP_WIDTH or _wraps(prev.text)


def _wraps(line: str) -> bool:
    """Ends on a word that cannot end a sentence (``of``, ``the``, a comma)."""
    last = line.rsplit(" ", 1)[-1].lower()
    return line.endswith(",") or last in {"a", "an", "the", "of", "to", "and", "or", "in", "for"}


def _cells(line: str) -> list[str] | None:
    """The cells of a table row (``a | b`` or ``| a | b |``), else None."""
    if "|" not in line:
        return None
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return cells if len(cells) >= 2 else None


def _row(header: list[str] | None, cells: list[str]) -> str:
    """``first - Header 2: cell 2; Header 3: cell 3`` when the header is known."""
    if header is None or len(header) != len(cells):
        return " | ".join(c for c in cells if c)
    rest = "; ".join(f"{h}: {c}" for h, c in zip(header[1:], cells[1:], strict=True) if c)
    return f"{cells[0]} - {rest}" if rest else cells[0]


def _ctx(heading: str, label: str) -> str:
    return f"{heading} > {label}" if heading and label else heading or label


def _is_label(text: str) -> bool:
    """A short title-like line inside the text (``Annual subscriptions``, ``Before you start``)."""
    return text[:1].isupper() and not text.endswith(_TERMINAL) and len(text.split()) <= _LABEL_WORDS


def _answer_like(sentence: str) -> bool:
    return (
        len(sentence.split()) >= 4
        and not sentence.endswith(("?", ":"))
        and not _ANNOUNCEMENT.match(sentence)
    )
