"""The Moderation guardrail off OpenAI: an LLM check through the configured provider.

OpenAI's ``/v1/moderations`` exists only on OpenAI. Elsewhere kithost asks the provider's model
which of the categories the export's Moderation guardrail checks the text falls into, and reads
the answer strictly: one JSON object ``{"flagged_categories": [...]}`` naming only categories it
was asked about, or the check fails (``ModelBehaviorError``) rather than guessing. The answer is
returned in the shape of OpenAI's moderation response, so the guardrail runs unchanged.

The model is the alias of ``omni-moderation-latest`` in ``KITHOST_MODEL_ALIASES`` when there is
one, else ``KITHOST_DEFAULT_MODEL`` (else kithost's fallback model, itself aliased).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agents.exceptions import ModelBehaviorError
from openai.types import Moderation, ModerationCreateResponse

from kithost.workflows.guardrails.scope import moderation_categories

if TYPE_CHECKING:
    from kithost.workflows.guardrails.client import ProviderClient

# OpenAI's moderation categories, each with what it covers (the wording is kithost's).
CATEGORIES: dict[str, str] = {
    "harassment": "harassing, bullying or demeaning language aimed at someone",
    "harassment/threatening": "harassment that also threatens violence or serious harm",
    "hate": "hatred against people for a protected attribute (race, religion, gender, …)",
    "hate/threatening": "hateful content that also threatens violence or serious harm",
    "illicit": "advice or instructions for committing illegal acts",
    "illicit/violent": "illegal-act instructions that involve violence or obtaining weapons",
    "self-harm": "content that promotes, encourages or depicts self-harm",
    "self-harm/intent": "the writer says they intend to harm themselves",
    "self-harm/instructions": "instructions or encouragement for self-harm",
    "sexual": "sexually explicit content",
    "sexual/minors": "sexual content involving anyone under 18",
    "violence": "content depicting death, violence or physical injury",
    "violence/graphic": "death, violence or injury depicted in graphic detail",
}

INSTRUCTIONS = """\
You are the content-safety filter of a chat service. Decide which of the categories below the
user's text falls into. Judge the text itself, not the topic: a question about a sensitive
subject is not itself in a category.

Categories:
{categories}

Answer with one JSON object and nothing else: {{"flagged_categories": [...]}}, listing the
category names exactly as written above, or an empty list when none applies."""


def moderation_model(client: ProviderClient, requested: Any) -> str:
    config = client.provider_config
    if isinstance(requested, str) and requested in config.aliases:
        return config.aliases[requested]
    return config.model_name(None)


async def llm_moderation(
    client: ProviderClient, given: Any, requested_model: Any
) -> ModerationCreateResponse:
    """``moderations.create`` answered by the provider's model (see the module docstring)."""
    asked = [name for name in moderation_categories() if name in CATEGORIES] or list(CATEGORIES)
    text = "\n".join(given) if isinstance(given, list) else str(given or "")
    model = moderation_model(client, requested_model)
    schema = {
        "type": "object",
        "properties": {
            "flagged_categories": {"type": "array", "items": {"type": "string", "enum": asked}}
        },
        "required": ["flagged_categories"],
        "additionalProperties": False,
    }
    completion = await client.chat_completion(
        {
            "model": model,
            "messages": [
                {"role": "system", "content": instructions(asked)},
                {"role": "user", "content": text},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "moderation", "schema": schema, "strict": True},
            },
        }
    )
    flagged = parse_answer(completion.choices[0].message.content, asked)
    return moderation_response(flagged, model)


def instructions(asked: Sequence[str]) -> str:
    listed = "\n".join(f"- {name}: {CATEGORIES[name]}" for name in asked)
    return INSTRUCTIONS.format(categories=listed)


def parse_answer(content: str | None, asked: Sequence[str]) -> list[str]:
    """The flagged categories, from an answer that must be exactly the JSON asked for."""
    try:
        answer = json.loads(content or "")
    except ValueError:
        answer = None
    flagged = answer.get("flagged_categories") if isinstance(answer, dict) else None
    if (
        not isinstance(answer, dict)
        or set(answer) != {"flagged_categories"}
        or not isinstance(flagged, list)
        or not all(isinstance(name, str) and name in asked for name in flagged)
    ):
        raise ModelBehaviorError(
            "the model's moderation answer was not the JSON object of categories it was asked for"
        )
    return list(dict.fromkeys(flagged))


def moderation_response(flagged: Sequence[str], model: str) -> ModerationCreateResponse:
    """OpenAI's moderation response shape, for the categories found."""
    result = {
        "flagged": bool(flagged),
        "categories": {name: name in flagged for name in CATEGORIES},
        "category_scores": {name: 1.0 if name in flagged else 0.0 for name in CATEGORIES},
        "category_applied_input_types": {name: ["text"] for name in CATEGORIES},
    }
    response = {"id": f"modr-kithost-{secrets.token_hex(8)}", "model": model, "results": [result]}
    return with_category_names(ModerationCreateResponse.model_validate(response))


class _NamedModeration(Moderation):
    """A result whose ``model_dump()`` keys categories by their names ("hate/threatening").

    openai-guardrails 0.3.6 looks categories up by name in ``model_dump()``, which keys them by
    field name (``hate_threatening``): every category with a ``/`` or ``-`` would never trip.
    """

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("by_alias", True)
        return super().model_dump(**kwargs)


def with_category_names(response: ModerationCreateResponse) -> ModerationCreateResponse:
    results = [
        _NamedModeration.model_validate(result.model_dump(by_alias=True))
        for result in response.results
    ]
    return response.model_copy(update={"results": results})
