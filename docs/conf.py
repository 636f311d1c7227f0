"""Sphinx configuration of the skeeg2bold documentation.

The build needs no network: intersphinx is opt-in (``SKEEG2BOLD_INTERSPHINX=1``)
and the gallery runs on the embedded simulator. What would otherwise drift
from the code and the README is generated at build time into ``generated/``:

* ``api_sections.inc`` — one autosummary table per public module, listing
  exactly the names in its ``__all__``, and one page per name;
* ``readme_commands.inc`` and ``readme_quickstart.inc`` — the README's set-up
  commands and quick start, verbatim.

The examples run in quick mode (``SKEEG2BOLD_QUICK=1``, small data, few epochs)
unless the environment sets ``SKEEG2BOLD_QUICK=0``.
"""

import importlib
import inspect
import os
import pkgutil
import re
import reprlib
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GENERATED = HERE / "generated"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))  # _gallery_order

# Read by every example, and inherited by the processes sphinx-gallery runs them in.
os.environ.setdefault("SKEEG2BOLD_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "agg")

import skeeg2bold  # noqa: E402

project = "skeeg2bold"
author = "the skeeg2bold developers"
copyright = f"{date.today().year}, {author}"
release = skeeg2bold.__version__
version = re.sub(r"(\.dev\d*|rc\d*)$", "", release)

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
if os.environ.get("SKEEG2BOLD_INTERSPHINX") == "1":
    # Off by default: fetching inventories needs the network.
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "sklearn": ("https://scikit-learn.org/stable/", None),
        "mne": ("https://mne.tools/stable/", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable/", None),
        "nilearn": ("https://nilearn.github.io/stable/", None),
    }

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
default_role = "py:obj"

# The per-name pages are written below from ``__all__``; autosummary only
# draws the tables.
autosummary_generate = False
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"
# numpydoc writes the member tables; autosummary's own would duplicate them.
numpydoc_show_class_members = False
numpydoc_attributes_as_param_list = False
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = f"skeeg2bold {release}"
html_static_path = ["_static"] if (HERE / "_static").is_dir() else []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
}
html_sidebars = {"getting_started": [], "api": []}

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": os.environ.get("SKEEG2BOLD_PLOT_GALLERY", "True"),
    "within_subsection_order": "_gallery_order.GalleryOrder",
    "remove_config_comments": True,
    "reset_modules": ("matplotlib", "seaborn"),
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "download_all_examples": False,
    "show_memory": False,
    # "Examples using X" mini-galleries on the API pages.
    "doc_module": ("skeeg2bold",),
    "backreferences_dir": "generated",
    # A failing example is a failed build, not a silent hole in the gallery.
    "only_warn_on_example_error": False,
}


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn generates ``set_*_request`` methods per estimator; their
    # docstrings point into scikit-learn's own docs and say nothing package-specific.
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)


# -- generated files ---------------------------------------------------------

_PAGE = {
    "class": ".. autoclass:: {name}\n   :members:\n   :show-inheritance:\n",
    "function": ".. autofunction:: {name}\n",
}


