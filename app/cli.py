"""The ``supportbot`` command: ``serve`` the API, ``ingest`` files, ``users create-admin``,
``analytics rebuild``, ``eval run`` / ``eval compare`` (see :mod:`evals.cli`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymongo import MongoClient

    from loaders.mongo import EmbeddedMongo
    from loaders.settings import Settings

SUPPORTED_SUFFIXES = {".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt"}


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app
    from app.observability import configure_logging
    from loaders.settings import get_settings

    configure_logging(os.environ.get("LOG_FORMAT", "json"), os.environ.get("LOG_LEVEL", "INFO"))
    settings = get_settings()
    if (problem := _local_model_problem(settings)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    host = args.host or settings.host
    port = args.port or settings.port
    settings = settings.model_copy(update={"host": host, "port": port})  # the widget's dev key
    base = f"http://{host}:{port}"
    print(f"supportbot starting on {base}", flush=True)
    print(f"  API docs:   {base}/docs", flush=True)
    print(f"  Log in:     {base}/login?next=/chat/playground/", flush=True)
    print(f"  Playground: {base}/chat/playground/", flush=True)
    print(f"  Agent inbox: {base}/agent/", flush=True)
    print(f"  Search API: {base}/api/v1/knowledge-base/search", flush=True)
    if not settings.is_production:
        print(f"  Widget demo: {base}/widget/demo", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", log_config=None)
    return 0


def _local_model_problem(settings: Settings) -> str | None:
    """With ``LLM=local``, why the local model cannot start (before anything else starts)."""
    from chains.local_llm.model import require_prepared
    from chains.providers import canonical_spec
    from loaders.errors import SupportbotError

    try:
        if settings.llm and canonical_spec(settings.llm) == "local" and not settings.local_llm_url:
            require_prepared(settings)
    except SupportbotError as exc:
        return f"LLM={settings.llm}: {exc.message}"
    return None


def iter_files(paths: Sequence[str]) -> Iterator[Path]:
    """Named files as given; folders walked for supported extensions (hidden ones skipped)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and (path / "manifest.json").is_file():
            # A manifest names the folder's documents; other files (README...) are not in the KB.
            from loaders.sample import read_manifest

            yield from (path / name for name in read_manifest(path))
        elif path.is_dir():
            for p in sorted(path.rglob("*")):
                rel = p.relative_to(path)
                if (
                    p.is_file()
                    and p.suffix.lower() in SUPPORTED_SUFFIXES
                    and not any(part.startswith((".", "_")) for part in rel.parts)
                ):
                    yield p
        else:
            yield path


@dataclass
class Summary:
    documents: int = 0
    chunks: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def print(self) -> None:
        print(
            f"\nIngested {self.documents} document(s), {self.chunks} chunk(s); "
            f"{self.unchanged} unchanged (skipped); {len(self.failed)} failed."
        )
        for name, reason in self.failed:
            print(f"  FAILED {name}: {reason}")


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from loaders.errors import SupportbotError
    from loaders.sample import options_for, read_manifest
    from loaders.settings import get_settings
    from loaders.stack import build_services

    files = list(iter_files(args.paths))
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"error: not a file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        svc = build_services(get_settings(), start_worker=False)
    except SupportbotError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 3
    summary = Summary()
    defaults = {
        "document_type": args.type,
        "category": args.category,
        "tags": [t.strip() for t in args.tags.split(",")] if args.tags else None,
        "chunking_strategy": args.chunking,
        "chunk_size": args.chunk_size,
        "chunk_overlap": args.chunk_overlap,
    }
    try:
        for path in tqdm(files, desc="Ingesting", unit="file", disable=args.quiet):
            entry = read_manifest(path.parent).get(path.name)
            try:
                opts = options_for(path, entry, **defaults).validated(max_tokens=svc.kb.max_tokens)
                result = svc.kb.ingest(path.read_bytes(), opts)
            except SupportbotError as exc:
                summary.failed.append((str(path), f"{exc.code}: {exc.message}"))
                continue
            if result.status == "unchanged":
                summary.unchanged += 1
            else:
                summary.documents += 1
                summary.chunks += len(result.vector_ids)
    finally:
        svc.close()
    summary.print()
    return 1 if summary.failed else 0


