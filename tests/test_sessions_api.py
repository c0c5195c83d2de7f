"""``sessions.create`` and ``sessions.cancel`` through the official Python SDK (hosted-api.md §3.1,
§3.2), plus kithost's retrieve and list extensions for sessions."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

import openai
import pytest
from openai.types.beta.chatkit import ChatSession

WORKFLOW = "wf_kithost_demo"
BETA = {"OpenAI-Beta": "chatkit_beta=v1"}
SESSION_ID = re.compile(r"^cksess_(?P<stamp>[0-9a-f]{8})[0-9a-f]{40}$")
CLIENT_SECRET = re.compile(r"^ek_(?P<stamp>[0-9a-f]{8})[0-9a-f]{40}_00(?P<tail>[A-Za-z0-9+/]+=*)$")

MINIMAL_DEFAULTS: dict[str, Any] = {
    "object": "chatkit.session",
    "status": "active",
    "chatkit_configuration": {
        "automatic_thread_titling": {"enabled": True},
        "file_upload": {"enabled": False, "max_file_size": 512, "max_files": 10},
        "history": {"enabled": True, "recent_threads": None},
    },
    "max_requests_per_1_minute": 10,
    "rate_limits": {"max_requests_per_1_minute": 10},
    "workflow": {
        "id": WORKFLOW,
        "version": None,
        "state_variables": None,
        "tracing": {"enabled": True},
    },
}


def unique_user() -> str:
    return f"user-{uuid.uuid4().hex}"


def created_at(session_id: str) -> int:
    """The creation time that a session id carries in its first 8 hex digits."""
    match = SESSION_ID.match(session_id)
    assert match, session_id
    return int(match["stamp"], 16)


def create_raw(client: openai.OpenAI, **params: Any) -> dict[str, Any]:
    """``sessions.create`` through the SDK, returning the JSON exactly as sent."""
    params.setdefault("workflow", {"id": WORKFLOW})
    response = client.beta.chatkit.sessions.with_raw_response.create(**params)
    body: dict[str, Any] = response.http_response.json()
    return body


def extension_get(client: openai.OpenAI, path: str, **params: Any) -> Any:
    """Call a kithost extension endpoint (no SDK method) with the SDK's own client."""
    return client.get(path, cast_to=object, options={"headers": BETA, "params": params})


def error_body(error: openai.APIStatusError) -> dict[str, Any]:
    assert isinstance(error.body, dict), error.body
    return error.body


def bad_request(client: openai.OpenAI, **params: Any) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.chatkit.sessions.create(**params)
    return caught.value


# create: the response


def test_minimal_request_gets_every_default(admin: openai.OpenAI) -> None:
    user = unique_user()
    body = create_raw(admin, user=user)

    assert set(body) == {*MINIMAL_DEFAULTS, "id", "client_secret", "expires_at", "user"}
    assert {k: v for k, v in body.items() if k in MINIMAL_DEFAULTS} == MINIMAL_DEFAULTS
    assert body["user"] == user
    assert body["expires_at"] == created_at(body["id"]) + 600


def test_id_and_client_secret_formats(admin: openai.OpenAI) -> None:
    before = int(time.time())
    session = admin.beta.chatkit.sessions.create(
        user=unique_user(),
        workflow={"id": WORKFLOW},
        expires_after={"anchor": "created_at", "seconds": 300},
    )
    after = time.time()

    created = created_at(session.id)
    assert before <= created <= after
    assert session.expires_at == created + 300

    secret = CLIENT_SECRET.match(session.client_secret)
    assert secret, session.client_secret
    assert created <= int(secret["stamp"], 16) <= after
    assert json.loads(base64.b64decode(secret["tail"], validate=True)) == {
        "expires_at": session.expires_at
    }


def test_ids_and_secrets_are_unique(admin: openai.OpenAI) -> None:
    user = unique_user()
    sessions = [
        admin.beta.chatkit.sessions.create(user=user, workflow={"id": WORKFLOW}) for _ in range(3)
    ]
    assert len({s.id for s in sessions}) == 3
    assert len({s.client_secret for s in sessions}) == 3


