"""Eval corpora: which documents each dataset's questions are answered from.

``kb_qa``, ``retrieval`` and the guardrail sets ask about the bundled Tasklane help centre
(``loaders/sample_kb``). ``python_faq`` asks about the Python FAQ that Debian's
``python3.11-doc`` installs: real documentation nobody on the team wrote, kept outside the repo
so nothing can be tuned to it by accident (``make eval-data`` installs it). A dataset not listed
here (a file passed by path) is answered from the sample KB. ``EVAL_PYTHON_FAQ_DIR`` points the
Python FAQ corpus at another folder with the same file names (tests use a tiny one).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loaders.errors import InvalidInput
from loaders.ingest_options import IngestOptions

SAMPLE_KB = "sample_kb"
PYTHON_FAQ = "python_faq"
PYTHON_FAQ_DIR = Path("/usr/share/doc/python3.11/html/faq")
PYTHON_FAQ_DIR_ENV = "EVAL_PYTHON_FAQ_DIR"
PYTHON_FAQ_FILES = (
    "general.html",
    "programming.html",
    "design.html",
    "library.html",
    "extending.html",
    "windows.html",
    "gui.html",
    "installed.html",
)
"""Every FAQ page but ``index.html``, which is only a table of contents of the others."""

DATASET_CORPUS = {
    "kb_qa": SAMPLE_KB,
    "retrieval": SAMPLE_KB,
    "injection": SAMPLE_KB,
    "guardrails_benign": SAMPLE_KB,
    "python_faq": PYTHON_FAQ,
}


@dataclass(frozen=True)
class Corpus:
    """A named set of files; ``manifest`` corpora take per-file metadata from manifest.json."""

    name: str
    folder: Path
    files: tuple[str, ...]
    manifest: bool = False

    def paths(self) -> list[Path]:
        """The corpus files, all present; raises ``EVAL_CORPUS_MISSING`` naming the first gap."""
        paths = [self.folder / name for name in self.files]
        missing = [p for p in paths if not p.is_file()]
        if missing or not paths:
            hint = (
                " Run `make eval-data` (it installs Debian's python3.11-doc)."
                if self.name == PYTHON_FAQ
                else ""
            )
            where = missing[0] if missing else self.folder
            raise InvalidInput(
                f"The {self.name} eval corpus is missing: {where} does not exist ({len(missing)}"
                f" of {len(paths)} files).{hint}",
                code="EVAL_CORPUS_MISSING",
                details={"corpus": self.name, "missing": [str(p) for p in missing]},
            )
        return paths

    def items(self, **defaults: Any) -> Iterator[tuple[bytes, IngestOptions]]:
        """Each file's bytes with its ingest options (``defaults``: the chunking settings)."""
        if self.manifest:  # in manifest order, as the server's first start ingests them
            from loaders.sample import options_for, read_manifest

            self.paths()
            for name, entry in read_manifest(self.folder).items():
                path = self.folder / name
                yield path.read_bytes(), options_for(path, entry, **defaults)
            return
        for path in self.paths():
            data = path.read_bytes()
            yield (
                data,
                IngestOptions(
                    filename=path.name,
                    title=page_title(data),
                    document_type="faq",
                    category=self.name,
                    source_type="manual",
                    **defaults,
                ),
            )


def corpus_name(dataset: str) -> str:
    """The corpus a dataset's questions are about."""
    return DATASET_CORPUS.get(dataset, SAMPLE_KB)


def get_corpus(name: str) -> Corpus:
    """The corpus called ``name`` (``EVAL_PYTHON_FAQ_DIR`` read here, at call time)."""
    if name == SAMPLE_KB:
        from loaders.sample import MANIFEST, SAMPLE_KB_DIR, read_manifest

        files = (MANIFEST, *sorted(read_manifest(SAMPLE_KB_DIR)))
        return Corpus(SAMPLE_KB, SAMPLE_KB_DIR, files, manifest=True)
    if name == PYTHON_FAQ:
        folder = Path(os.environ.get(PYTHON_FAQ_DIR_ENV) or PYTHON_FAQ_DIR)
        return Corpus(PYTHON_FAQ, folder, PYTHON_FAQ_FILES)
    raise InvalidInput(f"No eval corpus {name!r}.", code="EVAL_CORPUS_MISSING")


def corpora_for(datasets: list[str]) -> list[Corpus]:
    """The corpora a run over ``datasets`` needs, each once, in first-use order."""
    names = dict.fromkeys(corpus_name(d) for d in datasets)
    return [get_corpus(n) for n in names]


def page_title(data: bytes) -> str | None:
    """The page's first ``<h1>`` (else ``<title>``), without Sphinx's "¶" permalink."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    tag = soup.find("h1") or soup.find("title")
    text = " ".join(tag.get_text(" ", strip=True).split()) if tag else ""
    return text.removesuffix("¶").strip() or None
