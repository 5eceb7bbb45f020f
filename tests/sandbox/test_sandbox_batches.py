"""The Message Batches API in the sandbox: wire shapes, envelope 400s, per-item errors,
deterministic processing by polls, cancel, and the official SDK against it."""

from __future__ import annotations

import json
import re

import anthropic
import pytest
from sandbox_helpers import HEADERS, MODEL, message_request

from chatbot.sandbox.batches import EXPIRES_AFTER, MAX_REQUESTS, BatchStore, check_envelope

PATH = "/v1/messages/batches"
COUNT_KEYS = {"processing", "succeeded", "errored", "canceled", "expired"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def item(custom_id: str, text: str = "Where is my order?", **overrides) -> dict:
    return {"custom_id": custom_id, "params": message_request(text, **overrides)}


def create(client, requests: list[dict], **headers):
    return client.post(PATH, json={"requests": requests}, headers=headers)


def results_of(client, batch_id: str) -> list[dict]:
    response = client.get(f"{PATH}/{batch_id}/results")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/binary"
    return [json.loads(line) for line in response.text.splitlines()]


def test_create_retrieve_and_results_shapes(client):
    response = create(client, [item("a"), item("b", "I need a refund")])
    assert response.status_code == 200
    batch = response.json()
    assert re.match(r"^msgbatch_[0-9a-f]{24}$", batch["id"])
    assert batch["type"] == "message_batch" and batch["processing_status"] == "in_progress"
    assert batch["request_counts"] == {"processing": 2, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    assert batch["ended_at"] is None and batch["results_url"] is None
    assert batch["archived_at"] is None and batch["cancel_initiated_at"] is None
    assert RFC3339.match(batch["created_at"]) and RFC3339.match(batch["expires_at"])

    ended = client.get(f"{PATH}/{batch['id']}").json()  # one poll ends it by default
    assert ended["processing_status"] == "ended" and RFC3339.match(ended["ended_at"])
    assert ended["request_counts"]["succeeded"] == 2 and set(ended["request_counts"]) == COUNT_KEYS
    assert ended["results_url"] == f"{client.base_url}{PATH}/{batch['id']}/results"

    lines = results_of(client, batch["id"])
    assert [line["custom_id"] for line in lines] == ["a", "b"]
    for line, text in zip(lines, ["Where is my order?", "I need a refund"]):
        assert line["result"]["type"] == "succeeded"
        plain = client.post("/v1/messages", json=message_request(text)).json()
        message = line["result"]["message"]
        # The same reply generator as /v1/messages; only the message id differs.
        assert message["id"].startswith("msg_") and message["id"] != plain["id"]
        assert {**message, "id": None} == {**plain, "id": None}


def test_a_bad_params_object_is_that_items_error_not_the_batchs(client):
    requests = [
        item("ok"),
        item("unknown-model", model="claude-0"),
        item("alternation", messages=[{"role": "assistant", "content": "Hi"}]),
        item("streamed", stream=True),
        {"custom_id": "no-max-tokens", "params": {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}},
    ]
    batch = create(client, requests).json()
    assert client.get(f"{PATH}/{batch['id']}").json()["request_counts"] == {
        "processing": 0, "succeeded": 1, "errored": 4, "canceled": 0, "expired": 0,
    }
    results = {line["custom_id"]: line["result"] for line in results_of(client, batch["id"])}
    assert results["ok"]["type"] == "succeeded"
    errors = {cid: result["error"] for cid, result in results.items() if cid != "ok"}
    assert all(result["type"] == "errored" for cid, result in results.items() if cid != "ok")
    assert all(error["type"] == "error" and error["request_id"].startswith("req_") for error in errors.values())
    assert errors["unknown-model"]["error"] == {"type": "not_found_error", "message": "model: claude-0"}
    assert errors["alternation"]["error"]["type"] == "invalid_request_error"
    assert "first message must use the \"user\" role" in errors["alternation"]["error"]["message"]
    assert "stream" in errors["streamed"]["error"]["message"]
    assert errors["no-max-tokens"]["error"]["message"] == "max_tokens: Field required"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "requests: Field required"),
        ({"requests": {}}, "requests: Input should be a valid list"),
        ({"requests": []}, "requests: List should have at least 1 item after validation, not 0"),
        ({"requests": ["x"]}, "requests.0: Input should be a valid dictionary"),
        ({"requests": [{"params": {}}]}, "requests.0.custom_id: Field required"),
        ({"requests": [item("has space")]}, "requests.0.custom_id: String should match pattern"),
        ({"requests": [item("x" * 65)]}, "requests.0.custom_id: String should match pattern"),
        ({"requests": [item("a"), item("b"), item("a")]}, "requests.2.custom_id: duplicate custom_id 'a'"),
        ({"requests": [{"custom_id": "a"}]}, "requests.0.params: Field required"),
        ({"requests": [{"custom_id": "a", "params": []}]}, "requests.0.params: Input should be a valid dictionary"),
    ],
)
def test_a_malformed_envelope_is_a_400(client, sandbox, body, message):
    response = client.post(PATH, json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith(message)
    assert error["request_id"] == response.headers["request-id"]
    assert client.get(PATH).json()["data"] == []  # nothing was created


def test_at_most_100000_requests():
    small = {"custom_id": "x", "params": {}}
    too_many = {"requests": [{**small, "custom_id": f"r{i}"} for i in range(MAX_REQUESTS + 1)]}
    error = check_envelope(too_many)
    assert error.status == 400
    assert error.message.endswith(f"at most {MAX_REQUESTS} items after validation, not {MAX_REQUESTS + 1}")
    too_many["requests"].pop()
    assert check_envelope(too_many) is None


def test_auth_and_version_are_checked_on_every_batch_route(client, sandbox):
    batch = create(client, [item("a")]).json()
    for method, path in [("POST", PATH), ("GET", PATH), ("GET", f"{PATH}/{batch['id']}"),
                         ("POST", f"{PATH}/{batch['id']}/cancel"), ("GET", f"{PATH}/{batch['id']}/results"),
                         ("DELETE", f"{PATH}/{batch['id']}")]:
        no_key = client.request(method, path, headers={"x-api-key": ""})
        assert no_key.status_code == 401, (method, path)
        no_version = client.request(method, path, headers={"anthropic-version": ""})
        assert no_version.status_code == 400, (method, path)
    # The key is never written to the request log.
    assert all("x-api-key" not in entry["headers"] for entry in sandbox.state.requests())
    assert HEADERS["x-api-key"] not in json.dumps(sandbox.state.requests())


def test_processing_advances_one_share_per_poll(client, sandbox):
    requests = [item(f"r{i}") for i in range(5)]
    batch = create(client, requests, **{"x-sandbox-batch-polls": "3"}).json()
    seen = [client.get(f"{PATH}/{batch['id']}").json() for _ in range(3)]
    assert [b["request_counts"]["succeeded"] for b in seen] == [1, 3, 5]
    assert [b["processing_status"] for b in seen] == ["in_progress", "in_progress", "ended"]
    # Listing is not polling: it never advances a batch.
    sandbox.state.batches.polls_to_end = 2
    other = create(client, requests).json()
    client.get(PATH)
    assert client.get(f"{PATH}/{other['id']}").json()["request_counts"]["succeeded"] == 2


def test_zero_polls_ends_on_creation_and_a_bad_polls_header_is_a_400(client):
    batch = create(client, [item("a")], **{"x-sandbox-batch-polls": "0"}).json()
    assert batch["processing_status"] == "ended" and batch["request_counts"]["succeeded"] == 1
    response = create(client, [item("a")], **{"x-sandbox-batch-polls": "soon"})
    assert response.status_code == 400 and "x-sandbox-batch-polls" in response.json()["error"]["message"]


def test_results_are_refused_until_the_batch_has_ended(client, sandbox):
    batch = create(client, [item("a")], **{"x-sandbox-batch-polls": "5"}).json()
    response = client.get(f"{PATH}/{batch['id']}/results")
    assert response.status_code == 400
    assert "has not finished processing" in response.json()["error"]["message"]
    sandbox.state.batches.finish(batch["id"])
    assert [line["custom_id"] for line in results_of(client, batch["id"])] == ["a"]


def test_cancel_cancels_what_was_not_processed(client):
    batch = create(client, [item(f"r{i}") for i in range(4)], **{"x-sandbox-batch-polls": "2"}).json()
    assert client.get(f"{PATH}/{batch['id']}").json()["request_counts"]["succeeded"] == 2
    canceling = client.post(f"{PATH}/{batch['id']}/cancel")
    assert canceling.status_code == 200
    body = canceling.json()
    assert body["processing_status"] == "canceling" and RFC3339.match(body["cancel_initiated_at"])
    ended = client.get(f"{PATH}/{batch['id']}").json()
    assert ended["processing_status"] == "ended"
    assert ended["request_counts"] == {"processing": 0, "succeeded": 2, "errored": 0, "canceled": 2, "expired": 0}
    results = results_of(client, batch["id"])
    assert [line["result"]["type"] for line in results] == ["succeeded", "succeeded", "canceled", "canceled"]
    assert results[2]["result"] == {"type": "canceled"}
    again = client.post(f"{PATH}/{batch['id']}/cancel")
    assert again.status_code == 400 and "already ended" in again.json()["error"]["message"]


def test_expiry_after_24_hours_of_virtual_time(client, sandbox):
    store = sandbox.state.batches
    now = [1_000_000.0]
    store.clock = lambda: now[0]
    batch = create(client, [item("a"), item("b")], **{"x-sandbox-batch-polls": "2"}).json()
    assert client.get(f"{PATH}/{batch['id']}").json()["request_counts"]["succeeded"] == 1
    now[0] += EXPIRES_AFTER
    expired = client.get(f"{PATH}/{batch['id']}").json()
    assert expired["processing_status"] == "ended"
    assert (expired["request_counts"]["succeeded"], expired["request_counts"]["expired"]) == (1, 1)
    assert [line["result"]["type"] for line in results_of(client, batch["id"])] == ["succeeded", "expired"]


def test_delete_only_once_ended_and_unknown_ids_are_404(client, sandbox):
    batch = create(client, [item("a")], **{"x-sandbox-batch-polls": "3"}).json()
    refused = client.delete(f"{PATH}/{batch['id']}")
    assert refused.status_code == 400 and "still processing" in refused.json()["error"]["message"]
    sandbox.state.batches.finish()
    deleted = client.delete(f"{PATH}/{batch['id']}")
    assert deleted.json() == {"id": batch["id"], "type": "message_batch_deleted"}
    for method, suffix in [("GET", ""), ("GET", "/results"), ("POST", "/cancel"), ("DELETE", "")]:
        response = client.request(method, f"{PATH}/{batch['id']}{suffix}")
        assert response.status_code == 404 and response.json()["error"]["type"] == "not_found_error"


def test_list_newest_first_with_cursor_pagination(client):
    ids = [create(client, [item("a")]).json()["id"] for _ in range(5)]
    newest_first = ids[::-1]
    first = client.get(PATH, params={"limit": 2}).json()
    assert [b["id"] for b in first["data"]] == newest_first[:2]
    assert (first["has_more"], first["first_id"], first["last_id"]) == (True, newest_first[0], newest_first[1])
    rest = client.get(PATH, params={"limit": 10, "after_id": first["last_id"]}).json()
    assert [b["id"] for b in rest["data"]] == newest_first[2:] and rest["has_more"] is False
    before = client.get(PATH, params={"limit": 2, "before_id": newest_first[3]}).json()
    assert [b["id"] for b in before["data"]] == newest_first[1:3] and before["has_more"] is True
    assert client.get(PATH).json()["has_more"] is False
    for bad in ("0", "1001", "many"):
        assert client.get(PATH, params={"limit": bad}).status_code == 400


@pytest.mark.parametrize("status", [429, 500, 529])
def test_a_status_fault_refuses_a_poll_without_advancing_it(client, sandbox, status):
    batch = create(client, [item("a")]).json()
    sandbox.state.add_faults([{"kind": "status", "status": status, "retry_after": "1"}])
    refused = client.get(f"{PATH}/{batch['id']}")
    assert refused.status_code == status and refused.headers["retry-after"] == "1"
    assert client.get(f"{PATH}/{batch['id']}").json()["processing_status"] == "ended"


def test_the_store_alone_is_deterministic_and_clear_resets_it():
    store = BatchStore(polls_to_end=2, clock=lambda: 0.0)
    batch = store.create({"requests": [item("a"), item("b"), item("c")]})
    assert store.poll(batch.id).counts()["succeeded"] == 1
    store.finish(batch.id)
    assert batch.status == "ended" and batch.counts()["succeeded"] == 3
    store.polls_to_end = 9
    store.clear()
    assert store.polls_to_end == 2 and store.get(batch.id).status == 404


# -- the official SDK, unchanged --------------------------------------------------------


@pytest.fixture
def sdk(sandbox):
    with anthropic.Anthropic(api_key="sk-test", base_url=sandbox.base_url, max_retries=0) as client:
        yield client


def test_sdk_creates_retrieves_and_reads_results(sdk):
    params = {"model": MODEL, "max_tokens": 300, "messages": [{"role": "user", "content": "I need a refund"}]}
    batch = sdk.messages.batches.create(requests=[
        {"custom_id": "refund", "params": params},
        {"custom_id": "bad-model", "params": {**params, "model": "claude-0"}},
    ])
    assert batch.processing_status == "in_progress" and batch.request_counts.processing == 2
    assert batch.created_at.tzinfo is not None and batch.expires_at > batch.created_at
    ended = sdk.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.results_url.endswith(f"/{batch.id}/results")
    assert (ended.request_counts.succeeded, ended.request_counts.errored) == (1, 1)
    results = {entry.custom_id: entry.result for entry in sdk.messages.batches.results(batch.id)}
    assert results["refund"].type == "succeeded"
    message = results["refund"].message
    assert message.content[0].text == sdk.messages.create(**params).content[0].text
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert results["bad-model"].type == "errored"
    assert results["bad-model"].error.error.type == "not_found_error"


def test_sdk_lists_cancels_and_deletes(sdk, sandbox):
    params = {"model": MODEL, "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}
    first = sdk.messages.batches.create(requests=[{"custom_id": "a", "params": params}])
    second = sdk.messages.batches.create(
        requests=[{"custom_id": "a", "params": params}], extra_headers={"x-sandbox-batch-polls": "4"}
    )
    listed = [batch.id for batch in sdk.messages.batches.list(limit=1)]  # the SDK follows the cursor
    assert listed == [second.id, first.id]
    assert sdk.messages.batches.cancel(second.id).processing_status == "canceling"
    canceled = sdk.messages.batches.retrieve(second.id)
    assert canceled.request_counts.canceled == 1
    assert [entry.result.type for entry in sdk.messages.batches.results(second.id)] == ["canceled"]
    assert sdk.messages.batches.delete(second.id).type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.batches.retrieve(second.id)
    with pytest.raises(anthropic.BadRequestError, match="still processing"):
        sdk.messages.batches.delete(first.id)