def test_every_supplied_field_is_echoed(admin: openai.OpenAI) -> None:
    user = unique_user()
    state = {"name": "Ada", "count": 3, "ratio": 0.25, "beta": False}
    body = create_raw(
        admin,
        user=user,
        workflow={
            "id": WORKFLOW,
            "version": "1",
            "state_variables": state,
            "tracing": {"enabled": False},
        },
        expires_after={"anchor": "created_at", "seconds": 120},
        rate_limits={"max_requests_per_1_minute": 42},
        chatkit_configuration={
            "automatic_thread_titling": {"enabled": False},
            "file_upload": {"enabled": True, "max_file_size": 20, "max_files": 3},
            "history": {"enabled": False, "recent_threads": 5},
        },
    )

    assert body["workflow"] == {
        "id": WORKFLOW,
        "version": "1",
        "state_variables": state,
        "tracing": {"enabled": False},
    }
    assert body["expires_at"] == created_at(body["id"]) + 120
    assert body["max_requests_per_1_minute"] == 42
    assert body["rate_limits"] == {"max_requests_per_1_minute": 42}
    assert body["chatkit_configuration"] == {
        "automatic_thread_titling": {"enabled": False},
        "file_upload": {"enabled": True, "max_file_size": 20, "max_files": 3},
        "history": {"enabled": False, "recent_threads": 5},
    }
    assert body["user"] == user
    assert body["status"] == "active"


def test_partial_configuration_fills_the_rest_with_defaults(admin: openai.OpenAI) -> None:
    body = create_raw(
        admin,
        user=unique_user(),
        chatkit_configuration={"file_upload": {"enabled": True}, "history": {}},
        rate_limits={},
    )
    assert body["chatkit_configuration"] == {
        "automatic_thread_titling": {"enabled": True},
        "file_upload": {"enabled": True, "max_file_size": 512, "max_files": 10},
        "history": {"enabled": True, "recent_threads": None},
    }
    assert body["rate_limits"] == {"max_requests_per_1_minute": 10}


# create: bounds


@pytest.mark.parametrize(
    ("params", "path", "expected"),
    [
        ({"expires_after": {"anchor": "created_at", "seconds": 1}}, None, None),
        ({"expires_after": {"anchor": "created_at", "seconds": 600}}, None, None),
        ({"rate_limits": {"max_requests_per_1_minute": 1}}, "max_requests_per_1_minute", 1),
        (
            {"rate_limits": {"max_requests_per_1_minute": 100_000}},
            "max_requests_per_1_minute",
            100_000,
        ),
        (
            {"chatkit_configuration": {"file_upload": {"max_file_size": 1}}},
            "chatkit_configuration.file_upload.max_file_size",
            1,
        ),
        (
            {"chatkit_configuration": {"file_upload": {"max_file_size": 512}}},
            "chatkit_configuration.file_upload.max_file_size",
            512,
        ),
        (
            {"chatkit_configuration": {"file_upload": {"max_files": 1}}},
            "chatkit_configuration.file_upload.max_files",
            1,
        ),
        (
            {"chatkit_configuration": {"file_upload": {"max_files": 1000}}},
            "chatkit_configuration.file_upload.max_files",
            1000,
        ),
        (
            {"chatkit_configuration": {"history": {"recent_threads": 1}}},
            "chatkit_configuration.history.recent_threads",
            1,
        ),
    ],
)
def test_values_at_the_bounds_are_accepted(
    admin: openai.OpenAI, params: dict[str, Any], path: str | None, expected: int | None
) -> None:
    body = create_raw(admin, user=unique_user(), **params)
    if "expires_after" in params:
        seconds = params["expires_after"]["seconds"]
        assert body["expires_at"] == created_at(body["id"]) + seconds
    else:
        assert path is not None
        value: Any = body
        for key in path.split("."):
            value = value[key]
        assert value == expected


