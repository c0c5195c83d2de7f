"""Hypothesis strategies for ChatKit protocol requests, built from ``chatkit.types``' models.

Each member of the ``ChatKitReq`` union is walked field by field (``st.from_type`` cannot resolve
their ``Any`` fields, such as ``metadata`` and an action's payload), so a new field or request
type in the SDK is fuzzed without a change here. Then:

- ids of threads, items and attachments that exist are mixed into the id fields, so requests
  get past the 404 checks and reach the code behind them;
- strings are often hostile (NUL, lone surrogates, bidi controls, huge), numbers are often at
  or past the limits of every integer type;
- some requests are mutated after they are built: a value replaced by one of another type, by a
  deep nesting or a huge list, a field dropped, an unknown field added;
- some bodies are not requests at all (broken JSON, other JSON types, deep nesting, huge numbers).
"""

from __future__ import annotations

import json
import types
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ForwardRef, Literal, TypeVar, Union, get_args, get_origin

from hypothesis import strategies as st
from pydantic import BaseModel

with warnings.catch_warnings():
    # chatkit 1.6.5 warns about its own widget classes on first import.
    warnings.filterwarnings("ignore", "Direct usage of named widget", DeprecationWarning)
    from chatkit.types import ChatKitReq

REQUEST_MODELS: tuple[type[BaseModel], ...] = get_args(get_args(ChatKitReq)[0])
STREAMING_TYPES = {
    "threads.create",
    "threads.add_user_message",
    "threads.add_client_tool_output",
    "threads.add_structured_input",
    "threads.retry_after_item",
    "threads.custom_action",
}


@dataclass
class Known:
    """Ids that exist on the server for the fuzzing user; kept current as requests change them
    (the newest few of each kind, so that the pools stay small)."""

    threads: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    thread_items: dict[str, list[str]] = field(default_factory=dict)

    def add_thread(self, thread_id: str) -> None:
        _keep(self.threads, thread_id, KEEP_THREADS)
        self.thread_items.setdefault(thread_id, [])

    def add_item(self, thread_id: str, item_id: str) -> None:
        _keep(self.items, item_id, KEEP_ITEMS)
        _keep(self.thread_items.setdefault(thread_id, []), item_id, KEEP_ITEMS)

    def add_attachment(self, attachment_id: str) -> None:
        _keep(self.attachments, attachment_id, KEEP_ITEMS)

    def forget_thread(self, thread_id: str) -> None:
        if thread_id in self.threads:
            self.threads.remove(thread_id)
        self.thread_items.pop(thread_id, None)

    def forget_attachment(self, attachment_id: str) -> None:
        if attachment_id in self.attachments:
            self.attachments.remove(attachment_id)

    def pool(self, name: str) -> list[str]:
        pools: dict[str, list[str]] = {
            "threads": self.threads,
            "items": self.items,
            "attachments": self.attachments,
            "cursors": self.threads + self.items,
        }
        return pools[name]


KEEP_THREADS = 12
KEEP_ITEMS = 60


def _keep(pool: list[str], value: str, limit: int) -> None:
    if value not in pool:
        pool.append(value)
        del pool[:-limit]


# Field names whose strings are ids, and the pool of existing ones to draw from.
ID_FIELDS = {
    "thread_id": "threads",
    "after": "cursors",
    "item_id": "items",
    "item_ids": "items",
    "attachment_id": "attachments",
    "attachments": "attachments",
}

# Field names whose strings are mostly one of a few values that get through, to go further.
GOOD_VALUES = {
    "mime_type": ["text/plain", "image/png", "application/pdf", "text/markdown"],
    "name": ["notes.txt", "picture.png"],
}

SPECIAL_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: valid as a JSON escape, not as Unicode
    "\udfff\ud800",
    "\u202etxt.exe",
    "\u200b\u200d\ufeff",
    "\u2028\u2029",
    "\uffff\U0010ffff",
    "e\u0301" * 50,
    "👩\u200d👩\u200d👧\u200d👦",
    "\r\n\r\ndata: injected\n\n",
    "../../etc/passwd",
    "%00%2e%2e%2f",
    "' OR 1=1 --",
    "{{7*7}}${7*7}",
    "<script>alert(1)</script>",
    "cthr_" + "0" * 48,
    "cti_" + "f" * 48,
    "atc_",
    "null",
    "-1",
    "1e309",
]
BIG_NUMBERS = [0, -1, 1, 101, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]