def _public_modules():
    """``skeeg2bold`` and every public subpackage or module that has ``__all__``."""
    modules = [skeeg2bold]
    for info in sorted(pkgutil.iter_modules(skeeg2bold.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"skeeg2bold.{info.name}")
        if getattr(module, "__all__", None):
            modules.append(module)
    return modules


def _kind(obj):
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def _constant_doc(module, name):
    """The ``#:`` comment above a constant where it is defined, else ``""``.

    A re-exported tuple or dict has no docstring of its own (autodoc would show
    the builtin type's), so the comment is looked up in the private modules.
    """
    from sphinx.pycode import ModuleAnalyzer

    value = getattr(module, name)
    prefix = module.__name__ + "."
    for modname, mod in sorted(sys.modules.items()):
        if mod is None or not (modname == module.__name__ or modname.startswith(prefix)):
            continue
        if getattr(mod, name, None) is not value:
            continue
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except Exception:  # no source (compiled or generated module)
            continue
        if ("", name) in docs:
            return " ".join(line.strip() for line in docs["", name]).strip()
    return ""


def _api_page(module, name, kind, aliases):
    full = f"{module.__name__}.{name}"
    lines = [full, "=" * len(full), "", f".. currentmodule:: {module.__name__}", ""]
    if kind == "data":
        value = reprlib.Repr()  # keyword arguments need Python 3.12
        value.maxstring = value.maxother = 80
        value.maxtuple = value.maxlist = 30
        lines += [
            f".. py:data:: {name}",
            f"   :value: {value.repr(getattr(module, name))}",
            "",
            f"   {_constant_doc(module, name)}",
            "",
        ]
    else:
        # The gallery records an object under the name an example imports it
        # by, or a shorter one that also works: list every public alias.
        lines += [
            _PAGE[kind].format(name=name),
            f".. minigallery:: {' '.join(aliases)}",
            f"   :add-heading: Examples using ``{name}``",
            "",
        ]
    return "\n".join(lines) + "\n"


def _api_reference():
    """reST tables (one per public module, from ``__all__``) and one page per name.

    An object exported by several modules (a subpackage's name re-exported at
    the top level, or by another subpackage) is documented once, under the
    first subpackage in alphabetical order, and the others point to it.
    """
    modules = _public_modules()
    owner, aliases = {}, {}
    for module in modules[1:] + modules[:1]:
        for name in module.__all__:
            key = id(getattr(module, name))
            owner.setdefault(key, f"{module.__name__}.{name}")
            aliases.setdefault(key, []).append(f"{module.__name__}.{name}")
    lines, pages = [], {}
    for module in modules:
        names, also = [], []
        for name in module.__all__:
            full = owner[id(getattr(module, name))]
            (names if full == f"{module.__name__}.{name}" else also).append(name)
        title = f"``{module.__name__}``"
        summary = (inspect.getdoc(module) or "").strip().splitlines()
        lines += [title, "-" * len(title), "", f".. module:: {module.__name__}", ""]
        if summary:
            lines += [summary[0], ""]
        if also:
            shortcuts = ", ".join(f":obj:`{n} <{owner[id(getattr(module, n))]}>`" for n in also)
            lines += [f"Also importable from ``{module.__name__}``: {shortcuts}.", ""]
        by_kind = {}
        for name in names:
            kind = _kind(getattr(module, name))
            by_kind.setdefault(kind, []).append(name)
            pages[f"{module.__name__}.{name}.rst"] = _api_page(
                module, name, kind, aliases[id(getattr(module, name))]
            )
        for kind, heading in (("class", "Classes"), ("function", "Functions")):
            if kind not in by_kind:
                continue
            lines += [
                f".. rubric:: {heading}",
                "",
                ".. autosummary::",
                "   :toctree: generated/",
                "   :nosignatures:",
                "",
            ]
            lines += [f"   {name}" for name in sorted(by_kind[kind], key=str.lower)]
            lines.append("")
        if "data" in by_kind:
            # autosummary would show the builtin type's docstring for a tuple
            # or dict: a hand-made table with the constants' own comments.
            constants = sorted(by_kind["data"], key=str.lower)
            lines += [".. rubric:: Constants", "", ".. list-table::", "   :widths: 35 65", ""]
            for name in constants:
                summary = _constant_doc(module, name).split(". ")[0].rstrip(".")
                lines += [f"   * - :data:`{name} <{module.__name__}.{name}>`", f"     - {summary}"]
            lines += ["", ".. toctree::", "   :hidden:", ""]
            lines += [f"   generated/{module.__name__}.{name}" for name in constants]
            lines.append("")
    return "\n".join(lines) + "\n", pages


def _readme_blocks(language):
    """The README's fenced ``language`` blocks as reST code blocks, in README order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(rf"```{language}\n(.*?)```", readme, flags=re.S)
    if not blocks:
        raise RuntimeError(
            f"README.md has no ```{language} block; getting_started.rst includes them."
        )
    out = []
    for block in blocks:
        out += [f".. code-block:: {language}", ""]
        out += [f"   {line}" if line else "" for line in block.rstrip("\n").splitlines()]
        out.append("")
    return "\n".join(out) + "\n"


def _write_if_changed(path, text):
    # Rewriting an unchanged file would make Sphinx re-read every page.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _write_generated():
    GENERATED.mkdir(exist_ok=True)
    tables, pages = _api_reference()
    # A page left over from a name that is no longer public would be an orphan.
    for stale in GENERATED.glob("skeeg2bold.*.rst"):
        if stale.name not in pages:
            stale.unlink()
    for filename, text in pages.items():
        _write_if_changed(GENERATED / filename, text)
    _write_if_changed(GENERATED / "api_sections.inc", tables)
    _write_if_changed(GENERATED / "readme_commands.inc", _readme_blocks("bash"))
    _write_if_changed(GENERATED / "readme_quickstart.inc", _readme_blocks("python"))


_write_generated()
