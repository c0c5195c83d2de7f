"""``/v1/openapi.json`` describes what kithost really serves (issue 15, finding 9).

The document is valid OpenAPI 3.1, lists every route with its credentials, request bodies and
every status it answers (errors in the OpenAI envelope, no 422), its hosted objects agree with
the official SDK's types, and real answers of a running kithost — successes and errors, a
handful per operation, on SQLite and PostgreSQL — validate against the schema it documents for
their status.
"""

from __future__ import annotations

import io
import json
import time
import types
import typing
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from jsonschema import Draft202012Validator
from openai.types import (
    FileDeleted,
    FileObject,
    VectorStore,
    VectorStoreDeleted,
    VectorStoreSearchResponse,
)
from openai.types.beta.chatkit import (
    ChatKitAttachment,
    ChatKitResponseOutputText,
    ChatKitThread,
    ChatKitThreadAssistantMessageItem,
    ChatKitThreadItemList,
    ChatKitThreadUserMessageItem,
    ChatKitWidgetItem,
    ChatSession,
    ChatSessionAutomaticThreadTitling,
    ChatSessionChatKitConfiguration,
    ChatSessionFileUpload,
    ChatSessionHistory,
    ChatSessionRateLimits,
    ThreadDeleteResponse,
)
from openai.types.beta.chatkit.chatkit_thread import StatusActive, StatusClosed, StatusLocked
from openai.types.beta.chatkit.chatkit_thread_item_list import (
    DataChatKitClientToolCall,
    DataChatKitTask,
    DataChatKitTaskGroup,
    DataChatKitTaskGroupTask,
)
from openai.types.beta.chatkit.chatkit_thread_user_message_item import (
    InferenceOptions,
    InferenceOptionsToolChoice,
)
from openai.types.beta.chatkit_workflow import ChatKitWorkflow, Tracing
from openai.types.vector_store import FileCounts
from openai.types.vector_stores import (
    FileContentResponse,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileDeleted,
)
from openapi_spec_validator import OpenAPIV31SpecValidator
from pydantic import BaseModel
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from kithost.core import ids
from tests.support.chatkit_client import BETA_HEADERS, DEMO, ECHO, unique_user, user_input
from tests.support.fake_model import FakeModelServer
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.seeding import make_thread, protocol_item, seed, user_message
from tests.support.workflow_files import FAQ_BOT, copy_fixture_exports, kithost_env, serving

with warnings.catch_warnings():
    # chatkit 1.6.5 warns about its own widget classes on first import (see store_factories).
    warnings.filterwarnings("ignore", "Direct usage of named widget", DeprecationWarning)
    from chatkit.types import ChatKitReq

    from kithost.app import create_app

DOCUMENT_PATH = "/v1/openapi.json"
DOCUMENT_URI = "urn:kithost:openapi"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CHATKIT_ADMIN = {**ADMIN, **BETA_HEADERS}
WRONG_KEY = {"Authorization": "Bearer sk-kh-not-a-key", **BETA_HEADERS}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TOO_LARGE = 2 * 1024 * 1024  # past the default body limits of the control plane and ChatKit
NO_SESSION = "cksess_" + "0" * 48
NO_THREAD = "cthr_" + "0" * 48
NO_RUN = "run_" + "0" * 48
NO_FILE = "file-" + "A" * 22
NO_STORE = "vs_" + "0" * 32

# Operations of OpenAI's hosted API, named after the Python SDK's methods (``client.<id>``).
HOSTED = {
    "beta.chatkit.sessions.create",
    "beta.chatkit.sessions.cancel",
    "beta.chatkit.threads.list",
    "beta.chatkit.threads.retrieve",
    "beta.chatkit.threads.delete",
    "beta.chatkit.threads.list_items",
    "files.create",
    "files.list",
    "files.retrieve",
    "files.delete",
    "files.content",
    "vector_stores.create",
    "vector_stores.list",
    "vector_stores.retrieve",
    "vector_stores.update",
    "vector_stores.delete",
    "vector_stores.search",
    "vector_stores.files.create",
    "vector_stores.files.list",
    "vector_stores.files.retrieve",
    "vector_stores.files.update",
    "vector_stores.files.delete",
    "vector_stores.files.content",
    "vector_stores.file_batches.create",
    "vector_stores.file_batches.retrieve",
    "vector_stores.file_batches.cancel",
    "vector_stores.file_batches.list_files",
}
# kithost's own, and what the Python SDK has no method for (the ChatKit protocol, uploads).
NOT_IN_THE_SDK = {
    "healthz",
    "openapi",
    "chatkit.conversation",
    "beta.chatkit.upload_file",
    "beta.chatkit.files.upload_bytes",
    "beta.chatkit.files.upload_bytes_put",
    "beta.chatkit.files.content",
    "beta.chatkit.sessions.retrieve",
    "beta.chatkit.sessions.list",
    "beta.chatkit.threads.list_traces",
    "beta.chatkit.threads.list_runs",
    "beta.chatkit.runs.retrieve",
    "beta.chatkit.runs.cancel",
    "beta.chatkit.runs.events",
    "beta.chatkit.workflows.list",
    "beta.chatkit.threads.create",
    "beta.chatkit.threads.create_message",
    "beta.chatkit.threads.create_item",
    "beta.chatkit.threads.update",
    "beta.chatkit.threads.patch",
    "beta.chatkit.webhooks.create",
    "beta.chatkit.webhooks.list",
    "beta.chatkit.webhooks.retrieve",
    "beta.chatkit.webhooks.update",
    "beta.chatkit.webhooks.delete",
    "beta.chatkit.webhooks.secret",
    "beta.chatkit.webhooks.rotate_secret",
    "beta.chatkit.webhooks.list_deliveries",
    "beta.chatkit.webhooks.resend_delivery",
    "beta.chatkit.users.export",
    "beta.chatkit.users.erase",
    "beta.chatkit.usage.retrieve",
}
# Response components and the SDK types they must agree with, with the fields where kithost
# differs: extensions it adds, or (``name?``) a null where the SDK types a value.
SDK_TYPES: list[tuple[str, type[BaseModel], set[str]]] = [
    ("ChatSession", ChatSession, set()),
    ("ChatSessionChatKitConfiguration", ChatSessionChatKitConfiguration, set()),
    ("ChatSessionAutomaticThreadTitling", ChatSessionAutomaticThreadTitling, set()),
    ("ChatSessionFileUpload", ChatSessionFileUpload, set()),
    ("ChatSessionHistory", ChatSessionHistory, set()),
    ("ChatSessionRateLimits", ChatSessionRateLimits, set()),
    ("ChatKitWorkflow", ChatKitWorkflow, set()),
    ("ChatKitWorkflowTracing", Tracing, set()),
    ("ChatKitThread", ChatKitThread, set()),
    ("ChatKitThreadActiveStatus", StatusActive, set()),
    ("ChatKitThreadLockedStatus", StatusLocked, set()),
    ("ChatKitThreadClosedStatus", StatusClosed, set()),
    ("ThreadDeleteResponse", ThreadDeleteResponse, set()),
    ("ChatKitThreadItemList", ChatKitThreadItemList, set()),
    ("ChatKitThreadUserMessageItem", ChatKitThreadUserMessageItem, set()),
    ("ChatKitInferenceOptions", InferenceOptions, set()),
    ("ChatKitToolChoice", InferenceOptionsToolChoice, set()),
    ("ChatKitAttachment", ChatKitAttachment, set()),
    ("ChatKitThreadAssistantMessageItem", ChatKitThreadAssistantMessageItem, set()),
    ("ChatKitResponseOutputText", ChatKitResponseOutputText, set()),
    ("ChatKitWidgetItem", ChatKitWidgetItem, set()),
    ("ChatKitClientToolCall", DataChatKitClientToolCall, set()),
    ("ChatKitTask", DataChatKitTask, set()),
    ("ChatKitTaskGroup", DataChatKitTaskGroup, set()),
    ("ChatKitTaskGroupTask", DataChatKitTaskGroupTask, set()),
    ("FileObject", FileObject, set()),
    ("FileDeleted", FileDeleted, set()),
    ("VectorStore", VectorStore, {"name?"}),  # a store created without a name
    ("FileCounts", FileCounts, set()),
    ("VectorStoreDeleted", VectorStoreDeleted, set()),
    ("VectorStoreFile", VectorStoreFile, set()),
    ("VectorStoreFileDeleted", VectorStoreFileDeleted, set()),
    ("VectorStoreFileBatch", VectorStoreFileBatch, set()),
    ("VectorStoreText", FileContentResponse, set()),
    ("VectorStoreSearchResult", VectorStoreSearchResponse, set()),
]


