"""Real recordings for the command line: both folder layouts, their options, CWL cleaning.

The command line (``skeeg2bold run/fit --data cwl|bids``) calls
:func:`load_real_data` with its parsed arguments; errors raised here name
the command-line flags.
"""

import argparse
import re
import warnings
from pathlib import Path

__all__ = [
    "DATA_LAYOUTS_HELP",
    "LayoutsHelpFormatter",
    "bids_subjects",
    "cleaned_by_loops",
    "load_real_data",
    "mni_space",
]

#: What ``--help`` shows about the two folder layouts.
DATA_LAYOUTS_HELP = """\
folder layouts for --root:

  --data cwl (the CWL data set as published; --subjects trio1 ... verio8):
    eeg/in-scan/{subject}_mrcorrected_eoec_in-scan_hpump-{off,on}.set
    mri/epi_normalized/rwa{subject}_eoec_in-scan_hpump-{off,on}.nii
    mri/epi_motionparams/rp_a{subject}_eoec_in-scan_hpump-{off,on}.txt
  The EEG is cleaned of pulse and helium-pump artefacts by carbon-wire loop
  regression on CW1-CW6 (--no-cwl-regression to skip).

  --data bids (raw BIDS EEG + raw or fMRIPrep BOLD; [ses-<session>/] and
  _run-<run> optional; every sub-* folder unless --subjects):
    sub-<subject>/eeg/sub-<subject>_task-<task>_eeg.<set|vhdr|edf|bdf|fif>
    sub-<subject>/func/sub-<subject>_task-<task>_bold.nii.gz
    <derivatives>/sub-<subject>/func/
      sub-<subject>_task-<task>_space-<space>_desc-preproc_bold.nii.gz
      sub-<subject>_task-<task>_desc-confounds_timeseries.tsv
  --space defaults to fMRIPrep's MNI output when present (the atlas is in
  MNI space), else the raw func BOLD (with a warning).

examples:
  skeeg2bold run --data cwl --root ~/data/cwl
  skeeg2bold run --data bids --root ~/data/ds --task rest --session 01
"""


class LayoutsHelpFormatter(argparse.HelpFormatter):
    """Wraps the help as usual but prints :data:`DATA_LAYOUTS_HELP` as written."""

    def _fill_text(self, text, width, indent):
        if text.startswith(DATA_LAYOUTS_HELP.split(":", 1)[0]):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


#: MNI spaces fMRIPrep writes, in order of preference (the Harvard-Oxford
#: atlas is on the FSL template, MNI152NLin6Asym).
_MNI_PREFERENCE = ("MNI152NLin6Asym", "MNI152NLin2009cAsym")


def bids_subjects(root):
    """Labels of the ``sub-*`` folders of a BIDS root (without ``sub-``), sorted.

    Parameters
    ----------
    root : str or path-like

    Returns
    -------
    subjects : list of str
    """
    root = Path(root).expanduser()
    return sorted(p.name[4:] for p in root.glob("sub-*") if p.is_dir() and len(p.name) > 4)


def mni_space(root, subject, task, *, session=None, run=None, derivatives="derivatives/fmriprep"):
    """The MNI space of fMRIPrep's preprocessed BOLD of one run, or None.

    Parameters
    ----------
    root : str or path-like
        BIDS root.
    subject, task : str
    session, run : str, default=None
    derivatives : str or path-like, default="derivatives/fmriprep"
        Relative to ``root`` or absolute.

    Returns
    -------
    space : str or None
        ``MNI152NLin6Asym`` if present, else ``MNI152NLin2009cAsym``, else
        the first other ``MNI*`` space, else None.
    """
    root = Path(root).expanduser()
    deriv = Path(derivatives)
    deriv = deriv if deriv.is_absolute() else root / deriv
    folder = deriv / f"sub-{subject}"
    if not folder.is_dir():
        return None
    entities = [f"sub-{subject}"] + ([f"ses-{session}"] if session else []) + [f"task-{task}"]
    spaces = set()
    pattern = re.compile(r"_space-(MNI[^_]*)_(?:res-[^_]+_)?desc-preproc_bold\.nii(\.gz)?$")
    for path in folder.rglob("*_desc-preproc_bold.nii*"):
        name = path.name
        if not all(f"{e}_" in name for e in entities):
            continue
        if run is not None and f"_run-{run}_" not in name:
            continue
        match = pattern.search(name)
        if match:
            spaces.add(match.group(1))
    for space in _MNI_PREFERENCE:
        if space in spaces:
            return space
    return sorted(spaces)[0] if spaces else None


