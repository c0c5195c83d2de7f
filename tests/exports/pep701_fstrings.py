from agents import Agent, ModelSettings, TResponseInputItem, Runner, RunConfig, trace
from pydantic import BaseModel

tutor = Agent(
  name="Tutor",
  instructions="""You are a patient maths tutor. Explain one step at a time.""",
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
  with trace("Tutor"):
    state = {
      "subject": "maths"
    }
    workflow = workflow_input.model_dump()
    conversation_history: list[TResponseInputItem] = [
      {
        "role": "user",
        "content": [
          {
            "type": "input_text",
            "text": f"Question ({state["subject"]}): {workflow["input_as_text"]}"
          }
        ]
      }
    ]
    tutor_result_temp = await Runner.run(
      tutor,
      input=[
        *conversation_history
      ],
      run_config=RunConfig(trace_metadata={
        "__trace_source__": "agent-builder",
        "workflow_id": "wf_35e74e49f4ee1228b95b49d240f90b6198677a71bfa1ed03"
      })
    )

    conversation_history.extend([item.to_input_item() for item in tutor_result_temp.new_items])

    tutor_result = {
      "output_text": tutor_result_temp.final_output_as(str)
    }
    return tutor_result
