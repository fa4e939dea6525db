"""Quality check of a fast embedder against its fp32 reference, on synthetic support text.

A fast backend is only used by default when its vectors stay close to fp32 (mean cosine) and
a small retrieval task returns the same top document for nearly every query. The synthetic
corpus is deterministic and built from templates, so the check runs offline and the benchmark
(``loaders.bench.embeddings``) can reuse it.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

QUALITY_THRESHOLDS = {"mean_cosine": 0.99, "top1_agreement": 0.95}

SUBJECTS = (
    "password reset", "invoice", "refund", "subscription", "two-factor authentication",
    "API key", "webhook", "billing address", "shipping label", "order tracking", "mobile app",
    "single sign-on", "data export", "account deletion", "team workspace", "pricing plan",
    "free trial", "credit card", "Slack integration", "email notifications", "CSV import",
    "rate limits", "audit log", "user roles", "gift card",
)  # fmt: skip
PRODUCTS = ("Acme Cloud", "Nimbus Mail", "Orbit CRM", "Pebble Shop")
# Each aspect's article sentences and the questions a customer would ask about it.
ASPECTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "setup": (
        ("To set up the {s}, open Settings in {p}, choose {s} and follow the setup wizard.",
         "The setup wizard for the {s} takes about {n} minutes and can be resumed later.",
         "After setup, the {s} appears under Settings with a green Active badge."),
        ("How do I set up the {s} in Settings?", "where is the setup wizard for the {s}"),
    ),
    "errors": (
        ("If the {s} shows error E{n}, sign out of {p}, clear the browser cache and retry.",
         "Error E{n} on the {s} page means the request timed out on our side.",
         "A {s} error that keeps coming back is usually caused by a blocked cookie."),
        ("I get an error on the {s} page, what should I do?", "the {s} keeps failing with E{n}"),
    ),
    "pricing": (
        ("The {s} costs {n} dollars per month on the {p} Business plan.",
         "Charges for the {s} appear on the monthly bill as a separate line.",
         "Paying yearly for the {s} is about twenty percent cheaper than paying monthly."),
        ("How much does the {s} cost per month?", "is the {s} cheaper if I pay yearly"),
    ),
    "permissions": (
        ("Only workspace administrators can view or change the {s} permissions.",
         "Members without admin permissions see the {s} page as read only.",
         "An administrator can grant another member permission to manage the {s}."),
        ("Who has permission to change the {s}?", "why is the {s} page read only for me"),
    ),
}  # fmt: skip
SHORT = (
    "refund", "hi", "thanks!", "Where is my order?", "cancel my plan please",
    "Bonjour, je voudrais annuler ma commande.", "¿Dónde está mi pedido?", "Order #48213",
    "ERR_CONNECTION_RESET", "curl -X POST https://api.example.com/v1/keys", "",
)  # fmt: skip


def _fill(template: str, subject: str, rng: random.Random) -> str:
    return template.format(s=subject, p=rng.choice(PRODUCTS), n=rng.randint(2, 99))


def support_sentences(n: int = 300, seed: int = 0) -> list[str]:
    """Varied sentences: statements, questions, fragments, other languages, code, empty."""
    rng = random.Random(seed)
    out = list(SHORT)
    while len(out) < n:
        docs, questions = ASPECTS[rng.choice(list(ASPECTS))]
        template = rng.choice(docs + questions)
        text = _fill(template, rng.choice(SUBJECTS), rng)
        out.append(text.lower() if rng.random() < 0.2 else text)
    return out[:n]


def support_article(subject: str, aspect: str, rng: random.Random, words: int = 80) -> str:
    """One help-centre article of about ``words`` words about ``subject`` and ``aspect``."""
    parts: list[str] = []
    while sum(len(p.split()) for p in parts) < words:
        other = rng.choice(list(ASPECTS))  # real articles wander; keep ~2/3 on topic
        pool = ASPECTS[aspect if rng.random() < 0.67 else other][0]
        parts.append(_fill(rng.choice(pool), subject, rng))
    return " ".join(parts)


def retrieval_task(seed: int = 0, words: int = 80) -> tuple[list[str], list[str], list[int]]:
    """(documents, queries, index of each query's source document)."""
    rng = random.Random(seed)
    docs: list[str] = []
    queries: list[str] = []
    targets: list[int] = []
    for subject in SUBJECTS:
        for aspect, (_, questions) in ASPECTS.items():
            docs.append(support_article(subject, aspect, rng, words))
            for q in questions:
                queries.append(_fill(q, subject, rng))
                targets.append(len(docs) - 1)
    return docs, queries, targets


def _matrix(emb: Embeddings, texts: list[str]) -> np.ndarray:
    return np.asarray(emb.embed_documents(texts), dtype=np.float32)


def quality_report(reference: Embeddings, fast: Embeddings) -> dict[str, Any]:
    """Compare ``fast`` with ``reference`` (fp32): cosine agreement and retrieval agreement."""
    sentences = support_sentences()
    docs, queries, targets = retrieval_task()
    cos = (_matrix(reference, sentences) * _matrix(fast, sentences)).sum(axis=1)
    ref_docs, ref_q = _matrix(reference, docs), _matrix(reference, queries)
    fast_docs, fast_q = _matrix(fast, docs), _matrix(fast, queries)
    ref_top = (ref_q @ ref_docs.T).argmax(axis=1)
    fast_top = (fast_q @ fast_docs.T).argmax(axis=1)
    gold = np.asarray(targets)
    report: dict[str, Any] = {
        "sentences": len(sentences),
        "queries": len(queries),
        "mean_cosine": round(float(cos.mean()), 4),
        "min_cosine": round(float(cos.min()), 4),
        "top1_agreement": round(float((ref_top == fast_top).mean()), 4),
        "reference_hit1": round(float((ref_top == gold).mean()), 4),
        "fast_hit1": round(float((fast_top == gold).mean()), 4),
    }
    report["passed"] = all(report[k] >= v for k, v in QUALITY_THRESHOLDS.items())
    return report