def _clean_cwl(recordings, enabled=True):
    """The recordings cleaned by :class:`~skeeg2bold.preprocessing.CWLRegression`.

    Errors name the ``--no-cwl-regression`` flag that skips the cleaning.
    """
    if not enabled:
        return list(recordings)
    from ..preprocessing import CWLRegression

    try:
        return CWLRegression().transform(list(recordings))
    except ValueError as err:
        raise ValueError(
            f"carbon-wire loop regression: {err} Pass --no-cwl-regression to use the EEG as it is."
        ) from None


def load_real_data(args, progress=None):
    """The recordings that ``--data cwl`` or ``--data bids`` with these flags read.

    Parameters
    ----------
    args : argparse.Namespace
        ``data``, ``root``, ``subjects``, ``task``, ``pump``, and where given
        ``no_cwl_regression``, ``space``, ``session``, ``run``,
        ``derivatives``.
    progress : callable, default=None
        ``progress(items, description)`` wraps the loop over subjects.

    Returns
    -------
    recordings : list of Recording
    """
    progress = progress or (lambda items, desc: items)
    if args.data == "cwl":
        return _load_cwl(args, progress)
    if args.data == "bids":
        return _load_bids(args, progress)
    raise ValueError(f"--data {args.data} is not a folder layout (cwl or bids).")


def _load_cwl(args, progress):
    from ._cwl import CWL_SUBJECTS, read_cwl

    subjects = args.subjects or list(CWL_SUBJECTS)
    recordings = [
        read_cwl(args.root, subject, pump=args.pump)
        for subject in progress(subjects, "reading CWL")
    ]
    return _clean_cwl(recordings, not getattr(args, "no_cwl_regression", False))


def _load_bids(args, progress):
    from ._bids import read_bids

    session, run = getattr(args, "session", None), getattr(args, "run", None)
    derivatives = getattr(args, "derivatives", None) or "derivatives/fmriprep"
    space = getattr(args, "space", None)
    subjects = args.subjects or bids_subjects(args.root)
    if not subjects:
        raise ValueError(
            f"--root {args.root} has no sub-* folder; give the BIDS root or --subjects."
        )
    subjects = [s.removeprefix("sub-") for s in subjects]
    recordings = []
    for subject in progress(subjects, "reading BIDS"):
        chosen = space or mni_space(
            args.root, subject, args.task, session=session, run=run, derivatives=derivatives
        )
        if chosen is None or "MNI" not in chosen:
            where = (
                "the raw func BOLD (no fMRIPrep MNI output found under "
                f"--derivatives {derivatives})"
                if chosen is None
                else f"--space {chosen}"
            )
            warnings.warn(
                f"sub-{subject}: the BOLD read is {where}, not in MNI space; the "
                "Harvard-Oxford ROIs (MNI) will not fall on the right voxels unless the image "
                "is already normalised.",
                UserWarning,
                stacklevel=2,
            )
        try:
            rec = read_bids(
                args.root,
                subject,
                args.task,
                session=session,
                run=run,
                space=chosen,
                derivatives=derivatives,
            )
        except (ValueError, FileNotFoundError) as err:
            message = str(err).replace("give run= or session=", "give --run or --session")
            raise type(err)(
                f"sub-{subject} (--task {args.task}"
                + (f", --session {session}" if session else "")
                + (f", --run {run}" if run else "")
                + (f", --space {chosen}" if chosen else "")
                + f"): {message}"
            ) from None
        recordings.append(rec)
    return _clean_cwl(recordings, cleaned_by_loops(args, recordings))


def cleaned_by_loops(args, recordings):
    """Whether recordings read with ``args`` are cleaned by carbon-wire loop regression.

    They are when they carry loop channels and ``--no-cwl-regression`` is not
    given: BIDS runs only then, CWL runs always (``--data cwl`` refuses runs
    without loops).
    """
    if getattr(args, "no_cwl_regression", False):
        return False
    from ..preprocessing._cwl import CW_PATTERN

    return all(any(CW_PATTERN.match(n) for n in rec.aux) for rec in recordings)
