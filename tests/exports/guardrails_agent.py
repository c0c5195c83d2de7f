from agents import Runner, RunConfig, trace
from agents.exceptions import InputGuardrailTripwireTriggered
from guardrails import GuardrailAgent, GuardrailsAsyncOpenAI
from openai import OpenAI
from pydantic import BaseModel

# Clients built at import time, as hand-written exports do.
sync_client = OpenAI()
guarded_client = GuardrailsAsyncOpenAI(config={
  "version": 1,
  "input": {"version": 1, "guardrails": [{"name": "Moderation", "config": {"categories": ["hate", "violence"]}}]}
})

pipeline = {
  "version": 1,
  "input": {
    "version": 1,
    "guardrails": [
      {"name": "Jailbreak", "config": {"model": "gpt-4.1-mini", "confidence_threshold": 0.7}},
      {"name": "URL Filter", "config": {"url_allow_list": ["example.com"]}}
    ]
  }
}

concierge = GuardrailAgent(
  config=pipeline,
  name="Concierge",
  instructions="You are the concierge of the Harbour Hotel. Answer questions about rooms and the restaurant.",
  model="gpt-4.1",
)


class WorkflowInput(BaseModel):
  input_as_text: str


async def run_workflow(workflow_input: WorkflowInput):
  with trace("Concierge"):
    try:
      result = await Runner.run(
        concierge,
        input=workflow_input.input_as_text,
        run_config=RunConfig(trace_metadata={
          "__trace_source__": "agent-builder",
          "workflow_id": "wf_6a1c9e0d4b2f8190a7e3c5b1d9f20468ac13e57b9d0f2c47"
        })
      )
    except InputGuardrailTripwireTriggered:
      return {"output_text": "The concierge cannot help with that request."}
    return {"output_text": result.final_output_as(str)}