@dataclass(frozen=True)
class Raw:
    """JSON text placed as is in an encoded body (what ``json.dumps`` cannot or will not write)."""

    text: str


def raw_values() -> st.SearchStrategy[Raw]:
    depth = st.integers(min_value=100, max_value=5_000)
    return st.one_of(
        depth.map(lambda n: Raw("[" * n + "]" * n)),
        depth.map(lambda n: Raw('{"a":' * n + "1" + "}" * n)),
        st.sampled_from([Raw("1e999999"), Raw("-0.0"), Raw("NaN"), Raw("Infinity")]),
        st.integers(min_value=4_000, max_value=20_000).map(lambda n: Raw("9" * n)),
    )


def huge_strings() -> st.SearchStrategy[str]:
    """Strings of 10 kB to ~1.2 MB; rarely many words (the echo workflow answers word by word)."""
    unit = st.sampled_from(["x", "é", "😀", "\u202e", "\\", '"', "<"])
    return st.one_of(
        st.tuples(unit, st.integers(min_value=10_000, max_value=1_200_000)).map(
            lambda pair: pair[0] * (pair[1] // len(pair[0].encode()))
        ),
        st.integers(min_value=100, max_value=3_000).map(lambda n: "word " * n),
    )


def texts() -> st.SearchStrategy[str]:
    """Short strings: any Unicode, hostile ones, lone surrogates (huge ones come as mutations)."""
    return st.one_of(
        st.text(max_size=40),
        st.text(max_size=40),
        st.sampled_from(SPECIAL_STRINGS),
        st.text(st.characters(codec=None, categories=None), max_size=20),
    )


def integers() -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(min_value=-5, max_value=150), st.sampled_from(BIG_NUMBERS), st.integers()
    )


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(SPECIAL_STRINGS),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=10), children, max_size=4),
        ),
        max_leaves=12,
    )


