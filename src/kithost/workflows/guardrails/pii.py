"""The Contains PII guardrail's one requirement: the spaCy model Presidio analyses text with.

openai-guardrails 0.3.6 loads ``en_core_web_sm``, installed as a package or as a folder of
that name in the working directory (its own test, mirrored here). The model is not on PyPI,
so kithost cannot install it with its dependencies: ``workflows check`` names it instead.
"""

from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path

log = logging.getLogger("kithost.workflows")

SPACY_MODEL = "en_core_web_sm"
INSTALL = f"python -m spacy download {SPACY_MODEL}"


def spacy_model_installed() -> bool:
    if Path(SPACY_MODEL).exists():
        return True
    # What spacy.util.is_package checks, without importing spaCy for every export.
    try:
        importlib.metadata.distribution(SPACY_MODEL)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def missing_model_reason() -> str:
    return f"needs the spaCy model {SPACY_MODEL}: run `{INSTALL}` in kithost's environment"


def warm_up() -> None:
    """Load Presidio and the model now (at load, off any turn): the first check would
    otherwise block the event loop for as long as loading takes."""
    try:
        from guardrails.checks.text.pii import _get_analyzer_engine

        _get_analyzer_engine()
    except Exception as error:  # a broken model shows at the first check, with its reason
        log.warning("the Contains PII guardrail could not load its model: %s", error)
