"""The optional cross-encoder reranker: local directory only, reorders without rescoring."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from langchain_core.documents import Document

from loaders.errors import InvalidInput
from loaders.rerank import CrossEncoderReranker
from loaders.retrieval import SearchHit
from loaders.tokens import default_model_dir


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer BERT cross-encoder with random weights, saved locally (no hub)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("ce")
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(out)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(default_model_dir() / name, out / name)
    return out


def test_refuses_anything_but_a_local_model_dir(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        CrossEncoderReranker(Path("cross-encoder/ms-marco-MiniLM-L-6-v2"))
    assert err.value.code == "RERANKER_NOT_FOUND"


def test_reorders_by_cross_encoder_score_and_keeps_relevance(tiny_cross_encoder: Path) -> None:
    reranker = CrossEncoderReranker(tiny_cross_encoder)
    texts = ["refunds take five days", "reset your password", "invite a guest", "vat rules"]
    hits = [
        SearchHit(f"c{i}", Document(page_content=t), relevance_score=0.9 - i / 10)
        for i, t in enumerate(texts)
    ]
    scores = reranker.scores("how do refunds work", texts)
    assert len(set(scores)) == len(scores)
    out = reranker.rerank("how do refunds work", list(hits))
    assert [h.chunk_id for h in out] == [
        f"c{i}" for i in sorted(range(4), key=lambda i: -scores[i])
    ]
    assert {h.chunk_id: h.relevance_score for h in out} == {
        h.chunk_id: h.relevance_score for h in hits
    }
    assert all(h.rerank_score is not None for h in out)
