"""kithost: a self-hostable, wire-compatible implementation of OpenAI's hosted ChatKit API."""

__version__ = "0.1.0"
