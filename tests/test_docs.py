"""The documentation builds, its gallery runs, and its code samples are right.

The build runs ``sphinx-build`` on a copy of ``docs/``, ``examples/`` and the
README (so the working tree stays clean) with the gallery executed in quick
mode, warnings treated as errors, and checks that every page, every gallery
figure and one API page per public name came out. It takes minutes, so it is
marked ``docs`` and left out of the default run; ``.ci/run`` runs it as its
own step (``python -m pytest -m docs``).
"""

import doctest
import importlib
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import skeeg2bold

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
GUIDE = sorted((DOCS / "user_guide").glob("*.rst"))

# The build's own outputs, never copied from a local build.
_BUILD_OUTPUTS = ("_build", "auto_examples", "generated", "sg_execution_times.rst")


def _public_names():
    """``module.name`` for every name in the ``__all__`` of the package's public modules.

    An object that a subpackage exports and the top level re-exports is
    documented once, under the first such subpackage in alphabetical order.
    """
    subpackages = [
        importlib.import_module(f"skeeg2bold.{info.name}")
        for info in sorted(pkgutil.iter_modules(skeeg2bold.__path__), key=lambda m: m.name)
        if not info.name.startswith("_")
    ]
    names = {}
    for module in subpackages + [skeeg2bold]:
        for name in getattr(module, "__all__", ()):
            names.setdefault(id(getattr(module, name)), f"{module.__name__}.{name}")
    return list(names.values())


@pytest.mark.docs
def test_docs_build_with_gallery(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(DOCS, src / "docs", ignore=shutil.ignore_patterns(*_BUILD_OUTPUTS))
    shutil.copytree(ROOT / "examples", src / "examples")
    shutil.copy(ROOT / "README.md", src / "README.md")
    out, warnings_file = tmp_path / "html", tmp_path / "warnings.txt"
    env = dict(
        os.environ,
        SKEEG2BOLD_QUICK="1",
        SKEEG2BOLD_PLOT_GALLERY="True",
        MPLBACKEND="agg",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    env.pop("SKEEG2BOLD_INTERSPHINX", None)  # offline
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-W",
            "--keep-going",
            "-q",
            "-w",
            str(warnings_file),
            "-d",
            str(tmp_path / "doctrees"),
            str(src / "docs"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    log = warnings_file.read_text() if warnings_file.exists() else ""
    assert proc.returncode == 0, (
        f"sphinx-build failed ({proc.returncode}); warnings are errors here.\n"
        + (f"Warnings:\n{log}" if log.strip() else f"stderr (tail):\n{proc.stderr[-5000:]}")
    )

    pages = ["index", "getting_started", "api", "simulator", "real_data", "auto_examples/index"] + [
        f"user_guide/{p.stem}" for p in GUIDE
    ]
    for page in pages:
        assert (out / f"{page}.html").is_file(), f"{page}.html was not built"
    for example in EXAMPLES:
        assert (out / "auto_examples" / f"{example.stem}.html").is_file()
        images = list((out / "_images").glob(f"sphx_glr_{example.stem}_*.png"))
        assert images, f"{example.name} produced no figure"
        assert all(img.stat().st_size > 5000 for img in images), f"empty figure in {example.name}"

    api = (out / "api.html").read_text(encoding="utf-8")
    for full in _public_names():
        assert (out / "generated" / f"{full}.html").is_file(), f"no API page for {full}"
        assert full.rsplit(".", 1)[1] in api
    # Every example cuts windows, so this page links to the gallery.
    assert "Examples using" in (out / "generated" / "skeeg2bold.make_windows.html").read_text()

    # The README's commands are included verbatim, so the two cannot drift apart.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    started = (out / "getting_started.html").read_text(encoding="utf-8")
    started_text = re.sub(r"<[^>]+>", "", started).replace("&amp;", "&").replace("&quot;", '"')
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S):
        assert block.strip() in started_text


def test_user_guide_examples_run():
    """The ``>>>`` samples of the user guide print what the pages say they print."""
    for page in GUIDE:
        result = doctest.testfile(
            str(page),
            module_relative=False,
            verbose=False,
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        )
        assert result.failed == 0, f"{result.failed} doctest failure(s) in {page.name}"