class RequestStrategies:
    """Strategies for request bodies, drawing ids from ``known`` as it is when drawn."""

    def __init__(self, known: Known):
        self.known = known
        self._models: dict[type[BaseModel], st.SearchStrategy[dict[str, Any]]] = {}

    def existing(self, pool: str) -> st.SearchStrategy[str]:
        def pick(index: int) -> str:
            ids = self.known.pool(pool)
            return ids[index % len(ids)] if ids else "missing"

        return st.integers(min_value=0, max_value=10_000).map(pick)

    def string(self, name: str) -> st.SearchStrategy[str]:
        if name in ID_FIELDS:
            good = self.existing(ID_FIELDS[name])
        elif name in GOOD_VALUES:
            good = st.sampled_from(GOOD_VALUES[name])
        else:
            return texts()
        # Mostly values that get through (ids that exist: past the 404 checks), drawn through
        # a weighted choice (one_of would flatten texts' branches beside this one).
        other = texts()
        return st.sampled_from([True, True, True, False]).flatmap(
            lambda usual: good if usual else other
        )

    def for_type(self, annotation: Any, name: str) -> st.SearchStrategy[Any]:
        origin = get_origin(annotation)
        args = get_args(annotation)
        if origin is typing.Annotated:
            return self.for_type(args[0], name)
        if origin is Literal:
            return st.sampled_from(args)
        if origin in (Union, types.UnionType):
            return st.one_of(*(self.for_type(arg, name) for arg in args))
        if origin is list:
            return st.lists(self.for_type(args[0], name), max_size=5)
        if origin is dict:
            return st.dictionaries(st.text(max_size=12), self.for_type(args[1], name), max_size=4)
        if annotation is type(None) or annotation is None:
            return st.none()
        if annotation is str:
            return self.string(name)
        if annotation is bool:
            return st.booleans()
        if annotation is int:
            return integers()
        if annotation is float:
            return st.floats(allow_nan=False, allow_infinity=False)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return self.model(annotation)
        # Any, a type variable of a generic model (an action's payload), anything else: JSON.
        return json_values()

    def model(self, model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
        """A JSON object of ``model``'s fields: the required ones always, the rest sometimes."""
        if model not in self._models:
            hints = typing.get_type_hints(model, include_extras=True)
            required: dict[str, st.SearchStrategy[Any]] = {}
            optional: dict[str, st.SearchStrategy[Any]] = {}
            for name, info in model.model_fields.items():
                annotation = _resolved(info.annotation, hints.get(name))
                key = info.alias or name
                if name == "type" and get_origin(annotation) is Literal:
                    required[key] = st.just(get_args(annotation)[0])  # the union's tag
                    continue
                strategy = self._deferred(annotation, name)
                (required if info.is_required() else optional)[key] = strategy
            self._models[model] = st.fixed_dictionaries(required, optional=optional)
        return self._models[model]

    def _deferred(self, annotation: Any, name: str) -> st.SearchStrategy[Any]:
        """Built when first drawn (models refer to one another)."""
        return st.deferred(lambda: self.for_type(annotation, name))

    def requests(self) -> st.SearchStrategy[dict[str, Any]]:
        """A request of any type of the union, as the SDK's models describe it, whose item ids
        are mostly items of the thread it names (else most would be refused as not found)."""
        return aligned(st.one_of(*(self.model(model) for model in REQUEST_MODELS)), self.known)

    def bodies(self) -> st.SearchStrategy[Body]:
        """What is sent: a request as built, a mutated one, or bytes that are no request."""
        built = self.requests()
        # Two in five as built (they get furthest), then one each stretched, mutated, and not
        # a request at all.
        return st.one_of(
            built.map(Body.of),
            built.map(Body.of),
            stretched(built, self.known).map(Body.of),
            mutated(built).map(Body.of),
            st.one_of(st.binary(max_size=64), raw_values().map(lambda raw: raw.text.encode())).map(
                lambda data: Body(data, None)
            ),
        )


def _resolved(annotation: Any, hint: Any) -> Any:
    """A field's type: pydantic's (generic models substituted), else the resolved hint."""
    if annotation is None or isinstance(annotation, str | ForwardRef) or _has_forward(annotation):
        annotation = hint
    if isinstance(annotation, TypeVar):
        return Any
    return annotation


def _has_forward(annotation: Any) -> bool:
    return any(isinstance(arg, ForwardRef) or _has_forward(arg) for arg in get_args(annotation))


@st.composite
def aligned(
    draw: st.DrawFn, requests: st.SearchStrategy[dict[str, Any]], known: Known
) -> dict[str, Any]:
    """Item ids mostly of the thread the request names (else most are refused as not found).

    What is drawn never depends on ``known`` (Hypothesis replays draws), only what is made of it.
    """
    request: dict[str, Any] = draw(requests)
    align = draw(st.sampled_from([True, True, True, False]))
    params = request.get("params")
    if not isinstance(params, dict):
        return request
    thread_id = params.get("thread_id")
    items = known.thread_items.get(thread_id, []) if isinstance(thread_id, str) else []

    def item(current: Any) -> Any:
        index = draw(st.integers(min_value=0, max_value=10_000))
        return items[index % len(items)] if align and items else current

    if isinstance(params.get("item_id"), str):
        params["item_id"] = item(params["item_id"])
    if isinstance(params.get("item_ids"), list):
        params["item_ids"] = [item(current) for current in params["item_ids"]]
    return request


@st.composite
def stretched(
    draw: st.DrawFn, requests: st.SearchStrategy[dict[str, Any]], known: Known
) -> dict[str, Any]:
    """A request with one list made huge (copies of its first value, or of an id that exists
    for a list of ids) or one string made huge: sizes no client sends, that limits must hold."""
    request: dict[str, Any] = draw(requests)
    index = draw(st.integers(min_value=0, max_value=10_000))
    places = [(parent, key) for parent, key in _places(request) if key != "type"]
    lists = [(parent, key) for parent, key in places if isinstance(parent[key], list)]
    strings = [(parent, key) for parent, key in places if isinstance(parent[key], str)]
    prefer_lists = draw(st.booleans())
    candidates = lists if lists and (prefer_lists or not strings) else strings
    if candidates:
        parent, key = _pick(draw, candidates)
        if isinstance(parent[key], list):
            ids = known.pool(ID_FIELDS[key]) if key in ID_FIELDS else []
            value = ids[index % len(ids)] if ids else parent[key]
            parent[key] = many(value, draw(st.integers(min_value=1_000, max_value=50_000)))
        else:
            parent[key] = draw(huge_strings())
    return request


def _places(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) pair inside ``value``, depth first."""
    found = []
    for key in _children(value):
        found.append((value, key))
        found += _places(value[key])
    return found


Mutation = Callable[[Any], Any]


def mutations() -> st.SearchStrategy[Mutation]:
    """Replace a value: another type, a deep nesting, a huge list of it, or JSON text as is."""
    replacement = st.one_of(json_values(), texts(), huge_strings(), raw_values())
    return st.one_of(
        replacement.map(lambda value: lambda _old: value),
        st.integers(min_value=1_000, max_value=40_000).map(lambda n: lambda old: many(old, n)),
    )


def many(value: Any, n: int) -> list[Any]:
    """A list of ``n`` copies of a small value: ``value`` (or its first element) if small."""
    if isinstance(value, list):
        value = value[0] if value else "x"
    small = isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) < 200)
    return [value if small else "x"] * n


@st.composite
def mutated(draw: st.DrawFn, requests: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A request with one to three changes somewhere inside it."""
    request: dict[str, Any] = draw(requests)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        parent: Any = request
        # Walk down from the top, stopping at some container.
        while True:
            children = _children(parent)
            if not children or draw(st.booleans()):
                break
            child = parent[_pick(draw, children)]
            if not isinstance(child, dict | list) or not _children(child):
                break
            parent = child
        children = _children(parent)
        action = draw(st.sampled_from(["replace", "drop", "add"] if children else ["add"]))
        if action == "add" or not children:
            key = draw(st.text(max_size=12))
            value = draw(st.one_of(json_values(), raw_values()))
            if isinstance(parent, dict):
                parent[key] = value
            else:
                parent.append(value)
        elif action == "drop":
            del parent[_pick(draw, children)]
        else:
            at = _pick(draw, children)
            parent[at] = draw(mutations())(parent[at])
    return request


def _pick(draw: st.DrawFn, children: list[Any]) -> Any:
    """One of ``children`` (drawn as an index: a list of 40,000 keys is no strategy to show)."""
    return children[draw(st.integers(min_value=0, max_value=len(children) - 1))]


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list):
        return list(range(len(value)))
    return []


