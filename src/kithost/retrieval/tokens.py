"""Token counts without a tokenizer download.

tiktoken fetches its encodings from the internet at run time, and the package that bundles
them offline (bpe-openai) adds about 150 MB to the process once loaded. kithost instead counts
the pieces tiktoken's pre-tokenizer would make, capped in length the way BPE merges cap them:
up to 8 Latin letters, 2 letters of other scripts, 3 digits or 2 punctuation marks make one
token, and a paragraph break is one. Against o200k_base (measured when written): English prose,
Markdown, CSV and French within 4%, Python code 7% over, JSON 17% under, Japanese 19% under.
That is all chunk sizes need, and it runs in the regular-expression engine.
"""

from __future__ import annotations

import re

_LATIN = r"A-Za-z\u00c0-\u024f"
_TOKEN = re.compile(
    rf"[{_LATIN}]{{1,8}}|[^\W\d{_LATIN}_]{{1,2}}|\d{{1,3}}|[^\w\s]{{1,2}}|_+|\n\s*\n"
)


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))