def test_state_variables_at_their_limits_are_accepted(admin: openai.OpenAI) -> None:
    state: dict[str, Any] = {f"var_{n:02d}": n for n in range(63)}
    state["k" * 64] = "sixty-four characters is the longest key"
    body = create_raw(
        admin, user=unique_user(), workflow={"id": WORKFLOW, "state_variables": state}
    )
    assert body["workflow"]["state_variables"] == state


def test_state_variable_value_types_round_trip(admin: openai.OpenAI) -> None:
    state = {"text": "hello", "empty": "", "int": -7, "float": 1.5, "yes": True, "no": False}
    session = admin.beta.chatkit.sessions.create(
        user=unique_user(), workflow={"id": WORKFLOW, "state_variables": state}
    )
    assert session.workflow.state_variables == state
    stored = extension_get(admin, f"/chatkit/sessions/{session.id}")
    assert stored["workflow"]["state_variables"] == state
    assert type(stored["workflow"]["state_variables"]["float"]) is float
    assert type(stored["workflow"]["state_variables"]["yes"]) is bool


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        (
            {"expires_after": {"anchor": "created_at", "seconds": 0}},
            "expires_after.seconds",
            "integer_below_min_value",
        ),
        (
            {"expires_after": {"anchor": "created_at", "seconds": 601}},
            "expires_after.seconds",
            "integer_above_max_value",
        ),
        (
            {"expires_after": {"anchor": "created_at", "seconds": "60"}},
            "expires_after.seconds",
            "invalid_type",
        ),
        (
            {"expires_after": {"anchor": "created_at", "seconds": 1.5}},
            "expires_after.seconds",
            "invalid_type",
        ),
        (
            {"expires_after": {"anchor": "now", "seconds": 60}},
            "expires_after.anchor",
            "invalid_value",
        ),
        (
            {"expires_after": {"seconds": 60}},
            "expires_after.anchor",
            "missing_required_parameter",
        ),
        (
            {"rate_limits": {"max_requests_per_1_minute": 0}},
            "rate_limits.max_requests_per_1_minute",
            "integer_below_min_value",
        ),
        (
            {"rate_limits": {"max_requests_per_1_minute": 2**31}},
            "rate_limits.max_requests_per_1_minute",
            "integer_above_max_value",
        ),
        (
            {"chatkit_configuration": {"file_upload": {"max_file_size": 0}}},
            "chatkit_configuration.file_upload.max_file_size",
            "integer_below_min_value",
        ),
        (
            {"chatkit_configuration": {"file_upload": {"max_file_size": 513}}},
            "chatkit_configuration.file_upload.max_file_size",
            "integer_above_max_value",
        ),
        (
            {"chatkit_configuration": {"file_upload": {"max_files": 0}}},
            "chatkit_configuration.file_upload.max_files",
            "integer_below_min_value",
        ),
        (
            {"chatkit_configuration": {"history": {"recent_threads": 0}}},
            "chatkit_configuration.history.recent_threads",
            "integer_below_min_value",
        ),
        (
            {"chatkit_configuration": {"history": {"enabled": "yes"}}},
            "chatkit_configuration.history.enabled",
            "invalid_type",
        ),
        ({"user": ""}, "user", "string_below_min_length"),
        ({"user": 42}, "user", "invalid_type"),
        ({"workflow": {"id": ""}}, "workflow.id", "string_below_min_length"),
        ({"workflow": "wf_kithost_demo"}, "workflow", "invalid_type"),
    ],
)
def test_values_out_of_bounds_are_refused(
    admin: openai.OpenAI, params: dict[str, Any], param: str, code: str
) -> None:
    request: dict[str, Any] = {"user": unique_user(), "workflow": {"id": WORKFLOW}, **params}
    error = bad_request(admin, **request)
    assert error.status_code == 400
    assert error.type == "invalid_request_error"
    assert (error.param, error.code) == (param, code)


