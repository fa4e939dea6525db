"""The offline default chat model: answers quoted whole from the retrieved passages.

``model`` is the LangChain chat model, ``scoring`` rates each unit of the passages against
the question, ``compose`` picks and cites the units, ``question`` holds the light stemming
and the question kinds. Units themselves come from ``loaders.units``.
"""

from chains.extractive.model import DONT_KNOW, ExtractiveChatModel, Passage, passages_message
from chains.extractive.question import stem, stems

__all__ = ["DONT_KNOW", "ExtractiveChatModel", "Passage", "passages_message", "stem", "stems"]
