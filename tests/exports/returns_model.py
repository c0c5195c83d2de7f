from agents import Agent, ModelSettings, TResponseInputItem, Runner, RunConfig, trace
from pydantic import BaseModel


class RecipeSchema(BaseModel):
  dish: str
  minutes: int


recipe_picker = Agent(
  name="Recipe picker",
  instructions="""Pick one dish the customer could bake from what they describe, and how long it takes in minutes.""",
  model="gpt-4.1-mini",
  output_type=RecipeSchema,
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
  with trace("Recipe picker"):
    workflow = workflow_input.model_dump()
    recipe_picker_result_temp = await Runner.run(
      recipe_picker,
      input=workflow["input_as_text"],
      run_config=RunConfig(trace_metadata={
        "__trace_source__": "agent-builder",
        "workflow_id": "wf_0d722d3a4d4be37b8d7aeb9f0363fdf0ea7b0f13fd16b861"
      })
    )
    return recipe_picker_result_temp.final_output
