"""The shape of the code: imports only go down the floors and never in a circle, the
library never imports the command, the run is a short recipe, no function of the package
grows past 45 lines and no module to 400."""

import ast
import inspect
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from framework.command import recipe

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ("core", "training", "data", "plugins", "tracking", "builtin")
#: The longest function: in the package, and in the tests and benchmarks (tables of cases).
MAX_LINES, MAX_LINES_OUTSIDE = 45, 60
#: The longest module of the package.
MAX_MODULE_LINES = 400

#: The floors, top to bottom, and the modules on each (a package stands for every module
#: in it). A module imports from its own floor and the floors below, never from above.
FLOORS = (
    # The conformance kit runs a plugin's config files through the command (check_config_files);
    # framework.testing is its public face.
    ("kit", ("framework.testing", "framework.conformance")),
    # Programs (``python -m ...``) are commands, whatever package they sit in.
    ("command", ("framework.train", "framework.command", "framework.tracking.__main__", "framework.plugins.__main__")),
    # The framework's own plugins; one of them registers the MLflow logger.
    ("builtin", ("framework.builtin",)),
    ("tracking", ("framework.tracking",)),
    ("tuning", ("framework.tuning",)),
    ("plugins", ("framework.plugins",)),
    # The package root re-exports the core and the trainer (and framework.hookspecs,
    # framework.hookimpl from framework.training.hookspecs) for notebooks and plugin authors.
    ("training", ("framework.training", "framework")),
    ("data", ("framework.data",)),
    ("core", ("framework.core", "framework.console")),
)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted((ROOT / "framework").rglob("*.py"))}


def _floor(module: str) -> int:
    """The floor's position in ``FLOORS`` (0 is the top); the most specific entry decides."""
    matches = [
        (len(entry), position)
        for position, (_, entries) in enumerate(FLOORS)
        for entry in entries
        if module == entry or (entry != "framework" and module.startswith(entry + "."))
    ]
    if not matches:
        raise AssertionError(f"{module} is on no floor: add it to FLOORS in {Path(__file__).name}")
    return max(matches)[1]


def _imported_module(name: str) -> str:
    """The framework module an imported name lives in (``framework.training.hooks.check_callback_hooks``
    -> ``framework.training.hooks``)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _framework_imports(module: str, *, module_level_only: bool) -> set[str]:
    """The framework modules ``module`` imports: at module level, or anywhere (inside functions too)."""
    tree = ast.parse(MODULES[module].read_text())
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    nodes = tree.body if module_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {_imported_module(name) for name in names if name.split(".")[0] == "framework"} - {module}


def test_imports_only_go_down_the_floors():
    upward = set()
    for module in MODULES:
        for imported in _framework_imports(module, module_level_only=False):
            if _floor(imported) < _floor(module):
                upward.add(f"{module} -> {imported}")
    floors = " > ".join(name for name, _ in FLOORS)
    assert not upward, f"imports that go up the floors ({floors}): {sorted(upward)}"


def test_no_import_cycles():
    graph = {module: _framework_imports(module, module_level_only=True) for module in MODULES}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise AssertionError(f"modules that import each other (in a circle): {' -> '.join(error.args[1])}") from None


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


def test_no_function_is_longer_than_forty_five_lines_in_the_package_or_sixty_elsewhere():
    long = []
    for path in sorted([*ROOT.glob("framework/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/*.py")]):
        limit = MAX_LINES if path.is_relative_to(ROOT / "framework") else MAX_LINES_OUTSIDE
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert not long


def test_no_module_of_the_package_reaches_four_hundred_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in MODULES.values()
        if (n := len(path.read_text().splitlines())) >= MAX_MODULE_LINES
    }
    assert not long, long
