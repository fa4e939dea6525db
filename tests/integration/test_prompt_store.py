"""PromptStore on a real MongoDB-compatible server: seeding, versions, activation, cache."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pymongo import MongoClient, monitoring

from loaders.errors import InvalidInput, NotFound, ServiceUnavailable
from loaders.mongo import connect
from prompts import SPECS, PromptStore
from tests.servers import EmbeddedMongo, mongo_server

pytestmark = pytest.mark.integration

VARS = {
    "question": "When are invoices sent?",
    "passages": [{"title": "B", "content": "On the 1st."}],
}
STRICT_MARK = "Strict rules:"
SHIPPED_COUNT = 7  # v1 of six templates + answer v2


class Clock:
    """A hand-moved monotonic clock, so cache expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Finds(monitoring.CommandListener):
    """Counts the read commands a client sends, by collection."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in {"find", "aggregate", "count"}:
            self.reads.append(str(event.command.get(event.command_name)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture()
def store(mongo_db: Any) -> PromptStore:
    s = PromptStore(mongo_db)
    s.seed_from_files()
    return s


def test_seeding_is_idempotent_and_activates_the_shipped_defaults(mongo_db: Any) -> None:
    store = PromptStore(mongo_db)
    added = store.seed_from_files()
    assert len(added) == SHIPPED_COUNT and ("answer", "v2") in added
    assert store.seed_from_files() == []
    assert PromptStore(mongo_db).seed_from_files() == []  # another worker starting up
    coll = mongo_db["prompt_templates"]
    assert coll.count_documents({}) == SHIPPED_COUNT
    assert sorted(d["name"] for d in coll.find({"active": True})) == sorted(SPECS)
    doc = coll.find_one({"name": "answer", "version": "v1"})
    assert doc["template_type"] == "user" and doc["metadata"]["origin"] == "file"
    assert doc["content"]["variables"] == ["company_name", "passages", "question"]
    keys = {tuple(k for k, _ in i["key"]): i for i in coll.index_information().values()}
    assert keys[("name", "version")].get("unique") and keys[("template_id",)].get("unique")


def test_seeding_never_overwrites_an_edited_version_and_restores_a_missing_one(
    store: PromptStore, mongo_db: Any
) -> None:
    coll = mongo_db["prompt_templates"]
    coll.update_one({"name": "system", "version": "v1"}, {"$set": {"content.template": "edited"}})
    coll.delete_one({"name": "answer", "version": "v2"})
    assert PromptStore(mongo_db).seed_from_files() == [("answer", "v2")]
    assert coll.find_one({"name": "system", "version": "v1"})["content"]["template"] == "edited"
    assert coll.count_documents({}) == SHIPPED_COUNT


def test_seeding_keeps_an_admins_activation(store: PromptStore, mongo_db: Any) -> None:
    store.activate("answer", "v2", by="admin")
    mongo_db["prompt_templates"].delete_one({"name": "answer", "version": "v1"})
    PromptStore(mongo_db).seed_from_files()  # v1 comes back, but inactive
    assert PromptStore(mongo_db).active_version("answer") == "v2"


def test_concurrent_seeding_inserts_each_version_once(mongo_db: Any) -> None:
    stores = [PromptStore(mongo_db) for _ in range(3)]
    threads = [threading.Thread(target=s.seed_from_files) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    coll = mongo_db["prompt_templates"]
    assert coll.count_documents({}) == SHIPPED_COUNT
    assert len({(d["name"], d["version"]) for d in coll.find({})}) == SHIPPED_COUNT
    assert all(PromptStore(mongo_db).active_version(n) == "v1" for n in SPECS)


def test_activation_changes_what_render_returns(store: PromptStore, mongo_db: Any) -> None:
    assert STRICT_MARK not in store.render("answer", VARS)
    activated = store.activate("answer", "v2", by="admin@example.com")
    assert activated.active and activated.activated_by == "admin@example.com"
    assert store.active_version("answer") == "v2"
    assert STRICT_MARK in store.render("answer", VARS)
    actives = list(mongo_db["prompt_templates"].find({"name": "answer", "active": True}))
    assert [d["version"] for d in actives] == ["v2"]
    info = {t.name: t for t in store.list_templates()}
    assert info["answer"].active_version == "v2" and info["answer"].versions == ("v1", "v2")
    store.activate("answer", "v1", by="admin")
    assert STRICT_MARK not in store.render("answer", VARS)


def test_a_request_can_override_the_active_version(store: PromptStore) -> None:
    assert STRICT_MARK in store.render("answer", VARS, version="v2")
    assert STRICT_MARK not in store.render("answer", VARS)  # the global choice is unchanged
    assert store.active_version("answer") == "v1"


def test_unknown_template_or_version_is_prompt_not_found(store: PromptStore) -> None:
    calls = [
        lambda: store.render("answer", VARS, version="v9"),
        lambda: store.render("marketing", {}),
        lambda: store.activate("answer", "v9", by="admin"),
        lambda: store.list_versions("nope"),
    ]
    for call in calls:
        with pytest.raises(NotFound) as exc:
            call()
        assert exc.value.code == "PROMPT_NOT_FOUND"
    with pytest.raises(NotFound) as exc:
        store.get("answer", "v9")
    assert "available: v1, v2" in exc.value.message


def test_create_version_validates_and_stores_an_inactive_version(
    store: PromptStore, mongo_db: Any
) -> None:
    text = "Passages:\n{% for p in passages %}[{{ loop.index }}] {{ p.content }}\n{% endfor %}"
    created = store.create_version("answer", "v3", text + "Q: {{ question }}", "ana", "terse")
    assert not created.active and created.origin == "api" and created.created_by == "ana"
    assert created.variables == ("passages", "question")
    assert store.render("answer", VARS, version="v3").startswith("Passages:\n[1] On the 1st.")
    assert [v.version for v in store.list_versions("answer")] == ["v1", "v2", "v3"]
    with pytest.raises(InvalidInput) as dup:
        store.create_version("answer", "v3", text + "{{ question }}", "ana")
    assert dup.value.code == "PROMPT_VERSION_EXISTS" and dup.value.status == 409
    for bad in ("{{ ''.__class__.__mro__ }}{{ question }}{{ passages }}", "{{ api_key }}"):
        with pytest.raises(InvalidInput) as exc:
            store.create_version("answer", "v4", bad, "mallory")
        assert exc.value.code == "PROMPT_TEMPLATE_INVALID"
    assert mongo_db["prompt_templates"].count_documents({"version": "v4"}) == 0


def test_the_first_version_of_an_unseeded_template_becomes_active(mongo_db: Any) -> None:
    store = PromptStore(mongo_db)
    with pytest.raises(NotFound):
        store.render("no_answer", {})
    store.create_version("no_answer", "1.0.0", "Sorry, {{ company_name }} can't say.", "ana")
    assert store.render("no_answer", {"company_name": "Acme"}) == "Sorry, Acme can't say."


def test_another_process_sees_an_activation_within_the_refresh_interval(
    store: PromptStore, mongo_db: Any
) -> None:
    clock = Clock()
    worker = PromptStore(mongo_db, clock=clock)  # e.g. another API worker
    assert STRICT_MARK not in worker.render("answer", VARS)
    store.activate("answer", "v2", by="admin")
    clock.now += 0.5
    assert STRICT_MARK not in worker.render("answer", VARS)  # cached, not re-read yet
    clock.now += 0.6
    assert STRICT_MARK in worker.render("answer", VARS)


def test_renders_are_served_from_the_cache(mongo: EmbeddedMongo, mongo_db: Any) -> None:
    PromptStore(mongo_db).seed_from_files()
    finds = Finds()
    client: MongoClient[dict[str, Any]] = MongoClient(mongo.uri, event_listeners=[finds])
    try:
        clock = Clock()
        store = PromptStore(client[mongo_db.name], clock=clock)
        store.render("answer", VARS)
        warm = len(finds.reads)
        for _ in range(200):
            store.render("answer", VARS)
            store.render("system", {})
        assert len(finds.reads) - warm <= 2  # system's first load; no per-render queries
        before = len(finds.reads)
        clock.now += 1.0
        store.render("answer", VARS)
        assert finds.reads[before:] == ["prompt_template_revisions"]  # one cheap check
    finally:
        client.close()


def test_cached_prompts_are_served_while_mongodb_is_down() -> None:
    with mongo_server() as server:
        client = connect(server.uri, timeout_ms=300)
        clock = Clock()
        store = PromptStore(client["prompts"], clock=clock)
        store.seed_from_files()
        cached = store.render("answer", VARS)
        server.stop()
        clock.now += 5
        assert store.render("answer", VARS) == cached
        with pytest.raises(ServiceUnavailable):
            store.render("handoff", {})  # never loaded: a clear 503, not a hang
        client.close()
