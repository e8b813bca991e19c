"""Keeping API keys out of everything the tool writes or prints.

Keys are registered when a provider is built; `redact` replaces each registered
key (and anything shaped like a bearer token) before text reaches a log line,
an error message, a manifest or the cache.
"""

from __future__ import annotations

import re

_KEYS: set[str] = set()
_TOKEN_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_-]{8,}|Bearer\s+[A-Za-z0-9._~+/=-]{8,})")


def register_secret(value: str | None) -> None:
    """Redact `value` from now on (also without surrounding whitespace, as it is sent)."""
    for form in (value, value.strip() if value else None):
        if form and len(form) >= 4:
            _KEYS.add(form)


def redact(text: str) -> str:
    for key in sorted(_KEYS, key=len, reverse=True):
        text = text.replace(key, "[REDACTED]")
    return _TOKEN_SHAPES.sub("[REDACTED]", text)
