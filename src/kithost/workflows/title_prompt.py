"""What kithost asks a workflow's model for a thread title (imported by the fake model too,
which recognises title requests by it)."""

TITLE_INSTRUCTIONS = (
    "Write a title of at most six words for a conversation that starts with the user's "
    "message below. Answer with the title only: no quotes, no final period."
)
