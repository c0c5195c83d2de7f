"""The approval card: a ChatKit widget that asks the user before a tool call runs.

Its Approve / Deny buttons are the card's ``confirm`` / ``cancel`` actions, answered through the
ChatKit action protocol (``threads.custom_action``), so chatkit-js and kithost's own chat both
render and send them without custom code. Once decided, the card is replaced by a copy without
buttons whose badge says what happened, so a reload shows the decision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from chatkit.types import WidgetItem
from chatkit.widgets import DynamicWidgetRoot

APPROVAL_ACTION = "kithost.tool_approval"
STATUS_ID = "approval-status"
MAX_ARGUMENT_CHARS = 2000

Decision = Literal["approved", "denied", "expired", "cancelled"]

# What each decision looks like on the card: badge label, badge colour, a caption.
DECIDED: dict[Decision, tuple[str, str, str]] = {
    "approved": ("Approved", "success", "Approved: the call was sent to the server."),
    "denied": ("Denied", "danger", "Denied: nothing was sent to the server."),
    "expired": ("Expired", "secondary", "Nobody answered in time: nothing was sent."),
    "cancelled": ("Cancelled", "secondary", "The conversation moved on: nothing was sent."),
}


@dataclass(frozen=True)
class ApprovalRequest:
    """A tool call waiting for the user: which server, which tool, with what arguments."""

    server_label: str
    tool_name: str
    arguments: dict[str, Any]
    server_description: str | None = None


def pending_card(approval_id: str, request: ApprovalRequest) -> DynamicWidgetRoot:
    """The card with Approve / Deny."""
    about = f"The assistant wants to call “{request.tool_name}” on the MCP server "
    about += f"“{request.server_label}”"
    about += f" ({request.server_description})." if request.server_description else "."
    card = {
        "type": "Card",
        "size": "md",
        "children": [
            {
                "type": "Row",
                "gap": 2,
                "children": [
                    {"type": "Title", "value": f"Allow {request.tool_name}?", "size": "sm"},
                    {"type": "Spacer"},
                    {"type": "Badge", "id": STATUS_ID, "label": "Waiting", "color": "warning"},
                ],
            },
            {"type": "Text", "value": about, "size": "sm", "color": "secondary"},
            {"type": "Markdown", "value": f"```json\n{_arguments_text(request.arguments)}\n```"},
        ],
        "confirm": {"label": "Approve", "action": _action(approval_id, "approve")},
        "cancel": {"label": "Deny", "action": _action(approval_id, "deny")},
    }
    return DynamicWidgetRoot.model_validate(card)


def decided_card(widget: WidgetItem, decision: Decision) -> WidgetItem:
    """``widget`` (an approval card) without its buttons, showing ``decision``."""
    card = widget.widget.model_dump(mode="json", exclude_none=True)
    card.pop("confirm", None)
    card.pop("cancel", None)
    label, color, caption = DECIDED[decision]
    card["children"] = [_with_status(child, label, color) for child in card.get("children", [])]
    card["children"].append({"type": "Caption", "value": caption})
    return widget.model_copy(update={"widget": DynamicWidgetRoot.model_validate(card)})


def approval_id_of(widget: WidgetItem) -> str | None:
    """The approval an undecided approval card asks for; None for any other widget."""
    confirm = getattr(widget.widget, "confirm", None)
    if confirm is None:
        extra = widget.widget.model_extra or {}
        confirm = extra.get("confirm")
    action = confirm.get("action") if isinstance(confirm, dict) else None
    if isinstance(action, dict):
        action_type, payload = action.get("type"), action.get("payload")
    else:
        action_type, payload = getattr(action, "type", None), getattr(action, "payload", None)
    if action_type != APPROVAL_ACTION or not isinstance(payload, dict):
        return None
    approval_id = payload.get("approval_id")
    return approval_id if isinstance(approval_id, str) else None


def _action(approval_id: str, decision: str) -> dict[str, Any]:
    return {"type": APPROVAL_ACTION, "payload": {"approval_id": approval_id, "decision": decision}}


def _with_status(component: Any, label: str, color: str) -> Any:
    if not isinstance(component, dict):
        return component
    if component.get("id") == STATUS_ID:
        return {**component, "label": label, "color": color}
    children = component.get("children")
    if isinstance(children, list):
        return {**component, "children": [_with_status(c, label, color) for c in children]}
    return component


def _arguments_text(arguments: dict[str, Any]) -> str:
    text = json.dumps(arguments, indent=2, ensure_ascii=False, default=str)
    if len(text) > MAX_ARGUMENT_CHARS:
        text = text[:MAX_ARGUMENT_CHARS] + "\n…"
    # Backticks could close the code fence; inside JSON strings \u0060 means the same.
    return text.replace("`", "\\u0060")
