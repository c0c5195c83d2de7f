"""Runs: a streamed turn's life apart from the connection that started it (DESIGN.md, *Runs*)."""
