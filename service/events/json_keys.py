"""JSON text whose objects repeat a key: found without slowing down the bodies that do not.

A parser keeps one of two values given for the same key (orjson the last), so a body with a
repeated key means what its sender may not have meant, and a signature over it may cover a
value we never read. Every key in JSON text is a string followed by a colon, so the text holds
at least as many `"` + `:` pairs as keys; the parsed objects hold as many keys as the text less
the repeats. When both counts agree, as for nearly every body (compact JSON whose strings hold
no `":`), nothing repeats; otherwise the text is parsed again, slowly, to find the repeats.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

_KEY_END = b'":'
_SPACED_KEY_END = re.compile(rb'"[ \t\n\r]+:')


class DuplicateKeys(ValueError):  # noqa: N818 - what the text holds, as the detail says
    """The JSON text repeats a key in an object: (JSON Pointer, detail) of each repeat."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{pointer}: {detail}" for pointer, detail in problems))
        self.problems = problems


class _Repeating(dict[str, Any]):
    """An object of the slow parse in which some keys were given more than once."""

    repeated: list[str]


def _key_ends(text: bytes) -> int:
    """An upper bound of the number of keys in the text (exact for most JSON)."""
    count = text.count(_KEY_END)
    if _SPACED_KEY_END.search(text):  # `"key" : value`: rare, so counted only when present
        count += len(_SPACED_KEY_END.findall(text))
    return count


def _parsed_keys(value: Any) -> int:
    """Keys in every object of a parsed document (iterative: documents may nest deeply)."""
    if type(value) is not dict and type(value) is not list:
        return 0
    count, pending = 0, [value]
    pop, push = pending.pop, pending.append
    while pending:
        item = pop()
        if type(item) is dict:
            count += len(item)
        children: Iterable[Any] = item.values() if type(item) is dict else item
        for child in children:  # plain loops: a generator per container costs twice as much
            if type(child) is dict or type(child) is list:
                push(child)
    return count


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    repeating = _Repeating(result)
    repeating.repeated, seen = [], set()
    for key, _ in pairs:
        if key in seen:
            repeating.repeated.append(key)
        seen.add(key)
    return repeating


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _repeats(document: Any) -> list[tuple[str, str]]:
    """(JSON Pointer, detail) of each repeated key of a slowly parsed document, in order."""
    found: list[tuple[str, str]] = []
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, _Repeating):
            found.extend(
                (f"{path}/{_escape(key)}", f"the key {key!r} is given more than once")
                for key in item.repeated
            )
        if isinstance(item, dict):
            children = [(f"{path}/{_escape(key)}", value) for key, value in item.items()]
        elif isinstance(item, list):
            children = [(f"{path}/{index}", value) for index, value in enumerate(item)]
        else:
            continue
        pending.extend(reversed(children))
    return found


def check_unique_keys(text: bytes, parsed: Any) -> None:
    """Raise `DuplicateKeys` if `text`, already parsed as `parsed`, repeats a key in an object.

    A document nested too deeply to be parsed again is refused too: no event is nested more
    than a few levels.
    """
    if _key_ends(text) == _parsed_keys(parsed):
        return
    try:
        document = json.loads(text, object_pairs_hook=_object)
    except RecursionError:
        raise DuplicateKeys([("", "the JSON text is nested too deeply to be checked")]) from None
    if problems := _repeats(document):
        raise DuplicateKeys(problems)
