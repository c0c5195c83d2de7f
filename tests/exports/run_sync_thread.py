import asyncio
from agents import Agent, ModelSettings, TResponseInputItem, Runner, RunConfig, trace
from pydantic import BaseModel


class LanguageSchema(BaseModel):
  language: str


language_detector = Agent(
  name="Language detector",
  instructions="""Detect the language of the customer's message.""",
  model="gpt-4.1-mini",
  output_type=LanguageSchema,
  model_settings=ModelSettings(
    temperature=0,
    top_p=1,
    max_tokens=256,
    store=True
  )
)


translator = Agent(
  name="Translator",
  instructions="""Answer the customer in the language they wrote in.""",
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


def run_config():
  return RunConfig(trace_metadata={
    "__trace_source__": "agent-builder",
    "workflow_id": "wf_fade0c0032092750b0464887fc9f1e481d9fdb6666ff43af"
  })


# Main code entrypoint
async def run_workflow(workflow_input: WorkflowInput):
  with trace("Translator"):
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
    loop = asyncio.get_running_loop()
    detected = await loop.run_in_executor(
      None,
      lambda: Runner.run_sync(language_detector, input=[*conversation_history], run_config=run_config())
    )
    conversation_history.extend([item.to_input_item() for item in detected.new_items])
    answered = await asyncio.to_thread(
      Runner.run_sync, translator, [*conversation_history], run_config=run_config()
    )
    return {
      "output_text": answered.final_output_as(str)
    }
