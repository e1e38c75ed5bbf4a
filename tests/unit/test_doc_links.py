"""Every link in the README and docs/ resolves inside the repository.

A reader who clones the repository must find what the documents point to: a relative link (or
a path written as code, such as `docs/ordering.md`) names a file of the repository, and its
`#anchor` a heading of that file (GitHub's slug rule). Links with a scheme (`https:`) are left
alone; they are not fetched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([*ROOT.glob("*.md"), *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_INLINE_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PATH_IN_CODE = re.compile(r"^[\w./-]+\.md(#[\w-]+)?$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def links(text: str) -> Iterator[tuple[int, str]]:
    """(line, target) of every inline or reference link, and of every path to a Markdown
    file written as code, outside code blocks."""
    for number, line in _prose_lines(text):
        found = [
            (span.start(), span.group(2).strip())
            for span in _CODE_SPAN.finditer(line)
            if _PATH_IN_CODE.match(span.group(2).strip())
        ]
        # Code spans blanked to spaces: no link inside one, and the columns stay as written.
        prose = _CODE_SPAN.sub(lambda span: " " * len(span.group(0)), line)
        found += [(match.start(), match.group(1)) for match in _INLINE_LINK.finditer(prose)]
        reference = _REFERENCE.match(prose)
        if reference:
            found.append((reference.start(1), reference.group(1)))
        for _column, target in sorted(found):
            yield number, target


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces
    to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[`*~]|<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """The anchors of a Markdown file's headings (a repeated heading gets `-1`, `-2`, ...)."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _number, line in _prose_lines(path.read_text(encoding="utf-8")):
        heading = _HEADING.match(line)
        if not heading:
            continue
        base = slug(heading.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def _inside(path: Path) -> bool:
    return path == ROOT or ROOT in path.parents


def broken(document: Path, target: str) -> str | None:
    """Why `target`, written in `document`, does not resolve inside the repository; None if
    it does."""
    if _SCHEME.match(target) or target.startswith("//"):
        return None  # another site: not fetched
    path_part, _, anchor = target.partition("#")
    if not path_part:
        path = document
    else:
        # A path written as code is often given from the repository's root.
        candidates = [(document.parent / path_part).resolve(), (ROOT / path_part).resolve()]
        inside = [candidate for candidate in candidates if _inside(candidate)]
        if not inside:
            return "leaves the repository"
        existing = [candidate for candidate in inside if candidate.exists()]
        if not existing:
            return "names no file of the repository"
        path = existing[0]
    if anchor and path.suffix == ".md" and anchor not in anchors(path):
        return f"names no heading of {path.relative_to(ROOT)}"
    return None


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(document: Path) -> None:
    failures = [
        f"{document.relative_to(ROOT)}:{line}: {target} {reason}"
        for line, target in links(document.read_text(encoding="utf-8"))
        if (reason := broken(document, target)) is not None
    ]
    assert not failures, "\n".join(failures)


def test_the_documents_are_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in DOCUMENTS}
    assert {"README.md", "docs/contract.md", "docs/semantics.md"} <= names


def test_links_are_found_where_they_are_written() -> None:
    text = (
        "See [the contract](docs/contract.md#5-the-five-numbers) and `docs/ordering.md`.\n"
        "```sh\n[not a link](nowhere.md)\n```\n"
        "Inline `[code](nowhere.md)` is not a link; [site](https://example.com) is one.\n"
        "[ref]: ../outside.md\n"
    )
    assert list(links(text)) == [
        (1, "docs/contract.md#5-the-five-numbers"),
        (1, "docs/ordering.md"),
        (5, "https://example.com"),
        (6, "../outside.md"),
    ]


def test_a_link_that_leaves_the_repository_or_names_nothing_is_broken() -> None:
    readme = ROOT / "README.md"
    assert broken(readme, "../shared/CONTRACT.md") == "leaves the repository"
    assert broken(readme, "docs/no-such-page.md") == "names no file of the repository"
    assert broken(readme, "docs/contract.md#no-such-heading") is not None
    assert broken(readme, "docs/contract.md#5-the-five-numbers") is None
    assert broken(readme, "https://example.com/x.md") is None


def test_slugs_follow_githubs_rule() -> None:
    assert slug("5. The five numbers") == "5-the-five-numbers"
    assert slug("Reads: `as_of` and `known_at`") == "reads-as_of-and-known_at"
    assert slug("Vendors' webhooks (HubSpot, Aircall)") == "vendors-webhooks-hubspot-aircall"
