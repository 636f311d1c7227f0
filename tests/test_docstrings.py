"""Docstrings state behaviour and references; measured numbers live in benchmarks/RESULTS.md."""

import ast
import re
from pathlib import Path

import skeeg2bold

PACKAGE = Path(skeeg2bold.__file__).parent
# A score ("mean r ... 0.291"), a speed-up ("6x faster") or a timing ("24 ms").
MEASURED = re.compile(
    r"(mean r\b|scored|\br =|\br=)[\s\S]{0,120}?\b0\.\d{2,3}\b"
    r"|\b\d+(\.\d+)?\s*(x|×|times) faster"
    r"|\b\d+(\.\d+)?\s*ms\b"
)


def _public_docstrings(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Module) or (
            isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and not node.name.startswith("_")
        ):
            doc = ast.get_docstring(node)
            if doc:
                yield getattr(node, "name", "<module>"), doc


def test_public_docstrings_carry_no_benchmark_numbers():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for name, doc in _public_docstrings(path):
            found += [f"{rel}:{name}: {m.group(0)!r}" for m in MEASURED.finditer(doc)]
    assert not found, "\n".join(found)
