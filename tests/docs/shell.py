"""The shell lines of README.md and docs/, as a reader would type them: every line of a
``bash`` block (continuation lines joined, ``# comments`` dropped), and every ``$ command``
of an untagged block with the output shown under it."""

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = (
    "README.md",
    "docs/architecture.md",
    "docs/plugins.md",
    "docs/reliability.md",
    "docs/scale-out.md",
    "docs/tracking.md",
)
BLOCK = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.S | re.M)


@dataclass(frozen=True)
class Example:
    """A ``$ command`` shown with what it prints."""

    document: str
    command: str
    output: str


def _without_comment(line: str) -> str:
    quoted = None
    for index, char in enumerate(line):
        if char in "'\"" and quoted in (None, char):
            quoted = None if quoted else char
        elif char == "#" and quoted is None and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def _joined(body: str) -> list[str]:
    lines, pending = [], ""
    for raw in body.splitlines():
        line = _without_comment(raw)
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = (pending + line.strip()).strip()
        pending = ""
        if line:
            lines.append(line)
    return lines


def blocks(document: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced block of ``document``."""
    return [(language, body) for _, language, body in BLOCK.findall((REPO / document).read_text())]


def shell_lines(document: str) -> list[str]:
    """Every command line of the ``bash`` blocks of ``document``, in order."""
    return [line for language, body in blocks(document) if language == "bash" for line in _joined(body)]


def examples(document: str) -> list[Example]:
    """The untagged blocks that start with ``$ command``: the command and the lines after it."""
    found = []
    for language, body in blocks(document):
        first, _, rest = body.partition("\n")
        if language == "" and first.startswith("$ "):
            found.append(Example(document, first[2:], rest.rstrip("\n")))
    return found


def all_shell_lines() -> dict[str, list[str]]:
    """Each command line of every document, with the documents it appears in."""
    found: dict[str, list[str]] = {}
    for document in DOCUMENTS:
        for line in [*shell_lines(document), *(example.command for example in examples(document))]:
            found.setdefault(line, []).append(document)
    return found