@pytest.mark.parametrize(
    ("state_variables", "code"),
    [
        ({f"v{n}": n for n in range(65)}, "object_above_max_properties"),
        ({"k" * 65: "one character too long"}, "invalid_value"),
        ({"nothing": None}, "invalid_type"),
        ({"list": [1, 2]}, "invalid_type"),
        ({"object": {"nested": True}}, "invalid_type"),
    ],
)
def test_state_variables_beyond_their_limits_are_refused(
    admin: openai.OpenAI, state_variables: dict[str, Any], code: str
) -> None:
    error = bad_request(
        admin, user=unique_user(), workflow={"id": WORKFLOW, "state_variables": state_variables}
    )
    assert error.code == code
    assert error.param == "workflow.state_variables"


def test_unknown_workflow_is_not_found(admin: openai.OpenAI) -> None:
    workflow_id = f"wf_{uuid.uuid4().hex}"
    with pytest.raises(openai.NotFoundError) as caught:
        admin.beta.chatkit.sessions.create(user=unique_user(), workflow={"id": workflow_id})
    assert caught.value.body == {
        "message": f"Workflow with id '{workflow_id}' not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_unknown_workflow_version_is_not_found(admin: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        admin.beta.chatkit.sessions.create(
            user=unique_user(), workflow={"id": WORKFLOW, "version": "999"}
        )
    message = error_body(caught.value)["message"]
    assert WORKFLOW in message
    assert "'999'" in message
    assert caught.value.type == "invalid_request_error"


@pytest.mark.parametrize("missing", ["user", "workflow"])
def test_missing_required_parameter(admin: openai.OpenAI, missing: str) -> None:
    body = {"user": unique_user(), "workflow": {"id": WORKFLOW}}
    del body[missing]
    with pytest.raises(openai.BadRequestError) as caught:
        admin.post("/chatkit/sessions", body=body, cast_to=object, options={"headers": BETA})
    assert caught.value.body == {
        "message": f"Missing required parameter: '{missing}'.",
        "type": "invalid_request_error",
        "param": missing,
        "code": "missing_required_parameter",
    }