@pytest.fixture(scope="module")
def kithost(
    database_url: str, fake: FakeModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    """kithost with Agent Builder exports on the fake model (they record traces)."""
    workdir = tmp_path_factory.mktemp("openapi")
    folder = workdir / "workflows"
    copy_fixture_exports(folder)
    env = kithost_env(fake.base_url, "responses", folder)
    with serving(database_url, workdir, env) as process:
        yield process


@pytest.fixture(scope="module")
def document(kithost: KithostProcess) -> dict[str, Any]:
    response = httpx.get(kithost.url + DOCUMENT_PATH)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def component(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].removeprefix("#/components/schemas/")
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


# -- the document -----------------------------------------------------------------------------
def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


def test_every_route_kithost_serves_is_documented(document: dict[str, Any]) -> None:
    served = {(DOCUMENT_PATH, "get")}
    hidden = set()
    for route in iter_route_contexts(create_app().routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        for method in route.methods or ():
            key = (str(route.path_format), method.lower())
            (served if route.include_in_schema else hidden).add(key)
    documented = {(path, method) for path, method, _ in operations(document)}
    assert documented == served
    assert all(path.startswith("/v1/") or path == "/healthz" for path, _ in documented)
    # Only the console's pages are left out, and none of them is under /v1.
    assert hidden
    assert not any(path.startswith("/v1") for path, _ in hidden)


def test_operation_ids_are_unique_and_422_is_gone(document: dict[str, Any]) -> None:
    ids_seen = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids_seen) == len(set(ids_seen))
    assert set(ids_seen) == HOSTED | NOT_IN_THE_SDK
    for _, _, operation in operations(document):
        assert "422" not in operation["responses"]
        assert "default" not in operation["responses"]
    assert "HTTPValidationError" not in json.dumps(document)
    assert not [name for name in document["components"]["schemas"] if "__" in name]


def test_hosted_operations_are_the_python_sdks_methods(document: dict[str, Any]) -> None:
    client = openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
    for operation_id in HOSTED:
        method: Any = client
        for part in operation_id.split("."):
            method = getattr(method, part)
        assert callable(method), operation_id
    client.close()


def test_every_v1_operation_names_its_credential_and_errors(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["AdminKey"]["scheme"] == schemes["ClientSecret"]["scheme"] == "bearer"
    assert schemes["SignedLink"] == {**schemes["SignedLink"], "in": "query", "name": "signature"}
    for path, method, operation in operations(document):
        responses = operation["responses"]
        assert "x-request-id" in responses["200"]["headers"]
        assert not [p for p in operation.get("parameters", []) if p["name"] == "Authorization"]
        if path in ("/healthz", DOCUMENT_PATH):
            assert "security" not in operation
            continue
        security = operation["security"]
        assert security, (method, path)
        names = {name for requirement in security for name in requirement}
        assert names <= set(schemes)
        if names & {"AdminKey", "ClientSecret"}:
            assert "401" in responses, (method, path)
            assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
        if "ClientSecret" in names:
            assert "429" in responses, (method, path)
            assert responses["429"]["headers"]["Retry-After"]["required"] is True
        if names == {"SignedLink"}:
            assert "404" in responses
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, status)
    error = document["components"]["schemas"]["ErrorObject"]
    assert set(error["required"]) == {"message", "type", "param", "code"}


def test_the_beta_header_is_required_on_the_chatkit_control_plane(
    document: dict[str, Any],
) -> None:
    for path, _, operation in operations(document):
        beta = [p for p in operation.get("parameters", []) if p["name"] == "OpenAI-Beta"]
        if operation.get("security") == [{"AdminKey": []}] and path.startswith("/v1/chatkit"):
            assert beta
            assert beta[0]["required"] is True
            assert beta[0]["in"] == "header"
            pattern = Draft202012Validator(beta[0]["schema"])
            assert pattern.is_valid("chatkit_beta=v1")
            assert pattern.is_valid("assistants=v2, chatkit_beta=v1")
            assert not pattern.is_valid("chatkit_beta=v2")
        elif path.startswith(("/v1/files", "/v1/vector_stores")):
            assert not beta  # the SDKs send assistants=v2 there; kithost asks for nothing


def test_request_bodies(document: dict[str, Any]) -> None:
    paths = document["paths"]

    def body(path: str, method: str = "post") -> dict[str, Any]:
        content: dict[str, Any] = paths[path][method]["requestBody"]["content"]
        return content

    create = component(document, body("/v1/chatkit/sessions")["application/json"]["schema"])
    assert set(create["required"]) == {"user", "workflow"}
    assert create["additionalProperties"] is False
    schemas = document["components"]["schemas"]
    expires = schemas["ExpiresAfterParam"]["properties"]["seconds"]
    assert (expires["minimum"], expires["maximum"]) == (1, 600)

    union = component(document, body("/v1/chatkit/conversation")["application/json"]["schema"])
    assert union["discriminator"]["propertyName"] == "type"
    request_types = {
        typing.get_args(model.model_fields["type"].annotation)[0]
        for model in typing.get_args(typing.get_args(ChatKitReq)[0])
    }
    assert set(union["discriminator"]["mapping"]) == request_types
    for member in union["discriminator"]["mapping"].values():
        assert "type" in component(document, {"$ref": member})["required"]

    upload = body("/v1/chatkit/files")["multipart/form-data"]["schema"]
    assert upload["required"] == ["file"]
    files = body("/v1/files")["multipart/form-data"]["schema"]
    assert set(files["required"]) == {"file", "purpose"}
    two_phase = body("/v1/chatkit/files/{attachment_id}/upload", "put")
    assert set(two_phase) == {"application/octet-stream", "multipart/form-data"}
    assert "requestBody" not in paths["/v1/chatkit/sessions/{session_id}/cancel"]["post"]


def test_request_schemas_refuse_what_the_server_refuses(document: dict[str, Any]) -> None:
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, Resource(contents=document, specification=DRAFT202012)
    )

    def valid(component_name: str, value: Any) -> bool:
        schema = {"$ref": f"{DOCUMENT_URI}#/components/schemas/{component_name}"}
        return Draft202012Validator(schema, registry=registry).is_valid(value)

    def create(text: str) -> dict[str, Any]:
        return {"type": "threads.create", "params": {"input": user_input(text)}}

    assert valid("ChatKitRequest", create("hello"))
    assert not valid("ChatKitRequest", create("nul \x00 inside"))
    assert not valid("ChatKitRequest", {"params": {"input": user_input("no type")}})
    session = {"user": "u", "workflow": {"id": ECHO, "state_variables": {"k": "v"}}}
    assert valid("SessionCreateParams", session)
    assert not valid("SessionCreateParams", {**session, "user": "a\x00b"})
    assert not valid("SessionCreateParams", {**session, "workflow": {"id": ECHO, "x": 1}})
    many = {"id": ECHO, "state_variables": {str(n): n for n in range(65)}}
    assert not valid("SessionCreateParams", {**session, "workflow": many})
    assert valid("VectorStoreCreateParams", {"metadata": {"k": "v"}, "file_ids": ["file-1"]})
    assert not valid("VectorStoreCreateParams", {"metadata": {"k": "x" * 513}})
    assert not valid("VectorStoreCreateParams", {"chunking_strategy": {"type": "fixed"}})
    assert not valid("VectorStoreCreateParams", {"file_ids": ["file-\x00"]})
    assert not valid("VectorStoreFileBatchCreateParams", {"files": [{"file_id": "a\x00"}]})
    equal = {"type": "eq", "key": "a", "value": 1}
    assert valid("VectorStoreSearchParams", {"query": "x", "filters": equal})
    assert not valid("VectorStoreSearchParams", {"query": "  "})
    both = {"file_ids": ["a"], "files": [{"file_id": "b"}]}
    assert not valid("VectorStoreFileBatchCreateParams", both)


