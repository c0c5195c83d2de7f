"""Wire fidelity: raw JSON checked strictly against the SDK's models, and the error contract
(hosted-api.md §1.1-§1.3, §6): envelope, status classes, auth, beta header, request ids."""

from __future__ import annotations

import time
import types
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Union, get_args, get_origin

import httpx
import openai
import pydantic
import pytest
from openai.types.beta.chatkit import ChatKitThread, ChatSession, ThreadDeleteResponse
from openai.types.beta.chatkit.chatkit_thread_item_list import ChatKitThreadItemList

from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.seeding import make_thread, protocol_item, seed, user_message

WORKFLOW = "wf_kithost_demo"
BETA = {"OpenAI-Beta": "chatkit_beta=v1"}
ERROR_KEYS = {"message", "type", "param", "code"}
UNKNOWN_SESSION = "cksess_" + "0" * 48
UNKNOWN_THREAD = "cthr_" + "0" * 48


def unique_user() -> str:
    return f"user-{uuid.uuid4().hex}"


# strict shape checks against the SDK's own models


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def assert_wire_shape(value: Any, annotation: Any, where: str = "$") -> None:
    """Every field the SDK type declares is present (nullable ones as explicit ``null``), and
    each object of a union names one of the union's own ``type`` values."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        assert_wire_shape(value, args[0], where)
    elif origin in (Union, types.UnionType):
        if value is None:
            assert type(None) in args, f"{where} is null"
            return
        members = [a for a in args if a is not type(None)]
        if len(members) > 1 and all(_is_model(m) for m in members):
            members = [
                m
                for m in members
                if value.get("type") in get_args(m.model_fields["type"].annotation)
            ]
            assert len(members) == 1, f"{where}: unexpected type {value.get('type')!r}"
        if len(members) == 1:
            assert_wire_shape(value, members[0], where)
    elif origin is list:
        assert isinstance(value, list), where
        for index, element in enumerate(value):
            assert_wire_shape(element, args[0], f"{where}[{index}]")
    elif _is_model(annotation):
        assert isinstance(value, dict), where
        for name, field in annotation.model_fields.items():
            key = field.alias or name
            assert key in value, f"{where}.{key} is missing"
            assert_wire_shape(value[key], field.annotation, f"{where}.{key}")


def assert_strictly_valid(raw: Any, model: type[pydantic.BaseModel]) -> None:
    model.model_validate(raw, strict=True)
    assert_wire_shape(raw, model)


def test_session_responses_are_strictly_valid(admin: openai.OpenAI) -> None:
    created = admin.beta.chatkit.sessions.with_raw_response.create(
        user=unique_user(), workflow={"id": WORKFLOW}
    ).http_response.json()
    assert_strictly_valid(created, ChatSession)
    assert created["workflow"]["state_variables"] is None

    cancelled = admin.beta.chatkit.sessions.with_raw_response.cancel(created["id"])
    assert_strictly_valid(cancelled.http_response.json(), ChatSession)

    retrieved = admin.get(
        f"/chatkit/sessions/{created['id']}", cast_to=object, options={"headers": BETA}
    )
    assert_strictly_valid(retrieved, ChatSession)


def test_thread_responses_are_strictly_valid(server: KithostProcess, admin: openai.OpenAI) -> None:
    user = unique_user()
    locked = make_thread(user, created_at=time.time() - 60, status="locked")
    thread = make_thread(user, created_at=time.time() - 50)
    start = thread.created_at
    items = [
        user_message(thread.id, "hello", start),
        protocol_item(thread.id, "assistant_message", start + 1, content=[{"text": "hi"}]),
        protocol_item(thread.id, "widget", start + 2, widget={"type": "Card", "children": []}),
        protocol_item(
            thread.id, "client_tool_call", start + 3, call_id="c", name="n", arguments={}
        ),
        protocol_item(thread.id, "task", start + 4, task={"type": "custom"}),
        protocol_item(thread.id, "workflow", start + 5, workflow={"type": "custom", "tasks": []}),
        protocol_item(thread.id, "end_of_turn", start + 6),
        protocol_item(thread.id, "generated_image", start + 7, image=None),
    ]
    seed(server.database_url, [(locked, []), (thread, items)])
    threads_api = admin.beta.chatkit.threads.with_raw_response

    assert_strictly_valid(threads_api.retrieve(locked.id).http_response.json(), ChatKitThread)

    listed = threads_api.list(user=user).http_response.json()
    assert set(listed) == {"object", "data", "first_id", "last_id", "has_more"}
    assert listed["object"] == "list"
    for element in listed["data"]:
        assert_strictly_valid(element, ChatKitThread)

    item_list = threads_api.list_items(thread.id).http_response.json()
    assert_strictly_valid(item_list, ChatKitThreadItemList)
    assert len(item_list["data"]) == 6

    deleted = threads_api.delete(thread.id).http_response.json()
    assert_strictly_valid(deleted, ThreadDeleteResponse)


# the error envelope and status classes


@pytest.fixture
def wrong_key_client(server: KithostProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=f"{server.url}/v1", api_key="sk-kh-not-a-real-key-000000000", max_retries=0
    ) as client:
        yield client


def _bad_request(admin: openai.OpenAI, _wrong: openai.OpenAI) -> Any:
    return admin.post("/chatkit/sessions", body={}, cast_to=object, options={"headers": BETA})


def _unauthenticated(_admin: openai.OpenAI, wrong: openai.OpenAI) -> Any:
    return wrong.beta.chatkit.threads.list()


def _not_found(admin: openai.OpenAI, _wrong: openai.OpenAI) -> Any:
    return admin.beta.chatkit.threads.retrieve(UNKNOWN_THREAD)


@pytest.mark.parametrize(
    ("call", "error_class", "status"),
    [
        (_bad_request, openai.BadRequestError, 400),
        (_unauthenticated, openai.AuthenticationError, 401),
        (_not_found, openai.NotFoundError, 404),
    ],
)
def test_each_error_class_carries_the_envelope(
    admin: openai.OpenAI,
    wrong_key_client: openai.OpenAI,
    call: Callable[[openai.OpenAI, openai.OpenAI], Any],
    error_class: type[openai.APIStatusError],
    status: int,
) -> None:
    with pytest.raises(error_class) as caught:
        call(admin, wrong_key_client)
    error = caught.value
    raw = error.response.json()

    assert error.status_code == status
    assert set(raw) == {"error"}
    assert set(raw["error"]) == ERROR_KEYS
    assert isinstance(raw["error"]["message"], str)
    assert raw["error"]["type"] == "invalid_request_error"
    assert error.body == raw["error"]
    assert error.message == f"Error code: {status} - {raw['error']['message']}"
    assert error.request_id == error.response.headers["x-request-id"]
    assert error.response.headers["content-type"] == "application/json"


def test_wrong_key_is_401_with_www_authenticate(wrong_key_client: openai.OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong_key_client.beta.chatkit.sessions.create(user="u", workflow={"id": WORKFLOW})
    error = caught.value
    assert error.code == "invalid_api_key"
    assert error.param is None
    assert "sk-kh-not-a-real-key-000000000" not in error.message
    assert error.response.headers["www-authenticate"].startswith("Bearer realm=")


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic dXNlcjpwYXNz"])
def test_missing_bearer_key_is_401(server: KithostProcess, authorization: str | None) -> None:
    headers = dict(BETA)
    if authorization is not None:
        headers["Authorization"] = authorization
    with httpx.Client() as http:
        response = http.get(f"{server.url}/v1/chatkit/threads", headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": "Missing bearer or basic authentication in header",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    assert response.headers["www-authenticate"].startswith("Bearer")


# the beta header


ENDPOINTS = [
    ("POST", "/v1/chatkit/sessions"),
    ("POST", f"/v1/chatkit/sessions/{UNKNOWN_SESSION}/cancel"),
    ("GET", "/v1/chatkit/threads"),
    ("GET", f"/v1/chatkit/threads/{UNKNOWN_THREAD}"),
    ("DELETE", f"/v1/chatkit/threads/{UNKNOWN_THREAD}"),
    ("GET", f"/v1/chatkit/threads/{UNKNOWN_THREAD}/items"),
    ("GET", "/v1/chatkit/sessions"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("beta", [None, "assistants=v2"])
def test_missing_beta_header_is_refused(
    server: KithostProcess, method: str, path: str, beta: str | None
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
    if beta is not None:
        headers["OpenAI-Beta"] = beta
    with httpx.Client() as http:
        response = http.request(method, f"{server.url}{path}", headers=headers, content=b"{}")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "You must provide the 'OpenAI-Beta' header to access the Chatkit API. "
            "Please try again by setting the header 'OpenAI-Beta: chatkit_beta=v1'.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_beta",
        }
    }
    assert response.headers["x-request-id"].startswith("req_")


def test_beta_header_may_list_several_betas(server: KithostProcess) -> None:
    headers = {
        "Authorization": f"Bearer {ADMIN_KEY}",
        "OpenAI-Beta": "assistants=v2, chatkit_beta=v1",
    }
    with httpx.Client() as http:
        response = http.get(f"{server.url}/v1/chatkit/threads", headers=headers)
    assert response.status_code == 200


# auth comes before everything else


@pytest.mark.parametrize(
    ("method", "path", "headers", "content"),
    [
        ("POST", "/v1/chatkit/sessions", BETA, b"{not json"),
        ("POST", "/v1/chatkit/sessions", BETA, b'{"user": ""}'),
        ("POST", "/v1/chatkit/sessions", {}, b'{"user": "u", "workflow": {"id": "wf_x"}}'),
        ("POST", "/v1/chatkit/sessions/id/cancel", BETA, b""),
        ("GET", "/v1/chatkit/threads?limit=1000", BETA, b""),
        ("GET", "/v1/chatkit/threads/nope", BETA, b""),
    ],
)
def test_a_bad_key_is_refused_before_anything_else(
    server: KithostProcess, method: str, path: str, headers: dict[str, str], content: bytes
) -> None:
    with httpx.Client() as http:
        response = http.request(
            method,
            f"{server.url}{path}",
            headers={
                "Authorization": "Bearer sk-wrong",
                "Content-Type": "application/json",
                **headers,
            },
            content=content,
        )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


# bodies


@pytest.fixture
def http(server: KithostProcess) -> Iterator[httpx.Client]:
    """A bare HTTP client with the admin key and the beta header."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", **BETA}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        yield client


