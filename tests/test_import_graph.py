"""The package's modules import each other without a cycle, lazy imports included."""

import ast
import subprocess
import sys
from pathlib import Path

import skeeg2bold

PACKAGE = Path(skeeg2bold.__file__).parent


def _modules():
    """Dotted module name -> (file, is a package ``__init__``)."""
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return mods


def import_graph():
    """Module -> the package's modules it imports anywhere in its source (in
    functions too): ``from .x import name`` is an edge to ``x.name`` if that is
    a module, else to ``x`` (its ``__init__`` when a package)."""
    mods = _modules()
    graph = {}
    for name, (path, is_package) in mods.items():
        base = name.split(".") if is_package else name.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parent = base[: len(base) - node.level + 1]
                    module = ".".join(parent + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    targets.add(sub if sub in mods else module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = sorted(t for t in targets if t in mods and t != name)
    return graph


def find_cycle(graph):
    """One cycle of ``graph`` as a list of nodes, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in graph:
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None


def test_graph_sees_lazy_imports_of_the_cli():
    graph = import_graph()
    assert "skeeg2bold._cli_deploy" in graph["skeeg2bold.cli"]  # imported in a function
    assert "skeeg2bold._cli_common" in graph["skeeg2bold._cli_deploy"]


def test_package_has_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_deploy_commands_import_before_the_cli():
    code = (
        "import sys, skeeg2bold._cli_deploy as d\n"
        "assert 'skeeg2bold.cli' not in sys.modules\n"
        "import skeeg2bold.cli\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
