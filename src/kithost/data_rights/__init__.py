"""Retention (threads kept N days, old sessions purged) and a user's data exported or erased.

Uses core/ and store/; api/ and the CLI call it (docs/operations.md).
"""
