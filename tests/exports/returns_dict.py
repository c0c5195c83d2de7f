from agents import Agent, ModelSettings, TResponseInputItem, Runner, RunConfig, trace
from pydantic import BaseModel


class TicketSchema(BaseModel):
  summary: str
  priority: str


ticket_writer = Agent(
  name="Ticket writer",
  instructions="""Turn the customer's message into a support ticket: a one-line summary and a priority (low, normal or high).""",
  model="gpt-4.1-mini",
  output_type=TicketSchema,
  model_settings=ModelSettings(
    temperature=0,
    top_p=1,
    max_tokens=512,
    store=True
  )
)


class WorkflowInput(BaseModel):
  input_as_text: str


# Main code entrypoint
async def run_workflow(workflow_input: WorkflowInput):
  with trace("Ticket writer"):
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
    ticket_writer_result_temp = await Runner.run(
      ticket_writer,
      input=[
        *conversation_history
      ],
      run_config=RunConfig(trace_metadata={
        "__trace_source__": "agent-builder",
        "workflow_id": "wf_252410f3117a94b43c907e94905200d4a6cf58311c3d0aca"
      })
    )
    ticket = ticket_writer_result_temp.final_output.model_dump()
    return {
      "ticket": ticket,
      "queue": "support"
    }
