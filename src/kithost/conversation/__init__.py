"""The conversation plane: ChatKit's protocol on kithost's sessions, storage and workflows."""
