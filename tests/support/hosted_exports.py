"""Agent Builder exports that use hosted tools, in the shape the export writes them.

Each is the text of one file: the tool definitions at the top (``web_search_preview =
WebSearchTool(...)``, ``code_interpreter = CodeInterpreterTool(tool_config={...})``, …), one
agent using them, ``WorkflowInput`` and ``run_workflow`` with the non-streaming
``Runner.run``. Kept as text (not ``.py`` files) so that formatters leave their two-space
indentation alone.
"""

from __future__ import annotations

from pathlib import Path

RESEARCHER = "wf_68f3e1a0c4d88190b1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6"
DOCS_SEARCH = "wf_68f3e1a0c4d88190docs5earch0a1b2c3d4e5f60718293a"
ANALYST = "wf_68f3e1a0c4d88190c0de1n7e2pre7e2a3b4c5d6e7f8091a2"
ILLUSTRATOR = "wf_68f3e1a0c4d88190a1b2c3d4e5f6image0a1b2c3d4e5f6a7"
LIBRARIAN = "wf_68f3e1a0c4d88190f11e5earch0a1b2c3d4e5f60718293b"

WEB_SEARCH_TOOL = """\
web_search_preview = WebSearchTool(
  search_context_size="high",
  user_location={
    "city": "Québec",
    "country": "CA",
    "region": "QC",
    "type": "approximate"
  }
)"""

DOCS_SEARCH_TOOL = """\
web_search_preview = WebSearchTool(
  filters={
    "allowed_domains": [
      "docs.example.org"
    ]
  },
  search_context_size="low",
  user_location={
    "type": "approximate"
  }
)"""

CODE_INTERPRETER_TOOL = """\
code_interpreter = CodeInterpreterTool(tool_config={
  "type": "code_interpreter",
  "container": {
    "type": "auto",
    "file_ids": [

    ]
  }
})"""

IMAGE_GENERATION_TOOL = """\
image_generation = ImageGenerationTool(tool_config={
  "type": "image_generation",
  "background": "auto",
  "model": "gpt-image-1",
  "moderation": "auto",
  "output_format": "png",
  "partial_images": 0,
  "quality": "auto",
  "size": "1024x1024"
})"""

FILE_SEARCH_TOOL = """\
file_search = FileSearchTool(
  vector_store_ids=[
    "vs_68f3e1b2c8048191a0b1c2d3e4f5a6b7"
  ]
)"""


def hosted_export(
    workflow_id: str,
    tool_class: str,
    tool_definition: str,
    tool_variable: str,
    instructions: str,
    model: str = "gpt-4.1",
) -> str:
    """One agent with one hosted tool, as Agent Builder exports it."""
    imports = f"{tool_class}, Agent, ModelSettings, TResponseInputItem, Runner, RunConfig, trace"
    return f'''from agents import {imports}
from pydantic import BaseModel

# Tool definitions
{tool_definition}
assistant = Agent(
  name="Assistant",
  instructions="""{instructions}""",
  model="{model}",
  tools=[
    {tool_variable}
  ],
  model_settings=ModelSettings(
    temperature=1,
    top_p=1,
    max_tokens=2048,
    store=True
  )
)


class WorkflowInput(BaseModel):
  input_as_text: str


# Main code entrypoint
async def run_workflow(workflow_input: WorkflowInput):
  with trace("Assistant"):
    workflow = workflow_input.model_dump()
    conversation_history: list[TResponseInputItem] = [
      {{
        "role": "user",
        "content": [
          {{
            "type": "input_text",
            "text": workflow["input_as_text"]
          }}
        ]
      }}
    ]
    assistant_result_temp = await Runner.run(
      assistant,
      input=[
        *conversation_history
      ],
      run_config=RunConfig(trace_metadata={{
        "__trace_source__": "agent-builder",
        "workflow_id": "{workflow_id}"
      }})
    )

    conversation_history.extend([item.to_input_item() for item in assistant_result_temp.new_items])

    assistant_result = {{
      "output_text": assistant_result_temp.final_output_as(str)
    }}
    return assistant_result
'''


EXPORTS: dict[str, str] = {
    "researcher.py": hosted_export(
        RESEARCHER,
        "WebSearchTool",
        WEB_SEARCH_TOOL,
        "web_search_preview",
        "You research questions on the web and cite your sources.",
    ),
    "docs_search.py": hosted_export(
        DOCS_SEARCH,
        "WebSearchTool",
        DOCS_SEARCH_TOOL,
        "web_search_preview",
        "You answer from the product documentation only.",
        model="gpt-4.1-mini",
    ),
    "analyst.py": hosted_export(
        ANALYST,
        "CodeInterpreterTool",
        CODE_INTERPRETER_TOOL,
        "code_interpreter",
        "You analyse data by running Python.",
    ),
    "illustrator.py": hosted_export(
        ILLUSTRATOR,
        "ImageGenerationTool",
        IMAGE_GENERATION_TOOL,
        "image_generation",
        "You draw what the user describes.",
    ),
    "librarian.py": hosted_export(
        LIBRARIAN,
        "FileSearchTool",
        FILE_SEARCH_TOOL,
        "file_search",
        "You answer from the company handbook.",
    ),
}
WEB_SEARCH_EXPORTS = ("researcher.py", "docs_search.py")
FILE_SEARCH_EXPORTS = ("librarian.py",)
FILE_SEARCH_STORE = "vs_68f3e1b2c8048191a0b1c2d3e4f5a6b7"
UNAVAILABLE_OFF_OPENAI = {
    "analyst.py": (ANALYST, "CodeInterpreterTool"),
    "illustrator.py": (ILLUSTRATOR, "ImageGenerationTool"),
}


def write_exports(folder: Path, names: tuple[str, ...] | None = None) -> Path:
    """Write the exports (all, or ``names``) into ``folder``; the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names or tuple(EXPORTS):
        (folder / name).write_text(EXPORTS[name], encoding="utf-8")
    return folder
