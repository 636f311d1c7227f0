"""Parameter docs shared across the package: one wording, filled in with ``%(name)s``.

As MNE-Python and nilearn do (``mne.utils.docs``, ``nilearn._utils.docs``):
a docstring writes ``%(groups)s`` on a line of its own where the parameter's
entry belongs, and :func:`fill_doc` replaces it with :data:`docdict`'s text,
indented as that line is.
"""

import textwrap

__all__ = ["docdict", "fill_doc"]

#: Parameter entries by name, numpydoc-formatted, without indentation.
docdict = {}

docdict["X_windows"] = """\
X : EEGWindows or array-like of shape (n_windows, n_channels, n_times)
    EEG windows (:func:`~skeeg2bold.make_windows`); an
    :class:`~skeeg2bold.EEGWindows` brings its subjects, rate and channel
    names."""

docdict["X_members"] = """\
X : EEGWindows or array-like
    What the members take; subjects are read from
    :attr:`~skeeg2bold.EEGWindows.groups` (other input is one subject)."""

docdict["X_as_fit"] = """\
X : EEGWindows or array-like
    As in :meth:`fit`."""

docdict["y_targets"] = """\
y : array-like of shape (n_windows,) or (n_windows, n_targets)
    BOLD targets, one row per window."""

docdict["y_ignored"] = """\
y : None
    Ignored; present for the scikit-learn API."""

docdict["groups"] = """\
groups : array-like of shape (n_windows,), default=None
    Subject of each window, for plain arrays (an
    :class:`~skeeg2bold.EEGWindows` brings its own ``groups``)."""

docdict["random_state"] = """\
random_state : int, RandomState instance or None, default=None
    Seed of the random draws; the same seed gives the same numbers."""

docdict["device"] = """\
device : str, default="cpu"
    Torch device of the networks ("cpu", "cuda", ...)."""

docdict["progress"] = """\
progress : bool, default=False
    Show progress bars."""


def fill_doc(obj):
    """Fill ``%(name)s`` in ``obj``'s docstring from :data:`docdict`.

    Each entry is indented as the line it replaces. An unknown name raises
    ``KeyError`` at import time, naming the object.

    Parameters
    ----------
    obj : function or class

    Returns
    -------
    obj : function or class
        The same object, its ``__doc__`` filled.
    """
    doc = obj.__doc__
    if not doc:
        return obj
    lines = []
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.startswith("%(") and stripped.endswith(")s"):
            key = stripped[2:-2]
            if key not in docdict:
                raise KeyError(f"{obj.__qualname__}: no shared doc {key!r} in docdict.")
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(textwrap.indent(docdict[key], indent))
        else:
            lines.append(line)
    obj.__doc__ = "\n".join(lines) + ("\n" if doc.endswith("\n") else "")
    return obj
