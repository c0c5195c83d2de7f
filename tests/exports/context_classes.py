from dataclasses import dataclass
from agents import function_tool, RunContextWrapper, Agent, ModelSettings, TResponseInputItem, Runner, RunConfig, trace
from pydantic import BaseModel


@dataclass
class BranchFinderContext:
  workflow_input_as_text: str
  city: str


# Tool definitions
@function_tool
def find_branch(ctx: RunContextWrapper[BranchFinderContext]):
  """Find the branch of Harbor Lights nearest to the customer."""
  return f"The {ctx.context.city} branch opens at 7am (asked: {ctx.context.workflow_input_as_text})"


class ExtractCitySchema(BaseModel):
  city: str


class ExtractCityContext:
  def __init__(self, workflow_input_as_text: str):
    self.workflow_input_as_text = workflow_input_as_text
def extract_city_instructions(run_context: RunContextWrapper[ExtractCityContext], _agent: Agent[ExtractCityContext]):
  workflow_input_as_text = run_context.context.workflow_input_as_text
  return f"""Extract the city the customer is asking about from this message: {workflow_input_as_text}"""
extract_city = Agent(
  name="Extract city",
  instructions=extract_city_instructions,
  model="gpt-4.1-mini",
  output_type=ExtractCitySchema,
  model_settings=ModelSettings(
    temperature=0,
    top_p=1,
    max_tokens=256,
    store=True
  )
)


def branch_finder_instructions(run_context: RunContextWrapper[BranchFinderContext], _agent: Agent[BranchFinderContext]):
  workflow_input_as_text = run_context.context.workflow_input_as_text
  city = run_context.context.city
  return f"""You help customers of the Harbor Lights bakery in {city}. Use find_branch before answering.
The customer wrote: {workflow_input_as_text}"""
branch_finder = Agent(
  name="Branch finder",
  instructions=branch_finder_instructions,
  model="gpt-4.1-mini",
  tools=[
    find_branch
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
  with trace("Branch finder"):
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
    extract_city_result_temp = await Runner.run(
      extract_city,
      input=[
        *conversation_history
      ],
      run_config=RunConfig(trace_metadata={
        "__trace_source__": "agent-builder",
        "workflow_id": "wf_5be66870cabad67a9a0927d3489fcd4e5dcf4e5cdc149009"
      }),
      context=ExtractCityContext(workflow_input_as_text=workflow["input_as_text"])
    )

    conversation_history.extend([item.to_input_item() for item in extract_city_result_temp.new_items])

    extract_city_result = {
      "output_text": extract_city_result_temp.final_output.json(),
      "output_parsed": extract_city_result_temp.final_output.model_dump()
    }
    branch_finder_result_temp = await Runner.run(
      branch_finder,
      input=[
        *conversation_history
      ],
      run_config=RunConfig(trace_metadata={
        "__trace_source__": "agent-builder",
        "workflow_id": "wf_5be66870cabad67a9a0927d3489fcd4e5dcf4e5cdc149009"
      }),
      context=BranchFinderContext(workflow_input_as_text=workflow["input_as_text"], city=extract_city_result["output_parsed"]["city"])
    )

    conversation_history.extend([item.to_input_item() for item in branch_finder_result_temp.new_items])

    branch_finder_result = {
      "output_text": branch_finder_result_temp.final_output_as(str)
    }
    return branch_finder_result
