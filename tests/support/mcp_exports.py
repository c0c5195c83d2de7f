"""Agent Builder exports that use ``HostedMCPTool``, in the exact shape Agent Builder writes.

Agent Builder puts the tool's whole ``tool_config`` in the file (server URL, and often the
``authorization`` token itself); the tests fill in the test MCP server's URL and token.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

ORDER_DESK_INSTRUCTIONS = "You are the order desk of the test shop. Use the orders tools."


def tool_config(
    url: str,
    *,
    label: str = "orders",
    authorization: str | None = None,
    headers: dict[str, str] | None = None,
    allowed_tools: Any = ("lookup_order", "cancel_order"),
    require_approval: Any = "never",
    description: str = "Orders of the test shop",
    connector_id: str | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {"type": "mcp", "server_label": label}
    if allowed_tools is not None:
        config["allowed_tools"] = (
            list(allowed_tools) if isinstance(allowed_tools, tuple) else allowed_tools
        )
    if authorization is not None:
        config["authorization"] = authorization
    if headers is not None:
        config["headers"] = headers
    config["require_approval"] = require_approval
    config["server_description"] = description
    if connector_id is not None:
        config["connector_id"] = connector_id
    else:
        config["server_url"] = url
    return config


def mcp_export(
    workflow_id: str,
    config: dict[str, Any],
    *,
    instructions: str = ORDER_DESK_INSTRUCTIONS,
    agent_inside_run: bool = False,
) -> str:
    """An export with one agent that has the MCP tool.

    ``agent_inside_run``: the agent is built inside ``run_workflow`` (as some exports do), so
    kithost only meets its tools when a turn runs.
    """
    tool = "mcp = HostedMCPTool(tool_config=" + json.dumps(config, indent=2) + ")"
    agent = textwrap.dedent(
        f'''\
        order_desk = Agent(
          name="Order desk",
          instructions="""{instructions}""",
          model="gpt-4.1-mini",
          tools=[
            mcp
          ],
          model_settings=ModelSettings(
            temperature=1,
            top_p=1,
            parallel_tool_calls=True,
            max_tokens=2048,
            store=True
          )
        )
        '''
    )
    header = (
        "from agents import HostedMCPTool, Agent, ModelSettings, TResponseInputItem, Runner, "
        "RunConfig, trace\nfrom pydantic import BaseModel\n\n# Tool definitions\n"
    )
    inner_agent = textwrap.indent(agent, "    ") if agent_inside_run else ""
    body = RUN_WORKFLOW.replace("{workflow_id}", workflow_id).replace("{agent}\n", inner_agent)
    return header + tool + "\n" + ("" if agent_inside_run else agent) + body


RUN_WORKFLOW = """

class WorkflowInput(BaseModel):
  input_as_text: str


# Main code entrypoint
async def run_workflow(workflow_input: WorkflowInput):
  with trace("Order desk"):
{agent}
    state = {

    }
    workflow = workflow_input.model_dump()
    conversation_history: list[TResponseInputItem] = [
      {
        "role": "user",
        "content": [
          {
            "type": "input_text",
            "text": workflow["input_as_text"]
          }
        ]
      }
    ]
    order_desk_result_temp = await Runner.run(
      order_desk,
      input=[
        *conversation_history
      ],
      run_config=RunConfig(trace_metadata={
        "__trace_source__": "agent-builder",
        "workflow_id": "{workflow_id}"
      })
    )

    conversation_history.extend([item.to_input_item() for item in order_desk_result_temp.new_items])

    order_desk_result = {
      "output_text": order_desk_result_temp.final_output_as(str)
    }
    return order_desk_result
"""