@dataclass(frozen=True)
class Body:
    """Bytes to send, and the request they encode (None when they are not a JSON object)."""

    data: bytes
    request: dict[str, Any] | None

    @classmethod
    def of(cls, request: dict[str, Any]) -> Body:
        return cls(encode(request), request)

    @property
    def kind(self) -> str | None:
        kind = (self.request or {}).get("type")
        return kind if isinstance(kind, str) else None

    @property
    def params(self) -> dict[str, Any]:
        params = (self.request or {}).get("params")
        return params if isinstance(params, dict) else {}

    def __repr__(self) -> str:
        text = self.data[:600].decode("utf-8", "backslashreplace")
        more = f"… ({len(self.data)} bytes)" if len(self.data) > 600 else ""
        return f"Body({text}{more})"


def encode(value: Any) -> bytes:
    """JSON bytes, with Raw values spliced in (lone surrogates as ``\\ud800`` escapes)."""
    raws: list[str] = []

    def placeholder(item: Any) -> Any:
        if isinstance(item, Raw):
            raws.append(item.text)
            return f"\x01raw{len(raws) - 1}\x01"
        if isinstance(item, dict):
            return {key: placeholder(child) for key, child in item.items()}
        if isinstance(item, list):
            return [placeholder(child) for child in item]
        return item

    text = json.dumps(placeholder(value))
    for index, raw in enumerate(raws):
        text = text.replace(f'"\\u0001raw{index}\\u0001"', raw, 1)
    return text.encode()
