import sys
from agents import Agent, ModelSettings, TResponseInputItem, Runner, RunConfig, trace
from pydantic import BaseModel

print("loading the greeter export")

greeter = Agent(
  name="Greeter",
  instructions="""Greet the customer of the Harbor Lights bakery warmly.""",
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
  with trace("Greeter"):
    workflow = workflow_input.model_dump()
    print("workflow input:", workflow)
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
    greeter_result_temp = await Runner.run(
      greeter,
      input=[
        *conversation_history
      ],
      run_config=RunConfig(trace_metadata={
        "__trace_source__": "agent-builder",
        "workflow_id": "wf_5b24b4ceae9d4eb3838c0c6884723647180b01e1d8e2999b"
      })
    )
    print(greeter_result_temp)
    print("greeter answered:", greeter_result_temp.final_output, file=sys.stderr)
    return {
      "output_text": greeter_result_temp.final_output_as(str)
    }
