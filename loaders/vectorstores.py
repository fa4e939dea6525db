"""Vector store factory: the embedded local store or Pinecone, picked by name."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from loaders.errors import InvalidInput
from loaders.settings import Settings

VECTOR_STORES = ("local", "pinecone")


def make_vector_store(settings: Settings, embedding: Embeddings, *, dimension: int) -> VectorStore:
    """The dense store named by ``settings.vector_store_name``; integrations load on use."""
    match settings.vector_store_name:
        case "local":
            from loaders.local_store import LocalVectorStore

            return LocalVectorStore(settings.data_dir / "vectors", embedding)
        case "pinecone":
            from loaders.pinecone_store import make_pinecone_store

            return make_pinecone_store(settings, embedding, dimension=dimension)
        case other:
            raise InvalidInput(
                f"Unknown vector store '{other}'. Use one of: {', '.join(VECTOR_STORES)}.",
                code="UNKNOWN_VECTOR_STORE",
            )
