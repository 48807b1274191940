"""No import cycle in `bot/` or `webhooks/`, counting imports inside functions.

The graph is built from the source with `ast`, so an import hidden in a function body counts as much
as one at the top of the module: both tie the two modules together. Imports under `if TYPE_CHECKING:`
do not count: they never run (annotations only).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "webhooks")

# Cycles that still exist. A cycle is written as the sorted tuple of its modules (the members of one
# strongly connected component). There are none left; keep it that way.
ALLOWED_CYCLES: set[tuple[str, ...]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _resolve(base: str, level: int, current: str, is_package: bool) -> str:
    """The absolute module name of a (possibly relative) `from` import."""
    if level == 0:
        return base
    parts = current.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([base] if base else []))


def _is_type_checking(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk_body(node: ast.If) -> list[ast.AST]:
    return [n for statement in node.body for n in ast.walk(statement)]


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports anywhere in its source (top level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    skipped = {id(n) for block in ast.walk(tree) if _is_type_checking(block) for n in _walk_body(block)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module or "", node.level, name, is_package)
            targets.add(base)
            for alias in node.names:
                # `from bot import jobs` imports the submodule bot.conversation.jobs, not only the package.
                targets.add(f"{base}.{alias.name}")
    edges = set()
    for target in targets:
        # The nearest known module: `bot.models.Conversation` -> `bot.models`.
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            edges.add(target)
    return edges


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    modules = _modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_cycle_finder_reports_a_function_level_import_cycle():
    graph = {"bot.a": {"bot.b"}, "bot.b": {"bot.c"}, "bot.c": {"bot.a"}, "bot.d": {"bot.a"}}
    assert cycles(graph) == [("bot.a", "bot.b", "bot.c")]


def test_an_import_inside_a_function_and_a_from_import_of_a_submodule_both_count(tmp_path):
    source = "def f():\n    from bot import jobs\n    from .models import Debtor\n"
    path = tmp_path / "dialogue.py"
    path.write_text(source, encoding="utf-8")
    known = {"bot", "bot.jobs", "bot.models", "bot.dialogue"}
    assert imports_of("bot.dialogue", path, known) == {"bot", "bot.jobs", "bot.models"}


def test_an_import_only_for_type_checking_does_not_count(tmp_path):
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.models.invoices import Invoice\n"
    )
    path = tmp_path / "parties.py"
    path.write_text(source, encoding="utf-8")
    assert imports_of("bot.models.parties", path, {"bot.models.invoices", "bot.models.parties"}) == set()


def test_no_import_cycle_exists_in_bot_or_webhooks_beyond_the_commented_allow_list():
    found = set(cycles(import_graph()))
    new = sorted(found - ALLOWED_CYCLES)
    gone = sorted(ALLOWED_CYCLES - found)
    assert not new, "import cycles:\n" + "\n".join(" <-> ".join(cycle) for cycle in new)
    assert not gone, "allowed cycles that no longer exist (remove them):\n" + "\n".join(map(str, gone))
