"""docs/plugins.md keeps up with framework/training/hookspecs.py: every hookspec has a section
whose heading holds its exact signature, quoting its docstring (the contract)."""

import inspect
import re
from pathlib import Path

import pytest

from framework import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
HOOKSPECS = [
    (name, function)
    for name, function in vars(hookspecs).items()
    if callable(function) and hasattr(function, "framework_spec")
]


def sections() -> dict[str, str]:
    """Heading line -> the text up to the next heading of the same or a higher level."""
    found, heading, body, in_code = {}, None, [], False
    for line in DOCS.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and re.match(r"#{1,3} ", line):
            if heading is not None:
                found[heading] = "\n".join(body)
            heading, body = line, []
        elif heading is not None:
            body.append(line)
    if heading is not None:
        found[heading] = "\n".join(body)
    return found


def section_of(name: str) -> tuple[str, str]:
    matches = [(heading, body) for heading, body in sections().items() if re.search(rf"\b{name}\(", heading)]
    assert len(matches) == 1, f"docs/plugins.md needs exactly one section heading for {name}, found {len(matches)}"
    return matches[0]


def normalized(text: str) -> str:
    return " ".join(text.split())


def test_hookspecs_found():
    assert len(HOOKSPECS) >= 10


@pytest.mark.parametrize(("name", "function"), HOOKSPECS, ids=[name for name, _ in HOOKSPECS])
def test_every_hookspec_has_a_section_with_its_exact_signature(name, function):
    signature = f"{name}{inspect.signature(function)}"
    heading, _ = section_of(name)
    assert signature in heading, f"docs/plugins.md: the heading {heading!r} must contain the signature {signature}"


@pytest.mark.parametrize(("name", "function"), HOOKSPECS, ids=[name for name, _ in HOOKSPECS])
def test_every_section_quotes_the_hookspec_docstring(name, function):
    _, body = section_of(name)
    quoted = "\n".join(line[1:] for line in body.splitlines() if line.startswith(">"))
    assert normalized(inspect.getdoc(function)) in normalized(quoted), (
        f"docs/plugins.md: the section of {name} must quote its docstring from framework/training/hookspecs.py "
        "(as a '> ' block), word for word"
    )


@pytest.mark.parametrize(("name", "function"), HOOKSPECS, ids=[name for name, _ in HOOKSPECS])
def test_every_section_states_the_call_rule_and_has_an_example(name, function):
    _, body = section_of(name)
    assert "Call rule:" in body
    assert "```python" in body


def test_no_section_for_a_hook_that_does_not_exist():
    names = {name for name, _ in HOOKSPECS}
    for heading in sections():
        for documented in re.findall(r"\b(framework_\w+)\(", heading):
            assert documented in names, f"docs/plugins.md documents {documented}, which is not a hookspec"
