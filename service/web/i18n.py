"""The dashboard's message catalogs (`messages/*.json`: English, Traditional Chinese)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Final

LANGUAGES: Final = ("en", "zh-TW")
DEFAULT: Final = "en"
COOKIE: Final = "fl_lang"


@cache
def translator(language: str) -> dict[str, str]:
    """The messages of `language` (English for an unknown one)."""
    name = language if language in LANGUAGES else DEFAULT
    text = resources.files("service.web").joinpath(f"messages/{name}.json").read_text("utf-8")
    messages: dict[str, str] = json.loads(text)
    return messages


def choose(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page's language: the `lang` parameter, else the cookie, else the browser's wish."""
    for wish in (query, cookie):
        if wish in LANGUAGES:
            return wish
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-TW"
        if tag.startswith("en"):
            return "en"
    return DEFAULT
