"""Ids of the built-in workflows, importable without loading the workflows themselves."""

DEMO_WORKFLOW_ID = "wf_kithost_demo"
ECHO_WORKFLOW_ID = "wf_kithost_echo"
