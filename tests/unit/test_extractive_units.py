"""The extractive model with an embedder: whole units, the best section, honest scores."""

from __future__ import annotations

import numpy as np
from langchain_core.messages import HumanMessage, SystemMessage

from chains import answers
from chains.extractive import DONT_KNOW, ExtractiveChatModel
from chains.extractive.question import question_kind

VOCAB = ("install", "package", "pip", "upgrade", "delete", "file", "remove", "weather", "sort")


class BagOfWords:
    """A toy embedder: one axis per vocabulary word, so cosine follows shared topic words."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def _vec(self, text: str) -> np.ndarray:
        low = text.lower()
        v = np.array([float(w in low) for w in VOCAB]) + 0.05
        return v / np.linalg.norm(v)

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([self._vec(t) for t in texts])

    def query(self, text: str) -> np.ndarray:
        return self._vec(text)


INSTALL = {
    "n": 1,
    "title": "Library FAQ",
    "relevance": 0.7,
    "text": "Library FAQ > How do I install a package?\n"
    "Packages come from the package index. To install a package, run the command:\n"
    "```bash\npip install NAME\n```\nThe weather does not matter for this.",
}
DELETE = {
    "n": 2,
    "title": "Files FAQ",
    "relevance": 0.5,
    "text": "Files FAQ > How do I delete a file?\nUse os.remove() to delete a file from disk.",
}
TOC = {
    "n": 3,
    "title": "Contents",
    "relevance": 0.9,
    "navigation": True,
    "text": "Contents\n- How do I install a package?\n- How do I delete a file?",
}


def ask(question: str, passages: list[dict], model: ExtractiveChatModel | None = None):  # type: ignore[type-arg]
    system = SystemMessage("Answer.", additional_kwargs={"passages": passages})
    return (model or ExtractiveChatModel(embed=BagOfWords())).invoke(
        [system, HumanMessage(question)]
    )


def test_a_how_to_question_gets_the_command_with_its_lead_in() -> None:
    out = ask("How can I install a package with pip?", [TOC, INSTALL, DELETE])
    text = str(out.content)
    assert "To install a package, run the command:\n```bash\npip install NAME\n```\n[1]" in text
    assert "[3]" not in text  # a table of contents never answers
    assert "[2]" not in text  # the answer stays with the section that answers
    assert out.response_metadata["answer_score"] > 0.7


def test_the_question_is_embedded_by_query_and_never_stored_with_the_units() -> None:
    embed = BagOfWords()
    ask("How do I delete a file?", [INSTALL, DELETE], ExtractiveChatModel(embed=embed))
    embedded = [t for call in embed.calls for t in call]
    assert "How do I delete a file?" not in embedded
    assert any(t.startswith("How do I delete a file?: Use os.remove()") for t in embedded)


def test_below_the_floor_it_says_it_does_not_know_with_score_zero() -> None:
    out = ask("What will the weather be tomorrow?", [DELETE])
    assert out.content == DONT_KNOW
    assert out.response_metadata["citations"] == [] and out.response_metadata["answer_score"] == 0


def test_question_kinds() -> None:
    assert question_kind("How do I keep Python up to date?") == "howto"
    assert question_kind("Why does sort() return None?") == "why"
    assert question_kind("Can I write extensions in C++?") == "yesno"
    assert question_kind("What is the GIL?") == "what"


def test_extractive_confidence_is_monotonic_and_centred_on_the_calibration() -> None:
    _slope, centre = answers.EXTRACTIVE_CALIBRATION
    assert answers.extractive_confidence(centre) == 0.5
    low, high = answers.extractive_confidence(0.5), answers.extractive_confidence(1.1)
    assert 0 < low < 0.5 < high < 1