ADMIN_PASSWORD_ENV = "SUPPORTBOT_ADMIN_PASSWORD"


def _admin_password(args: argparse.Namespace) -> str:
    """--password, else the environment, else stdin (kept out of shell history)."""
    if args.password:
        return str(args.password)
    if os.environ.get(ADMIN_PASSWORD_ENV):
        return os.environ[ADMIN_PASSWORD_ENV]
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Admin password: ")
    return sys.stdin.readline().rstrip("\r\n")


def _users_mongo(settings: Settings) -> tuple[MongoClient[dict[str, Any]], EmbeddedMongo | None]:
    """A client to the configured MongoDB, else to the embedded one a running server owns."""
    from pymongo.errors import PyMongoError

    from loaders.mongo import connect
    from loaders.stack import start_mongo

    port_file = settings.data_dir / "mongo-port"
    if not settings.mongodb_uri and port_file.is_file():
        port = port_file.read_text().strip()
        client = connect(f"mongodb://127.0.0.1:{port}/?directConnection=true", timeout_ms=1000)
        try:
            client.admin.command("ping")
            return client, None
        except PyMongoError:
            client.close()  # stale port file: nobody is serving it, start our own below
    uri, server = start_mongo(settings)
    return connect(uri), server


def cmd_create_admin(args: argparse.Namespace) -> int:
    from app.auth.service import AuthService
    from loaders.errors import SupportbotError
    from loaders.settings import get_settings

    settings = get_settings()
    password = _admin_password(args)
    client, server = _users_mongo(settings)
    try:
        auth = AuthService.build(client[settings.mongodb_name], settings)
        user = auth.create_user(args.email, password, args.full_name, role="admin")
    except SupportbotError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        client.close()
        if server is not None:
            server.stop()
    print(f"created admin {user['email']} (user_id {user['user_id']})")
    return 0


def cmd_analytics_rebuild(args: argparse.Namespace) -> int:
    """Recompute the dashboard's summaries from raw events (after an upgrade, or to repair)."""
    from chains.analytics.summaries import rebuild_all, repair_stale
    from loaders.mongo import ensure_indexes
    from loaders.settings import get_settings

    settings = get_settings()
    client, server = _users_mongo(settings)
    try:
        db = client[settings.mongodb_name]
        ensure_indexes(db)
        repaired = repair_stale(db)
        done = rebuild_all(db)
    finally:
        client.close()
        if server is not None:
            server.stop()
    print(f"rebuilt {done['hours']} hours from {done['events']} events ({repaired} repaired)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)
    ingest = sub.add_parser("ingest", help="ingest files and folders into the knowledge base")
    ingest.add_argument("paths", nargs="+", help="files or folders")
    ingest.add_argument("--type", choices=["faq", "sop", "module", "general"], default=None)
    ingest.add_argument("--category")
    ingest.add_argument("--tags", help="comma-separated")
    ingest.add_argument("--chunking", choices=["structure", "fixed", "recursive", "semantic"])
    ingest.add_argument("--chunk-size", type=int)
    ingest.add_argument("--chunk-overlap", type=int)
    ingest.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(func=cmd_ingest)
    users = sub.add_parser("users", help="manage user accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    admin = users_sub.add_parser("create-admin", help="create an admin account")
    admin.add_argument("--email", required=True)
    admin.add_argument(
        "--password", help=f"prefer ${ADMIN_PASSWORD_ENV} or stdin: arguments reach shell history"
    )
    admin.add_argument("--full-name", default="Administrator")
    admin.set_defaults(func=cmd_create_admin)
    analytics = sub.add_parser("analytics", help="analytics maintenance")
    analytics_sub = analytics.add_subparsers(dest="analytics_command", required=True)
    rebuild = analytics_sub.add_parser("rebuild", help="rebuild the dashboard's summaries")
    rebuild.set_defaults(func=cmd_analytics_rebuild)
    from evals.cli import add_eval_parser

    add_eval_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _offline_env()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper())
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
