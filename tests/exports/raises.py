from agents import Agent, HostedMCPTool, ModelSettings, TResponseInputItem, Runner, RunConfig, trace
from pydantic import BaseModel

# Tool definitions
crm = HostedMCPTool(tool_config={
  "type": "mcp",
  "server_label": "crm",
  "server_url": "https://crm.example.invalid/mcp",
  "authorization": "mcp-secret-0f5e2c7b9a1d4e8f",
  "allowed_tools": [
    "lookup_customer"
  ],
  "require_approval": "never"
})
KNOWN_LABELS = ["billing", "orders"]

helper = Agent(
  name="Helper",
  instructions="""You help customers of the Harbor Lights bakery.""",
  model="gpt-4.1-mini",
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
  with trace("Helper"):
    workflow = workflow_input.model_dump()
    if "crm" in workflow["input_as_text"].lower():
      # A bug of the export's own: it looks a tool up among labels.
      label = KNOWN_LABELS[KNOWN_LABELS.index(crm)]
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
    helper_result_temp = await Runner.run(
      helper,
      input=[
        *conversation_history
      ],
      run_config=RunConfig(trace_metadata={
        "__trace_source__": "agent-builder",
        "workflow_id": "wf_7794cf38536f6dc5d7c127c45438634d306967027a036506"
      })
    )
    return {
      "output_text": helper_result_temp.final_output_as(str)
    }