def test_missing_workflow_id(admin: openai.OpenAI) -> None:
    error = bad_request(admin, user=unique_user(), workflow={"version": "1"})
    assert (error.param, error.code) == ("workflow.id", "missing_required_parameter")


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"colour": "blue"}, "colour"),
        ({"workflow": {"id": WORKFLOW, "colour": "blue"}}, "workflow.colour"),
        (
            {"chatkit_configuration": {"history": {"colour": "blue"}}},
            "chatkit_configuration.history.colour",
        ),
    ],
)
def test_unknown_parameter_is_refused(
    admin: openai.OpenAI, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        admin.beta.chatkit.sessions.create(
            user=unique_user(), workflow={"id": WORKFLOW}, extra_body=extra
        )
    assert (caught.value.param, caught.value.code) == (param, "unknown_parameter")


def test_nothing_is_stored_for_a_refused_request(admin: openai.OpenAI) -> None:
    user = unique_user()
    bad_request(admin, user=user, workflow={"id": WORKFLOW}, rate_limits={"x": 1})
    assert extension_get(admin, "/chatkit/sessions", user=user)["data"] == []


# cancel


def test_cancel_is_idempotent_and_changes_only_status_and_secret(admin: openai.OpenAI) -> None:
    created = create_raw(admin, user=unique_user())

    first = admin.beta.chatkit.sessions.with_raw_response.cancel(created["id"])
    second = admin.beta.chatkit.sessions.with_raw_response.cancel(created["id"])

    cancelled = first.http_response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["client_secret"] == ""
    unchanged = {k: v for k, v in created.items() if k not in ("status", "client_secret")}
    assert {k: v for k, v in cancelled.items() if k not in ("status", "client_secret")} == (
        unchanged
    )
    assert second.http_response.json() == cancelled
    assert isinstance(second.parse(), ChatSession)


def test_cancel_with_a_bad_prefix(admin: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        admin.beta.chatkit.sessions.cancel("id")
    assert caught.value.body == {
        "message": "Invalid 'session_id': 'id'. Expected an ID that begins with 'cksess'.",
        "type": "invalid_request_error",
        "param": "session_id",
        "code": "invalid_value",
    }


def test_cancel_an_unknown_session(admin: openai.OpenAI) -> None:
    unknown = "cksess_" + "0" * 48
    with pytest.raises(openai.NotFoundError) as caught:
        admin.beta.chatkit.sessions.cancel(unknown)
    assert caught.value.param == "session_id"
    assert unknown in error_body(caught.value)["message"]


def test_sessions_expire_lazily(admin: openai.OpenAI) -> None:
    user = unique_user()
    session = admin.beta.chatkit.sessions.create(
        user=user, workflow={"id": WORKFLOW}, expires_after={"anchor": "created_at", "seconds": 1}
    )
    time.sleep(max(0.0, session.expires_at - time.time()) + 0.5)

    retrieved = extension_get(admin, f"/chatkit/sessions/{session.id}")
    assert retrieved["status"] == "expired"
    assert retrieved["expires_at"] == session.expires_at
    listed = extension_get(admin, "/chatkit/sessions", user=user, status="expired")
    assert [s["id"] for s in listed["data"]] == [session.id]
    assert extension_get(admin, "/chatkit/sessions", user=user, status="active")["data"] == []

    cancelled = admin.beta.chatkit.sessions.cancel(session.id)
    assert cancelled.status == "expired"
    assert cancelled.client_secret == ""
    assert cancelled.expires_at == session.expires_at
    assert extension_get(admin, f"/chatkit/sessions/{session.id}")["status"] == "expired"


# extensions: retrieve and list


def test_retrieve_shows_the_session_without_its_secret(admin: openai.OpenAI) -> None:
    created = create_raw(admin, user=unique_user())
    retrieved = extension_get(admin, f"/chatkit/sessions/{created['id']}")
    assert retrieved == {**created, "client_secret": ""}

    admin.beta.chatkit.sessions.cancel(created["id"])
    retrieved = extension_get(admin, f"/chatkit/sessions/{created['id']}")
    assert retrieved == {**created, "client_secret": "", "status": "cancelled"}


def test_retrieve_unknown_and_malformed_ids(admin: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        extension_get(admin, "/chatkit/sessions/cksess_" + "f" * 48)
    assert not_found.value.param == "session_id"
    with pytest.raises(openai.BadRequestError) as malformed:
        extension_get(admin, "/chatkit/sessions/cthr_123")
    assert (malformed.value.param, malformed.value.code) == ("session_id", "invalid_value")


def test_list_filters_by_user_and_status(admin: openai.OpenAI) -> None:
    user, other = unique_user(), unique_user()
    active = admin.beta.chatkit.sessions.create(user=user, workflow={"id": WORKFLOW})
    cancelled = admin.beta.chatkit.sessions.create(user=user, workflow={"id": WORKFLOW})
    admin.beta.chatkit.sessions.cancel(cancelled.id)
    admin.beta.chatkit.sessions.create(user=other, workflow={"id": WORKFLOW})

    def ids(**filters: str) -> list[str]:
        page = extension_get(admin, "/chatkit/sessions", **filters)
        return [session["id"] for session in page["data"]]

    assert ids(user=user) == [cancelled.id, active.id]  # newest first
    assert ids(user=user, status="active") == [active.id]
    assert ids(user=user, status="cancelled") == [cancelled.id]
    assert ids(user=user, status="expired") == []
    assert active.id not in ids(user=other)

    listed = extension_get(admin, "/chatkit/sessions", user=user, status="active")["data"][0]
    assert listed == {**active.model_dump(mode="json"), "client_secret": ""}


def test_list_refuses_an_unknown_status(admin: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        extension_get(admin, "/chatkit/sessions", status="paused")
    assert (caught.value.param, caught.value.code) == ("status", "invalid_value")
