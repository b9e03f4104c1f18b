"""The shape of the code: the library never imports the command, the run is a short
recipe, and no function grows past about sixty lines."""

import ast
import inspect
from pathlib import Path

from framework.command import recipe

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ("core", "training", "data", "plugins", "tracking", "builtin")
MAX_LINES = 60


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_library_never_imports_the_command_or_hydra():
    offenders = []
    for package in LIBRARY:
        for path in sorted((ROOT / "framework" / package).rglob("*.py")):
            if path.name == "__main__.py":  # a program (``python -m framework.tracking``), never imported
                continue
            for name in _imports(path):
                if name == "framework.train" or name.startswith(("framework.command", "hydra")):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders


def test_train_reads_as_a_recipe_of_about_fifty_lines():
    lines = inspect.getsource(recipe.train).splitlines()
    body = [line for line in lines if line.strip() and not line.strip().startswith(("#", '"""'))]
    assert len(body) <= 55, len(body)


def test_no_function_is_longer_than_about_sixty_lines():
    long = []
    for path in sorted([*ROOT.glob("framework/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert not long