def test_cancel_and_delete_accept_an_empty_json_body(
    server: KithostProcess, admin: openai.OpenAI, http: httpx.Client
) -> None:
    session = admin.beta.chatkit.sessions.create(user=unique_user(), workflow={"id": WORKFLOW})
    thread = make_thread(unique_user())
    seed(server.database_url, [(thread, [])])
    empty_json = {"Content-Type": "application/json", "Content-Length": "0"}

    cancelled = http.post(f"/v1/chatkit/sessions/{session.id}/cancel", headers=empty_json)
    deleted = http.request("DELETE", f"/v1/chatkit/threads/{thread.id}", headers=empty_json)

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert deleted.status_code == 200
    assert deleted.json() == {"id": thread.id, "object": "chatkit.thread.deleted", "deleted": True}


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json", "invalid_json"),
        (b'{"user": "u", "workflow": ', "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b'["user", "workflow"]', "invalid_type"),
        (b"null", "invalid_type"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(
    http: httpx.Client, content: bytes, code: str
) -> None:
    response = http.post(
        "/v1/chatkit/sessions", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) == ERROR_KEYS
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("method", "path", "param"),
    [
        ("GET", "/v1/chatkit/threads?user=a%00b", "user"),
        ("GET", "/v1/chatkit/threads?workflow_id=wf_%00", "workflow_id"),
        ("GET", "/v1/chatkit/threads?after=cthr_%00", "after"),
        ("GET", "/v1/chatkit/threads?before=cthr_%00", "before"),
        ("GET", "/v1/chatkit/threads/cthr_%00", "thread_id"),
        ("DELETE", "/v1/chatkit/threads/cthr_%00", "thread_id"),
        ("GET", "/v1/chatkit/threads/cthr_%00/items", "thread_id"),
        ("GET", "/v1/chatkit/threads/cthr_%00/traces", "thread_id"),
        ("GET", "/v1/chatkit/sessions?user=%00", "user"),
        ("GET", "/v1/chatkit/sessions/cksess_%00", "session_id"),
        ("POST", "/v1/chatkit/sessions/cksess_%00/cancel", "session_id"),
    ],
)
def test_nul_characters_in_the_url_are_400_not_500(
    http: httpx.Client, method: str, path: str, param: str
) -> None:
    response = http.request(method, path)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def state_variables_body(state: bytes) -> bytes:
    return b'{"user": "u", "workflow": {"id": "wf_kithost_demo", "state_variables": %s}}' % state


@pytest.mark.parametrize(
    ("content", "param"),
    [
        (b'{"user": "a\\u0000b", "workflow": {"id": "wf_kithost_demo"}}', "user"),
        (b'{"user": "u", "workflow": {"id": "wf_\\u0000"}}', "workflow.id"),
        (b'{"user": "u", "workflow": {"id": "wf_x", "version": "\\u0000"}}', "workflow.version"),
        (state_variables_body(b'{"k": "\\u0000"}'), "workflow.state_variables"),
        (state_variables_body(b'{"\\u0000": 1}'), "workflow.state_variables"),
        (state_variables_body(b'{"k": NaN}'), "workflow.state_variables"),
        (state_variables_body(b'{"k": -Infinity}'), "workflow.state_variables"),
    ],
)
def test_unstorable_body_values_are_400_not_500(
    http: httpx.Client, content: bytes, param: str
) -> None:
    response = http.post(
        "/v1/chatkit/sessions", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


# unknown URLs and methods


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/chatkit/nothing-here", 404),
        ("GET", "/v1/models", 404),
        ("POST", f"/v1/chatkit/threads/{UNKNOWN_THREAD}/items/extra", 404),
        ("PUT", "/v1/chatkit/sessions", 405),
        ("GET", f"/v1/chatkit/sessions/{UNKNOWN_SESSION}/cancel", 405),
        # POST /v1/chatkit/threads and PATCH …/{thread_id} exist (server-side turns).
        ("PUT", "/v1/chatkit/threads", 405),
        ("PUT", f"/v1/chatkit/threads/{UNKNOWN_THREAD}", 405),
    ],
)
def test_unknown_urls_and_methods_use_the_envelope(
    http: httpx.Client, method: str, path: str, status: int
) -> None:
    response = http.request(method, path)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["type"] == "invalid_request_error"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"].startswith("req_")


# request ids


def test_every_response_has_its_own_request_id(server: KithostProcess, http: httpx.Client) -> None:
    session = http.post(
        "/v1/chatkit/sessions", json={"user": unique_user(), "workflow": {"id": WORKFLOW}}
    )
    responses = [
        session,
        http.post(f"/v1/chatkit/sessions/{session.json()['id']}/cancel"),
        http.get("/v1/chatkit/threads", params={"limit": 1}),
        http.get(f"/v1/chatkit/threads/{UNKNOWN_THREAD}"),
        http.get("/v1/chatkit/threads", params={"limit": 101}),
        http.get("/v1/chatkit/threads", headers={"Authorization": "Bearer sk-wrong"}),
        http.post(
            "/v1/chatkit/sessions", content=b"{", headers={"Content-Type": "application/json"}
        ),
        http.get("/v1/nowhere"),
        http.put("/v1/chatkit/sessions"),
        http.get("/healthz"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 400, 401, 400, 404, 405, 200]
    request_ids = [r.headers.get("x-request-id", "") for r in responses]
    assert all(rid.startswith("req_") for rid in request_ids), request_ids
    assert len(set(request_ids)) == len(request_ids)
    assert all(r.headers["content-type"] == "application/json" for r in responses)
