from agents import Agent, ModelSettings, TResponseInputItem, Runner, RunConfig, trace
from openai.types.responses import ResponseTextDeltaEvent
from pydantic import BaseModel

storyteller = Agent(
  name="Storyteller",
  instructions="""Tell very short bedtime stories.""",
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
  with trace("Storyteller"):
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
    result = Runner.run_streamed(
      storyteller,
      input=[
        *conversation_history
      ],
      run_config=RunConfig(trace_metadata={
        "__trace_source__": "agent-builder",
        "workflow_id": "wf_52386c9b4cdc065bb7fb5779f3ffeaaa9af46615c6e19693"
      }),
      max_turns=3,
      previous_response_id="resp_ignored_by_kithost"
    )
    deltas = []
    async for event in result.stream_events():
      if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent):
        deltas.append(event.data.delta)
    conversation_history.extend([item.to_input_item() for item in result.new_items])
    print(f"streamed {len(deltas)} deltas: {''.join(deltas)} | final: {result.final_output}")