def test_streams_are_documented_as_server_sent_events(document: dict[str, Any]) -> None:
    for path in ("/v1/chatkit/conversation", "/v1/chatkit/runs/{run_id}/events"):
        method = "post" if path.endswith("conversation") else "get"
        content = document["paths"][path][method]["responses"]["200"]["content"]
        event = content["text/event-stream"]["schema"]  # one event, as OpenAPI 3.1 tools read it
        assert event["required"] == ["data"]
        data = event["properties"]["data"]
        assert data["contentMediaType"] == "application/json"
        assert data["contentSchema"] == {"$ref": "#/components/schemas/ChatKitStreamEvent"}


def _allows_null(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "null":
        return True
    return any(_allows_null(option) for option in schema.get("anyOf", []))


def _literals(annotation: Any) -> set[Any] | None:
    """The values of a ``Literal`` (possibly inside ``Optional``), else None."""
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            values = _literals(arg)
            if values is not None:
                return values
    return None


def _documented_values(schema: dict[str, Any]) -> set[Any] | None:
    if "const" in schema:
        return {schema["const"]}
    if "enum" in schema:
        return set(schema["enum"])
    for option in schema.get("anyOf", []):
        values = _documented_values(option)
        if values is not None:
            return values
    return None


@pytest.mark.parametrize(("name", "sdk_type", "extensions"), SDK_TYPES, ids=lambda v: str(v))
def test_response_schemas_agree_with_the_sdk_types(
    document: dict[str, Any], name: str, sdk_type: type[BaseModel], extensions: set[str]
) -> None:
    schema = document["components"]["schemas"][name]
    properties: dict[str, Any] = schema["properties"]
    required = set(schema.get("required", []))
    fields = {field.alias or key: field for key, field in sdk_type.model_fields.items()}
    nullable = {name.removesuffix("?") for name in extensions if name.endswith("?")}
    assert set(properties) - extensions == set(fields)
    for key, field in fields.items():
        documented = properties[key]
        if field.is_required():
            assert key in required, key
        sdk_nullable = type(None) in typing.get_args(field.annotation) or key in nullable
        if not sdk_nullable:
            assert key in required, key  # never left out where the SDK expects a value
            assert not _allows_null(documented), key
        sdk_values = _literals(field.annotation)
        values = _documented_values(documented)
        if sdk_values is not None:
            assert values is not None, key
            assert values <= sdk_values, key


# -- real responses against the document ------------------------------------------------------
class Api:
    """Requests to kithost, each answer checked against what the document says of it."""

    def __init__(self, server: KithostProcess, document: dict[str, Any], http: httpx.Client):
        self.server = server
        self.document = document
        self.http = http
        self.registry: Registry[Any] = Registry().with_resource(
            DOCUMENT_URI, Resource(contents=document, specification=DRAFT202012)
        )
        self.by_id = {
            op["operationId"]: (path, method) for path, method, op in operations(document)
        }
        self.statuses: dict[str, set[int]] = {}

    def call(
        self,
        operation_id: str,
        status: int,
        path_params: dict[str, str] | None = None,
        *,
        url: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        template, method = self.by_id[operation_id]
        target = url or template.format(**(path_params or {}))
        response = self.http.request(method.upper(), target, **kwargs)
        assert response.status_code == status, (operation_id, response.status_code, response.text)
        self.check(operation_id, response)
        if status < 300 and "json" in kwargs:
            # What the server accepts, the document accepts too.
            operation = self.document["paths"][template][method]
            body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
            self.validate(body_schema, kwargs["json"], operation_id)
        return response

    def check(self, operation_id: str, response: httpx.Response) -> None:
        template, method = self.by_id[operation_id]
        operation = self.document["paths"][template][method]
        status = str(response.status_code)
        assert status in operation["responses"], (operation_id, status, response.text)
        self.statuses.setdefault(operation_id, set()).add(response.status_code)
        documented = operation["responses"][status]
        for header, spec in documented.get("headers", {}).items():
            if spec.get("required"):
                assert header in response.headers, (operation_id, status, header)
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        content = documented["content"]
        media = content.get(media_type) or content.get("*/*")
        assert media is not None, (operation_id, status, media_type, list(content))
        if media_type == "application/json":
            self.validate(media["schema"], response.json(), operation_id)
        elif media_type == "text/event-stream":
            events = sse_events(response.text)
            assert events, operation_id
            data_schema = media["schema"]["properties"]["data"]["contentSchema"]
            for event in events:
                self.validate(media["schema"], event, operation_id)
                self.validate(data_schema, json.loads(event["data"]), operation_id)

    def validate(self, schema: dict[str, Any], value: Any, operation_id: str) -> None:
        if "$ref" in schema:
            schema = {"$ref": DOCUMENT_URI + schema["$ref"]}
        validator = Draft202012Validator(
            schema, registry=self.registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        errors = list(validator.iter_errors(value))
        assert not errors, (operation_id, [e.message[:300] for e in errors[:3]], value)

    # helpers shared by scenarios (each request is checked too)

    def session(self, workflow: str = ECHO, **params: Any) -> dict[str, Any]:
        body = {"user": unique_user(), "workflow": {"id": workflow}, **params}
        created: dict[str, Any] = self.call(
            "beta.chatkit.sessions.create", 200, json=body, headers=CHATKIT_ADMIN
        ).json()
        return created

    def uploads_session(self) -> dict[str, Any]:
        return self.session(
            rate_limits={"max_requests_per_1_minute": 1000},
            chatkit_configuration={"file_upload": {"enabled": True, "max_file_size": 1}},
        )

    def chatkit(
        self, session: dict[str, Any], status: int, request_type: str, /, **params: Any
    ) -> httpx.Response:
        return self.call(
            "chatkit.conversation",
            status,
            json={"type": request_type, "params": params},
            headers=bearer(session["client_secret"]),
        )

    def new_thread(self, session: dict[str, Any], text: str = "hello") -> tuple[str, str]:
        """A thread with one answered message: its id and its run's id."""
        response = self.chatkit(session, 200, "threads.create", input=user_input(text))
        thread = next(e for e in sse_data(response.text) if e["type"] == "thread.created")
        return thread["thread"]["id"], response.headers["X-Kithost-Run-Id"]

    def file(self, purpose: str = "assistants", text: str = "Opening hours: 9 to 5.") -> str:
        response = self.call(
            "files.create",
            200,
            files={"file": ("hours.txt", io.BytesIO(text.encode()), "text/plain")},
            data={"purpose": purpose},
            headers=ADMIN,
        )
        return str(response.json()["id"])

    def store(self) -> tuple[str, str]:
        """A vector store with one ingested file: the store's id and the file's."""
        file_id = self.file()
        store = self.call(
            "vector_stores.create",
            200,
            json={"name": "hours", "file_ids": [file_id]},
            headers=ADMIN,
        ).json()
        self.until_ingested(store["id"], file_id)
        return store["id"], file_id

    def until_ingested(self, store_id: str, file_id: str) -> None:
        deadline = time.monotonic() + 30
        while True:
            item = self.call(
                "vector_stores.files.retrieve",
                200,
                {"store_id": store_id, "file_id": file_id},
                headers=ADMIN,
            ).json()
            if item["status"] != "in_progress" or time.monotonic() > deadline:
                assert item["status"] == "completed", item
                return
            time.sleep(0.1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sse_events(text: str) -> list[dict[str, str]]:
    """Each event of a server-sent event stream as its fields (``data``, ``id``)."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields:
            events.append(fields)
    return events


def sse_data(text: str) -> list[Any]:
    """The JSON of each event's ``data``."""
    return [json.loads(event["data"]) for event in sse_events(text)]


Scenario = Callable[[Api], None]
SCENARIOS: dict[str, Scenario] = {}


def scenario(operation_id: str) -> Callable[[Scenario], Scenario]:
    def register(run: Scenario) -> Scenario:
        SCENARIOS[operation_id] = run
        return run

    return register


@scenario("healthz")
def _healthz(api: Api) -> None:
    api.call("healthz", 200)


@scenario("openapi")
def _openapi(api: Api) -> None:
    api.call("openapi", 200)


@scenario("beta.chatkit.sessions.create")
def _sessions_create(api: Api) -> None:
    op, user = "beta.chatkit.sessions.create", unique_user()
    full = {
        "user": user,
        "workflow": {
            "id": ECHO,
            "state_variables": {"plan": "pro", "seats": 3, "trial": False},
            "tracing": {"enabled": False},
        },
        "expires_after": {"anchor": "created_at", "seconds": 120},
        "rate_limits": {"max_requests_per_1_minute": 30},
        "chatkit_configuration": {
            "automatic_thread_titling": {"enabled": False},
            "file_upload": {"enabled": True, "max_file_size": 5, "max_files": 2},
            "history": {"enabled": True, "recent_threads": 3},
        },
    }
    api.call(op, 200, json=full, headers=CHATKIT_ADMIN)
    api.call(op, 200, json={"user": user, "workflow": {"id": ECHO}}, headers=CHATKIT_ADMIN)
    api.call(op, 400, json={"workflow": {"id": ECHO}}, headers=CHATKIT_ADMIN)
    api.call(op, 400, json={"user": user, "workflow": {"id": ECHO}, "x": 1}, headers=CHATKIT_ADMIN)
    api.call(op, 400, json={"user": user, "workflow": {"id": ECHO}}, headers=ADMIN)
    api.call(op, 400, content=b"{not json", headers=CHATKIT_ADMIN)
    api.call(op, 401, json={"user": user, "workflow": {"id": ECHO}}, headers=BETA_HEADERS)
    api.call(op, 401, json={"user": user, "workflow": {"id": ECHO}}, headers=WRONG_KEY)
    api.call(op, 404, json={"user": user, "workflow": {"id": "wf_nope"}}, headers=CHATKIT_ADMIN)
    too_large = {"user": user, "workflow": {"id": ECHO}, "pad": "x" * TOO_LARGE}
    api.call(op, 413, json=too_large, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.sessions.list")
def _sessions_list(api: Api) -> None:
    session = api.session()
    op = "beta.chatkit.sessions.list"
    page = api.call(op, 200, params={"user": session["user"]}, headers=CHATKIT_ADMIN).json()
    assert [s["id"] for s in page["data"]] == [session["id"]]
    api.call(op, 200, params={"limit": 2, "status": "active"}, headers=CHATKIT_ADMIN)
    api.call(op, 400, params={"limit": 101}, headers=CHATKIT_ADMIN)
    api.call(op, 401, headers=WRONG_KEY)


@scenario("beta.chatkit.sessions.retrieve")
def _sessions_retrieve(api: Api) -> None:
    session, op = api.session(), "beta.chatkit.sessions.retrieve"
    api.call(op, 200, {"session_id": session["id"]}, headers=CHATKIT_ADMIN)
    api.call(op, 400, {"session_id": "sess_123"}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"session_id": NO_SESSION}, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.sessions.cancel")
def _sessions_cancel(api: Api) -> None:
    session, op = api.session(), "beta.chatkit.sessions.cancel"
    cancelled = api.call(op, 200, {"session_id": session["id"]}, headers=CHATKIT_ADMIN).json()
    assert (cancelled["status"], cancelled["client_secret"]) == ("cancelled", "")
    api.call(op, 200, {"session_id": session["id"]}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"session_id": NO_SESSION}, headers=CHATKIT_ADMIN)
    api.call(op, 400, {"session_id": "sess_123"}, headers=CHATKIT_ADMIN)


def seeded_thread(api: Api, **fields: Any) -> tuple[str, str]:
    """A thread of every item type (and some with no REST form) through storage: (user, id)."""
    user, now = unique_user(), time.time()
    thread = make_thread(user, created_at=now - 60, title="Seeded", **fields)
    tid = thread.id
    attachment = {
        "id": ids.attachment_id(),
        "type": "image",
        "name": "cat.png",
        "mime_type": "image/png",
        "preview_url": "https://example.com/cat.png",
    }
    items = [
        user_message(
            tid,
            "hi",
            now - 50,
            quoted_text="earlier",
            attachments=[attachment],
            inference_options={"model": "gpt-4.1", "tool_choice": {"id": "search"}},
        ),
        protocol_item(
            tid,
            "assistant_message",
            now - 49,
            content=[
                {
                    "type": "output_text",
                    "text": "See these.",
                    "annotations": [
                        {"source": {"type": "url", "url": "https://example.com", "title": "x"}},
                        {"source": {"type": "file", "filename": "a.pdf", "title": "a"}},
                    ],
                }
            ],
        ),
        protocol_item(tid, "widget", now - 48, widget={"type": "Card", "children": []}),
        protocol_item(
            tid,
            "client_tool_call",
            now - 47,
            status="pending",
            call_id="call_1",
            name="lookup",
            arguments={"q": 1},
        ),
        protocol_item(
            tid,
            "client_tool_call",
            now - 46,
            status="completed",
            call_id="call_2",
            name="lookup",
            arguments={},
            output={"ok": True},
        ),
        protocol_item(tid, "task", now - 45, task={"type": "thought", "title": "Thinking"}),
        protocol_item(
            tid,
            "workflow",
            now - 44,
            workflow={"type": "custom", "tasks": [{"type": "custom", "title": "Step"}]},
        ),
        protocol_item(tid, "end_of_turn", now - 43),
    ]
    seed(api.server.database_url, [(thread, items)])
    return user, tid


@scenario("beta.chatkit.threads.list")
def _threads_list(api: Api) -> None:
    user, thread_id = seeded_thread(api)
    op = "beta.chatkit.threads.list"
    page = api.call(op, 200, params={"user": user}, headers=CHATKIT_ADMIN).json()
    assert [t["id"] for t in page["data"]] == [thread_id]
    api.call(op, 200, params={"user": user, "after": thread_id}, headers=CHATKIT_ADMIN)
    api.call(op, 400, params={"order": "sideways"}, headers=CHATKIT_ADMIN)
    api.call(op, 400, params={"after": NO_THREAD}, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.threads.retrieve")
def _threads_retrieve(api: Api) -> None:
    op = "beta.chatkit.threads.retrieve"
    for fields in ({}, {"status": "locked", "status_reason": "why"}, {"status": "closed"}):
        _, thread_id = seeded_thread(api, **fields)
        api.call(op, 200, {"thread_id": thread_id}, headers=CHATKIT_ADMIN)
    api.call(op, 400, {"thread_id": "thread_1"}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"thread_id": NO_THREAD}, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.threads.delete")
def _threads_delete(api: Api) -> None:
    _, thread_id = seeded_thread(api)
    op = "beta.chatkit.threads.delete"
    api.call(op, 200, {"thread_id": thread_id}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"thread_id": thread_id}, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.threads.list_items")
def _threads_list_items(api: Api) -> None:
    _, thread_id = seeded_thread(api)
    op = "beta.chatkit.threads.list_items"
    page = api.call(op, 200, {"thread_id": thread_id}, headers=CHATKIT_ADMIN).json()
    assert len({item["type"] for item in page["data"]}) == 6
    api.call(op, 200, {"thread_id": thread_id}, params={"limit": 1}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"thread_id": NO_THREAD}, headers=CHATKIT_ADMIN)
    api.call(op, 400, {"thread_id": thread_id}, params={"limit": -1}, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.threads.list_traces")
def _threads_list_traces(api: Api) -> None:
    thread_id, _ = api.new_thread(api.session(FAQ_BOT))
    op = "beta.chatkit.threads.list_traces"
    traces = api.call(op, 200, {"thread_id": thread_id}, headers=CHATKIT_ADMIN).json()
    assert traces["data"]
    assert traces["data"][0]["spans"]
    api.call(op, 404, {"thread_id": NO_THREAD}, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.workflows.list")
def _workflows_list(api: Api) -> None:
    op = "beta.chatkit.workflows.list"
    listed = api.call(op, 200, headers=CHATKIT_ADMIN).json()
    assert {ECHO, DEMO} <= {w["id"] for w in listed["data"]}
    api.call(op, 400, headers=ADMIN)
    api.call(op, 401, headers=WRONG_KEY)


@scenario("chatkit.conversation")
def _conversation(api: Api) -> None:
    session = api.uploads_session()
    thread_id, _ = api.new_thread(session)
    api.chatkit(
        session, 200, "threads.add_user_message", thread_id=thread_id, input=user_input("more")
    )
    api.chatkit(session, 200, "threads.get_by_id", thread_id=thread_id)
    api.chatkit(session, 200, "threads.list", limit=5)
    items = api.chatkit(session, 200, "items.list", thread_id=thread_id).json()
    api.chatkit(session, 200, "threads.update", thread_id=thread_id, title="Renamed")
    answer = next(i["id"] for i in items["data"] if i["type"] == "assistant_message")
    api.chatkit(
        session, 200, "items.feedback", thread_id=thread_id, item_ids=[answer], kind="positive"
    )
    attachment = api.chatkit(
        session, 200, "attachments.create", name="a.png", size=len(PNG), mime_type="image/png"
    ).json()
    api.chatkit(session, 200, "attachments.delete", attachment_id=attachment["id"])
    api.chatkit(session, 200, "threads.delete", thread_id=thread_id)
    api.chatkit(session, 404, "threads.get_by_id", thread_id=thread_id)
    api.chatkit(session, 400, "threads.list", limit=0)
    api.chatkit(session, 400, "threads.nonsense")
    secret = bearer(session["client_secret"])
    api.call("chatkit.conversation", 400, content=b"{", headers=secret)
    api.call("chatkit.conversation", 401, json={"type": "threads.list", "params": {}})
    padded = {"type": "threads.list", "params": {}, "metadata": {"pad": "x" * TOO_LARGE}}
    api.call("chatkit.conversation", 413, json=padded, headers=secret)
    no_uploads = api.session()
    api.chatkit(no_uploads, 403, "attachments.create", name="a.txt", size=3, mime_type="text/plain")
    limited = api.session(rate_limits={"max_requests_per_1_minute": 1})
    api.chatkit(limited, 200, "threads.list")
    api.chatkit(limited, 429, "threads.list")


def two_phase(api: Api, session: dict[str, Any]) -> str:
    """``attachments.create``: the signed upload link of a new attachment."""
    created = api.chatkit(
        session, 200, "attachments.create", name="b.png", size=len(PNG), mime_type="image/png"
    ).json()
    return str(created["upload_descriptor"]["url"])


@scenario("beta.chatkit.upload_file")
def _upload_file(api: Api) -> None:
    session, op = api.uploads_session(), "beta.chatkit.upload_file"
    secret = bearer(session["client_secret"])
    image = api.call(op, 200, files={"file": ("a.png", PNG, "image/png")}, headers=secret).json()
    assert image["type"] == "image"
    text = api.call(op, 200, files={"file": ("a.txt", b"hi", "text/plain")}, headers=secret)
    assert text.json()["type"] == "file"
    api.call(op, 400, files={"other": ("a.txt", b"hi", "text/plain")}, headers=secret)
    api.call(op, 400, files={"file": ("a.exe", b"MZ", "application/x-dosexec")}, headers=secret)
    api.call(op, 401, files={"file": ("a.txt", b"hi", "text/plain")})
    no_uploads = bearer(api.session()["client_secret"])
    api.call(op, 403, files={"file": ("a.txt", b"hi", "text/plain")}, headers=no_uploads)
    big = b"x" * (2 * 1024 * 1024)  # the session takes files of 1 MB
    api.call(op, 400, files={"file": ("big.txt", big, "text/plain")}, headers=secret)


@scenario("beta.chatkit.files.upload_bytes")
def _upload_bytes(api: Api) -> None:
    session, op = api.uploads_session(), "beta.chatkit.files.upload_bytes"
    link = two_phase(api, session)
    api.call(op, 200, url=link, content=PNG, headers={"Content-Type": "image/png"})
    api.call(op, 409, url=link, content=PNG, headers={"Content-Type": "image/png"})
    api.call(op, 404, url=link.replace("signature=", "signature=0"), content=PNG)
    cancelled = api.uploads_session()
    link = two_phase(api, cancelled)
    api.call(
        "beta.chatkit.sessions.cancel", 200, {"session_id": cancelled["id"]}, headers=CHATKIT_ADMIN
    )
    api.call(op, 401, url=link, content=PNG)
    empty = two_phase(api, session)
    api.call(op, 400, url=empty, content=b"")


@scenario("beta.chatkit.files.upload_bytes_put")
def _upload_bytes_put(api: Api) -> None:
    session, op = api.uploads_session(), "beta.chatkit.files.upload_bytes_put"
    link = two_phase(api, session)
    api.call(op, 200, url=link, files={"file": ("b.png", PNG, "image/png")})
    api.call(op, 409, url=link, files={"file": ("b.png", PNG, "image/png")})


@scenario("beta.chatkit.files.content")
def _files_content(api: Api) -> None:
    session = api.uploads_session()
    uploaded = api.call(
        "beta.chatkit.upload_file",
        200,
        files={"file": ("a.png", PNG, "image/png")},
        headers=bearer(session["client_secret"]),
    ).json()
    link = uploaded["preview_url"]
    assert api.call("beta.chatkit.files.content", 200, url=link).content == PNG
    api.call("beta.chatkit.files.content", 404, url=link.replace("signature=", "signature=0"))


@scenario("files.create")
def _files_create(api: Api) -> None:
    api.file("user_data")
    api.file("assistants")
    upload = {"file": ("a.txt", io.BytesIO(b"x"), "text/plain")}
    api.call("files.create", 400, files=upload, data={"purpose": "fine-tune"}, headers=ADMIN)
    api.call("files.create", 400, data={"purpose": "assistants"}, headers=ADMIN)
    api.call("files.create", 401, files=upload, data={"purpose": "assistants"})


@scenario("files.list")
def _files_list(api: Api) -> None:
    api.file()
    api.call("files.list", 200, params={"limit": 2, "purpose": "assistants"}, headers=ADMIN)
    api.call("files.list", 400, params={"limit": 0}, headers=ADMIN)


@scenario("files.retrieve")
def _files_retrieve(api: Api) -> None:
    file_id = api.file()
    api.call("files.retrieve", 200, {"file_id": file_id}, headers=ADMIN)
    api.call("files.retrieve", 404, {"file_id": NO_FILE}, headers=ADMIN)
    api.call("files.retrieve", 404, {"file_id": NO_THREAD}, headers=ADMIN)


@scenario("files.delete")
def _files_delete(api: Api) -> None:
    file_id = api.file()
    api.call("files.delete", 200, {"file_id": file_id}, headers=ADMIN)
    api.call("files.delete", 404, {"file_id": file_id}, headers=ADMIN)


@scenario("files.content")
def _files_content_api(api: Api) -> None:
    kept = api.file("user_data", "bytes")
    assert api.call("files.content", 200, {"file_id": kept}, headers=ADMIN).content == b"bytes"
    api.call("files.content", 400, {"file_id": api.file()}, headers=ADMIN)
    api.call("files.content", 404, {"file_id": NO_FILE}, headers=ADMIN)


@scenario("vector_stores.create")
def _stores_create(api: Api) -> None:
    op = "vector_stores.create"
    api.store()
    full = {
        "name": "full",
        "metadata": {"team": "support"},
        "expires_after": {"anchor": "last_active_at", "days": 7},
        "chunking_strategy": {
            "type": "static",
            "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50},
        },
    }
    api.call(op, 200, json=full, headers=ADMIN)
    api.call(op, 404, json={"file_ids": [NO_FILE]}, headers=ADMIN)
    api.call(op, 400, json={"nme": "typo"}, headers=ADMIN)


@scenario("vector_stores.list")
def _stores_list(api: Api) -> None:
    api.call("vector_stores.create", 200, json={}, headers=ADMIN)
    api.call("vector_stores.list", 200, params={"limit": 2}, headers=ADMIN)
    api.call("vector_stores.list", 400, params={"limit": 101}, headers=ADMIN)


@scenario("vector_stores.retrieve")
def _stores_retrieve(api: Api) -> None:
    store_id, _ = api.store()
    api.call("vector_stores.retrieve", 200, {"store_id": store_id}, headers=ADMIN)
    api.call("vector_stores.retrieve", 404, {"store_id": NO_STORE}, headers=ADMIN)


@scenario("vector_stores.update")
def _stores_update(api: Api) -> None:
    store_id = api.call("vector_stores.create", 200, json={}, headers=ADMIN).json()["id"]
    body = {"name": "renamed", "expires_after": None}
    api.call("vector_stores.update", 200, {"store_id": store_id}, json=body, headers=ADMIN)
    api.call("vector_stores.update", 404, {"store_id": NO_STORE}, json=body, headers=ADMIN)
    api.call("vector_stores.update", 400, {"store_id": store_id}, json={"x": 1}, headers=ADMIN)


@scenario("vector_stores.delete")
def _stores_delete(api: Api) -> None:
    store_id = api.call("vector_stores.create", 200, json={}, headers=ADMIN).json()["id"]
    api.call("vector_stores.delete", 200, {"store_id": store_id}, headers=ADMIN)
    api.call("vector_stores.delete", 404, {"store_id": store_id}, headers=ADMIN)


@scenario("vector_stores.search")
def _stores_search(api: Api) -> None:
    store_id, _ = api.store()
    op, where = "vector_stores.search", {"store_id": store_id}
    found = api.call(op, 200, where, json={"query": "opening hours"}, headers=ADMIN).json()
    assert found["data"]
    api.call(op, 200, where, json={"query": ["hours", "open"], "max_num_results": 1}, headers=ADMIN)
    filtered = {
        "query": "hours",
        "filters": {
            "type": "or",
            "filters": [
                {"type": "eq", "key": "lang", "value": "en"},
                {"type": "nin", "key": "rank", "value": [1, 2]},
            ],
        },
        "ranking_options": {
            "ranker": "auto",
            "score_threshold": 0.0,
            "hybrid_search": {"embedding_weight": 1, "text_weight": 2},
        },
    }
    api.call(op, 200, where, json=filtered, headers=ADMIN)
    zero = {"hybrid_search": {"embedding_weight": 0, "text_weight": 0}}
    api.call(op, 400, where, json={"query": "x", "ranking_options": zero}, headers=ADMIN)
    api.call(op, 400, where, json={}, headers=ADMIN)
    api.call(op, 404, {"store_id": NO_STORE}, json={"query": "x"}, headers=ADMIN)


@scenario("vector_stores.files.create")
def _store_files_create(api: Api) -> None:
    store_id = api.call("vector_stores.create", 200, json={}, headers=ADMIN).json()["id"]
    op, where = "vector_stores.files.create", {"store_id": store_id}
    body = {"file_id": api.file(), "attributes": {"lang": "en", "rank": 2, "public": True}}
    api.call(op, 200, where, json=body, headers=ADMIN)
    api.call(op, 404, where, json={"file_id": NO_FILE}, headers=ADMIN)
    api.call(op, 400, where, json={}, headers=ADMIN)


@scenario("vector_stores.files.list")
def _store_files_list(api: Api) -> None:
    store_id, _ = api.store()
    op = "vector_stores.files.list"
    api.call(op, 200, {"store_id": store_id}, params={"filter": "completed"}, headers=ADMIN)
    api.call(op, 400, {"store_id": store_id}, params={"filter": "done"}, headers=ADMIN)
    api.call(op, 404, {"store_id": NO_STORE}, headers=ADMIN)


@scenario("vector_stores.files.retrieve")
def _store_files_retrieve(api: Api) -> None:
    store_id, file_id = api.store()
    op = "vector_stores.files.retrieve"
    api.call(op, 200, {"store_id": store_id, "file_id": file_id}, headers=ADMIN)
    api.call(op, 404, {"store_id": store_id, "file_id": NO_FILE}, headers=ADMIN)


@scenario("vector_stores.files.update")
def _store_files_update(api: Api) -> None:
    store_id, file_id = api.store()
    op, where = "vector_stores.files.update", {"store_id": store_id, "file_id": file_id}
    api.call(op, 200, where, json={"attributes": {"lang": "fr"}}, headers=ADMIN)
    api.call(op, 400, where, json={}, headers=ADMIN)
    gone = {"store_id": store_id, "file_id": NO_FILE}
    api.call(op, 404, gone, json={"attributes": None}, headers=ADMIN)


@scenario("vector_stores.files.delete")
def _store_files_delete(api: Api) -> None:
    store_id, file_id = api.store()
    op, where = "vector_stores.files.delete", {"store_id": store_id, "file_id": file_id}
    api.call(op, 200, where, headers=ADMIN)
    api.call(op, 404, where, headers=ADMIN)


@scenario("vector_stores.files.content")
def _store_files_content(api: Api) -> None:
    store_id, file_id = api.store()
    op = "vector_stores.files.content"
    page = api.call(op, 200, {"store_id": store_id, "file_id": file_id}, headers=ADMIN).json()
    assert page["data"]
    api.call(op, 404, {"store_id": store_id, "file_id": NO_FILE}, headers=ADMIN)


def batch(api: Api) -> tuple[str, str]:
    store_id = api.call("vector_stores.create", 200, json={}, headers=ADMIN).json()["id"]
    created = api.call(
        "vector_stores.file_batches.create",
        200,
        {"store_id": store_id},
        json={"file_ids": [api.file(), api.file()], "attributes": {"kind": "doc"}},
        headers=ADMIN,
    ).json()
    return store_id, created["id"]


@scenario("vector_stores.file_batches.create")
def _batches_create(api: Api) -> None:
    store_id, _ = batch(api)
    op, where = "vector_stores.file_batches.create", {"store_id": store_id}
    files = {"files": [{"file_id": api.file(), "attributes": {"n": 1}}]}
    api.call(op, 200, where, json=files, headers=ADMIN)
    api.call(op, 400, where, json={"file_ids": [api.file()], **files}, headers=ADMIN)
    api.call(op, 404, where, json={"file_ids": [NO_FILE]}, headers=ADMIN)
    api.call(op, 404, {"store_id": NO_STORE}, json={"file_ids": [api.file()]}, headers=ADMIN)


@scenario("vector_stores.file_batches.retrieve")
def _batches_retrieve(api: Api) -> None:
    store_id, batch_id = batch(api)
    op = "vector_stores.file_batches.retrieve"
    api.call(op, 200, {"store_id": store_id, "batch_id": batch_id}, headers=ADMIN)
    api.call(op, 404, {"store_id": store_id, "batch_id": "vsfb_" + "0" * 32}, headers=ADMIN)


@scenario("vector_stores.file_batches.cancel")
def _batches_cancel(api: Api) -> None:
    store_id, batch_id = batch(api)
    op = "vector_stores.file_batches.cancel"
    api.call(op, 200, {"store_id": store_id, "batch_id": batch_id}, headers=ADMIN)
    api.call(op, 404, {"store_id": NO_STORE, "batch_id": batch_id}, headers=ADMIN)


@scenario("vector_stores.file_batches.list_files")
def _batches_list_files(api: Api) -> None:
    store_id, batch_id = batch(api)
    op, where = (
        "vector_stores.file_batches.list_files",
        {"store_id": store_id, "batch_id": batch_id},
    )
    api.call(op, 200, where, params={"limit": 1}, headers=ADMIN)
    api.call(op, 400, where, params={"order": "up"}, headers=ADMIN)
    api.call(op, 404, {"store_id": store_id, "batch_id": "vsfb_" + "0" * 32}, headers=ADMIN)


def finished_run(api: Api) -> tuple[dict[str, Any], str, str]:
    """A session, the thread it made and the (finished) run that answered it."""
    session = api.session()
    thread_id, run_id = api.new_thread(session)
    return session, thread_id, run_id


@scenario("beta.chatkit.runs.retrieve")
def _runs_retrieve(api: Api) -> None:
    session, _, run_id = finished_run(api)
    op = "beta.chatkit.runs.retrieve"
    run = api.call(op, 200, {"run_id": run_id}, headers=CHATKIT_ADMIN).json()
    assert run["status"] == "completed"
    api.call(op, 200, {"run_id": run_id}, headers=bearer(session["client_secret"]))
    api.call(op, 404, {"run_id": NO_RUN}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"run_id": run_id}, headers=bearer(api.session()["client_secret"]))
    api.call(op, 401, {"run_id": run_id})
    api.call(op, 400, {"run_id": run_id}, headers=ADMIN)


@scenario("beta.chatkit.runs.cancel")
def _runs_cancel(api: Api) -> None:
    session, _, run_id = finished_run(api)
    op = "beta.chatkit.runs.cancel"
    api.call(op, 200, {"run_id": run_id}, headers=bearer(session["client_secret"]))
    api.call(op, 200, {"run_id": run_id}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"run_id": NO_RUN}, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.runs.events")
def _runs_events(api: Api) -> None:
    session, _, run_id = finished_run(api)
    op, where = "beta.chatkit.runs.events", {"run_id": run_id}
    api.call(op, 200, where, headers=bearer(session["client_secret"]))
    api.call(op, 200, where, headers={**CHATKIT_ADMIN, "Last-Event-ID": "1"})
    api.call(op, 400, where, headers={**CHATKIT_ADMIN, "Last-Event-ID": "-3"})
    api.call(op, 404, {"run_id": NO_RUN}, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.threads.list_runs")
def _threads_list_runs(api: Api) -> None:
    session, thread_id, run_id = finished_run(api)
    op, where = "beta.chatkit.threads.list_runs", {"thread_id": thread_id}
    runs = api.call(op, 200, where, headers=bearer(session["client_secret"])).json()
    assert [run["id"] for run in runs["data"]] == [run_id]
    api.call(op, 200, where, params={"limit": 1}, headers=CHATKIT_ADMIN)
    api.call(op, 400, where, params={"limit": 101}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"thread_id": NO_THREAD}, headers=CHATKIT_ADMIN)
    api.call(op, 401, where)


def server_turn(api: Api, **fields: Any) -> dict[str, Any]:
    """A thread started by the app's backend, answered by the echo (``wait``)."""
    body = {
        "user": unique_user(),
        "workflow": {"id": ECHO},
        "input": {"content": [{"type": "input_text", "text": "Shipped?"}]},
        "wait": True,
        **fields,
    }
    turn: dict[str, Any] = api.call(
        "beta.chatkit.threads.create", 201, json=body, headers=CHATKIT_ADMIN
    ).json()
    return turn


@scenario("beta.chatkit.threads.create")
def _threads_create(api: Api) -> None:
    op = "beta.chatkit.threads.create"
    turn = server_turn(api, title="Order 42", metadata={"order": "42"})
    assert turn["run"]["status"] == "completed"
    assert len(turn["items"]) == 2
    at_once = server_turn(api, wait=False)
    assert [item["type"] for item in at_once["items"]][:1] == ["chatkit.user_message"]
    streamed = {
        "user": unique_user(),
        "workflow": {"id": ECHO},
        "input": {"content": [{"type": "input_text", "text": "Hi"}]},
        "stream": True,
    }
    api.call(op, 200, json=streamed, headers=CHATKIT_ADMIN)
    api.call(op, 400, json={**streamed, "wait": True}, headers=CHATKIT_ADMIN)
    api.call(op, 404, json={**streamed, "workflow": {"id": "wf_none"}}, headers=CHATKIT_ADMIN)
    api.call(op, 401, json=streamed, headers=BETA_HEADERS)


@scenario("beta.chatkit.threads.create_message")
def _threads_create_message(api: Api) -> None:
    op = "beta.chatkit.threads.create_message"
    turn = server_turn(api)
    thread, user = turn["thread"]["id"], turn["thread"]["user"]
    body = {"user": user, "input": {"content": [{"type": "input_text", "text": "And now?"}]}}
    api.call(op, 201, {"thread_id": thread}, json={**body, "wait": True}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"thread_id": thread}, json={**body, "user": "other"}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"thread_id": NO_THREAD}, json=body, headers=CHATKIT_ADMIN)
    api.call(op, 400, {"thread_id": thread}, json={"user": user}, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.threads.create_item")
def _threads_create_item(api: Api) -> None:
    op = "beta.chatkit.threads.create_item"
    where = {"thread_id": server_turn(api)["thread"]["id"]}
    notice = {"type": "assistant_message", "content": [{"type": "output_text", "text": "Done"}]}
    api.call(op, 200, where, json=notice, headers=CHATKIT_ADMIN)
    card = {"type": "widget", "widget": {"type": "Card", "children": []}}
    api.call(op, 200, where, json=card, headers=CHATKIT_ADMIN)
    api.call(op, 400, where, json={"type": "user_message"}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"thread_id": NO_THREAD}, json=notice, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.threads.update")
@scenario("beta.chatkit.threads.patch")
def _threads_update(api: Api) -> None:
    where = {"thread_id": server_turn(api)["thread"]["id"]}
    for op in ("beta.chatkit.threads.update", "beta.chatkit.threads.patch"):
        locked = {"status": {"type": "locked", "reason": "resolved"}, "metadata": {"a": "b"}}
        thread = api.call(op, 200, where, json=locked, headers=CHATKIT_ADMIN).json()
        assert thread["status"] == {"type": "locked", "reason": "resolved"}
        api.call(op, 200, where, json={"title": None, "status": "active"}, headers=CHATKIT_ADMIN)
        api.call(op, 400, where, json={"status": "archived"}, headers=CHATKIT_ADMIN)
        api.call(op, 404, {"thread_id": NO_THREAD}, json={}, headers=CHATKIT_ADMIN)


NO_WEBHOOK = "whep_" + "0" * 48
NO_DELIVERY = "msg_" + "0" * 48
UNREACHABLE = "http://127.0.0.1:9/hook"  # the discard port: deliveries wait for their retries


def webhook(api: Api, **fields: Any) -> dict[str, Any]:
    """A webhook endpoint (for ``thread.created``); delete it with ``drop_webhook``."""
    body = {"url": UNREACHABLE, "events": ["thread.created"], **fields}
    created: dict[str, Any] = api.call(
        "beta.chatkit.webhooks.create", 200, json=body, headers=CHATKIT_ADMIN
    ).json()
    return created


def drop_webhook(api: Api, endpoint: dict[str, Any]) -> None:
    where = {"webhook_id": endpoint["id"]}
    api.call("beta.chatkit.webhooks.delete", 200, where, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.webhooks.create")
def _webhooks_create(api: Api) -> None:
    op = "beta.chatkit.webhooks.create"
    endpoint = webhook(api, description="ops", enabled=False)
    assert endpoint["secret"].startswith("whsec_")
    body = {"url": UNREACHABLE, "events": ["run.completed"]}
    api.call(op, 400, json={**body, "url": "ftp://example.com"}, headers=CHATKIT_ADMIN)
    api.call(op, 400, json={**body, "events": ["run.exploded"]}, headers=CHATKIT_ADMIN)
    api.call(op, 400, json={**body, "secret": "mine"}, headers=CHATKIT_ADMIN)
    api.call(op, 401, json=body, headers=BETA_HEADERS)
    drop_webhook(api, endpoint)


@scenario("beta.chatkit.webhooks.list")
def _webhooks_list(api: Api) -> None:
    op, endpoint = "beta.chatkit.webhooks.list", webhook(api)
    page = api.call(op, 200, params={"limit": 1}, headers=CHATKIT_ADMIN).json()
    assert [e["id"] for e in page["data"]] == [endpoint["id"]]
    api.call(op, 400, params={"limit": 101}, headers=CHATKIT_ADMIN)
    drop_webhook(api, endpoint)


@scenario("beta.chatkit.webhooks.retrieve")
def _webhooks_retrieve(api: Api) -> None:
    op, endpoint = "beta.chatkit.webhooks.retrieve", webhook(api)
    api.call(op, 200, {"webhook_id": endpoint["id"]}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"webhook_id": NO_WEBHOOK}, headers=CHATKIT_ADMIN)
    drop_webhook(api, endpoint)


@scenario("beta.chatkit.webhooks.update")
def _webhooks_update(api: Api) -> None:
    op, endpoint = "beta.chatkit.webhooks.update", webhook(api)
    where = {"webhook_id": endpoint["id"]}
    changes = {"events": ["run.failed"], "description": None, "enabled": False}
    api.call(op, 200, where, json=changes, headers=CHATKIT_ADMIN)
    api.call(op, 400, where, json={"events": []}, headers=CHATKIT_ADMIN)
    api.call(op, 404, {"webhook_id": NO_WEBHOOK}, json={}, headers=CHATKIT_ADMIN)
    drop_webhook(api, endpoint)


@scenario("beta.chatkit.webhooks.delete")
def _webhooks_delete(api: Api) -> None:
    op, endpoint = "beta.chatkit.webhooks.delete", webhook(api)
    drop_webhook(api, endpoint)
    api.call(op, 404, {"webhook_id": endpoint["id"]}, headers=CHATKIT_ADMIN)


@scenario("beta.chatkit.webhooks.secret")
@scenario("beta.chatkit.webhooks.rotate_secret")
def _webhooks_secret(api: Api) -> None:
    endpoint = webhook(api)
    for op in ("beta.chatkit.webhooks.secret", "beta.chatkit.webhooks.rotate_secret"):
        api.call(op, 200, {"webhook_id": endpoint["id"]}, headers=CHATKIT_ADMIN)
        api.call(op, 404, {"webhook_id": NO_WEBHOOK}, headers=CHATKIT_ADMIN)
    drop_webhook(api, endpoint)


@scenario("beta.chatkit.webhooks.list_deliveries")
@scenario("beta.chatkit.webhooks.resend_delivery")
def _webhooks_deliveries(api: Api) -> None:
    endpoint = webhook(api)
    api.new_thread(api.session())  # thread.created: a delivery, written with the thread
    where = {"webhook_id": endpoint["id"]}
    op = "beta.chatkit.webhooks.list_deliveries"
    deliveries = api.call(op, 200, where, params={"limit": 1}, headers=CHATKIT_ADMIN).json()
    api.call(op, 404, {"webhook_id": NO_WEBHOOK}, headers=CHATKIT_ADMIN)
    op = "beta.chatkit.webhooks.resend_delivery"
    delivery = {**where, "delivery_id": deliveries["data"][0]["id"]}
    api.call(op, 200, delivery, headers=CHATKIT_ADMIN)
    api.call(op, 404, {**where, "delivery_id": NO_DELIVERY}, headers=CHATKIT_ADMIN)
    drop_webhook(api, endpoint)


@scenario("beta.chatkit.users.export")
@scenario("beta.chatkit.users.erase")
def _users(api: Api) -> None:
    session = api.session()
    thread_id, _ = api.new_thread(session)
    where = {"user": session["user"]}
    op = "beta.chatkit.users.export"
    exported = api.call(op, 200, where, headers=CHATKIT_ADMIN).json()
    assert [thread["id"] for thread in exported["threads"]] == [thread_id]
    api.call(op, 401, where, headers=WRONG_KEY)
    op = "beta.chatkit.users.erase"
    api.call(op, 401, where, headers=WRONG_KEY)
    receipt = api.call(op, 200, where, headers=CHATKIT_ADMIN).json()
    assert receipt["deleted"]["threads"] == 1
    again = api.call("beta.chatkit.users.export", 200, where, headers=CHATKIT_ADMIN).json()
    assert again["threads"] == []


@scenario("beta.chatkit.usage.retrieve")
def _usage(api: Api) -> None:
    session = api.session()
    api.new_thread(session)
    op = "beta.chatkit.usage.retrieve"
    mine = {"range": "7d", "user": session["user"]}
    answer = api.call(op, 200, params=mine, headers=CHATKIT_ADMIN).json()
    assert answer["totals"]["messages"] == 1
    api.call(op, 400, params={"range": "1y"}, headers=CHATKIT_ADMIN)
    api.call(op, 400, headers=ADMIN)
    api.call(op, 401, headers=WRONG_KEY)


def test_every_operation_has_a_scenario(document: dict[str, Any]) -> None:
    assert set(SCENARIOS) == {op["operationId"] for _, _, op in operations(document)}


@pytest.fixture(scope="module")
def http(kithost: KithostProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=kithost.url, timeout=60) as client:
        yield client


@pytest.mark.parametrize("operation_id", sorted(SCENARIOS))
def test_real_responses_match_the_document(
    operation_id: str, kithost: KithostProcess, document: dict[str, Any], http: httpx.Client
) -> None:
    api = Api(kithost, document, http)
    SCENARIOS[operation_id](api)
    seen = api.statuses[operation_id]
    assert any(200 <= status < 300 for status in seen), seen
