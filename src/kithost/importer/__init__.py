"""``kithost import``: bring threads and items across from OpenAI's hosted ChatKit.

One module per job:

- ``options``  what the operator asked for (filters, source, dry run), and ``--since`` parsing;
- ``source``   the source's threads API through the official ``openai`` SDK, with clear errors;
- ``mapping``  a REST thread or item back into the ChatKit protocol form kithost stores;
- ``fidelity`` the check that kithost will render an imported item as the source did;
- ``previews`` attachment previews copied into kithost's file storage;
- ``target``   kithost's database through its repositories (read-only for ``--dry-run``);
- ``report``   the counts and reasons of a run, as text or JSON;
- ``progress`` the live display on stderr;
- ``run``      the import itself: list, plan, copy, resume;
- ``command``  the Typer command.
"""
