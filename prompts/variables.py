"""Shape retrieved documents and chat history into the plain variables prompt templates read.

Templates get plain dicts and strings, never LangChain objects, so a template can only read
the fields listed here and an admin-written version cannot call methods on live objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from typing_extensions import TypedDict


class Passage(TypedDict):
    """One retrieved passage; templates number them 1..N in list order, matching sources."""

    title: str
    content: str


class HistoryLine(TypedDict):
    role: str
    content: str


def passages_from_documents(
    documents: Sequence[Document], *, max_chars: int | None = None
) -> list[Passage]:
    """Titles from the chunk metadata (document title, else source), text cut at ``max_chars``."""
    passages: list[Passage] = []
    for doc in documents:
        md = doc.metadata
        title = md.get("document_title") or md.get("title") or md.get("source") or "Untitled"
        content = doc.page_content if max_chars is None else doc.page_content[:max_chars]
        passages.append({"title": str(title), "content": content})
    return passages


def history_from_messages(
    messages: Sequence[BaseMessage], *, max_chars: int | None = 2000
) -> list[HistoryLine]:
    """Customer and assistant turns as ``{role, content}``; system and tool messages are left
    out because they are not part of what the customer and the bot said."""
    lines: list[HistoryLine] = []
    for message in messages:
        if isinstance(message, HumanMessage):
            role = "customer"
        elif isinstance(message, AIMessage):
            role = "assistant"
        else:
            continue
        text = message.text
        lines.append({"role": role, "content": text if max_chars is None else text[:max_chars]})
    return lines
