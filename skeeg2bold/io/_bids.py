"""Simultaneous EEG-fMRI runs stored in BIDS (EEG raw data, BOLD raw or fMRIPrep)."""

import warnings
from pathlib import Path

from .._validation import validate_type
from ._files import read_file
from ._run import recording_from_run

__all__ = ["read_bids"]

# Names scanner volume triggers get in common EEG systems: BrainVision "R128"
# (MNE calls it "Response/R128"), the CWL "mri", and generic spellings.
_VOLUME_MARKERS = ("R128", "Response/R128", "mri", "Volume", "volume", "TR")

_MOTION_COLUMNS = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")

# EEG raw-data extensions BIDS allows (the sidecars share the basename).
_EEG_EXTENSIONS = (".set", ".vhdr", ".edf", ".bdf", ".fif")


def read_bids(
    root,
    subject,
    task,
    *,
    run=None,
    session=None,
    space=None,
    derivatives="derivatives/fmriprep",
    confounds="auto",
    bold_targets=None,
    volume_marker="auto",
    montage="auto",
    return_raw=False,
):
    """Read one simultaneous EEG-fMRI run of a BIDS dataset into a Recording.

    Supported layouts (``[ses-<session>/]`` and ``_run-<run>`` optional)::

        <root>/sub-<subject>/eeg/sub-<subject>_task-<task>_eeg.<set|vhdr|edf|bdf|fif>
        <root>/sub-<subject>/func/sub-<subject>_task-<task>_bold.nii.gz
        <root>/<derivatives>/sub-<subject>/func/
            sub-<subject>_task-<task>_space-<space>_desc-preproc_bold.nii.gz
            sub-<subject>_task-<task>_desc-confounds_timeseries.tsv

    The EEG is read with :func:`mne_bids.read_raw_bids` (events from
    ``*_events.tsv`` become annotations; volume triggers mark the onsets).
    The BOLD image is the raw ``func`` one, or with ``space`` fMRIPrep's
    preprocessed image in that space. The atlas is in MNI space, so use an
    MNI-normalised image (``space="MNI152NLin6Asym"``, the FSL template of
    the Harvard-Oxford atlas, or ``"MNI152NLin2009cAsym"``).

    Parameters
    ----------
    root : str or path-like
        BIDS root.
    subject, task : str
        Entities without their prefixes (``"01"``, ``"rest"``).
    run, session : str, default=None
        As written in the file names (``"01"`` for ``run-01``). Needed when
        the subject has several matching runs.
    space : str, default=None
        Read ``*_space-<space>_desc-preproc_bold.nii.gz`` from
        ``derivatives`` instead of the raw BOLD.
    derivatives : str or path-like, default="derivatives/fmriprep"
        fMRIPrep output folder, relative to ``root`` or absolute.
    confounds : "auto", sequence of str or None, default="auto"
        Columns of fMRIPrep's ``*_desc-confounds_timeseries.tsv`` regressed
        out of the ROI signals (e.g. also ``"global_signal"``,
        ``"white_matter"``, ``"csf"``). ``"auto"``: the six motion
        parameters when the file exists, none otherwise. None: none.
    bold_targets : BOLDRoiTargets, default=None
        ROI extraction (a copy is used; the measured TR is set when its
        ``t_r`` is None).
    volume_marker : "auto", str or sequence of str, default="auto"
        Annotation(s) marking volume onsets. ``"auto"`` takes the first of
        ``"R128"``, ``"Response/R128"``, ``"mri"``, ``"Volume"``,
        ``"volume"``, ``"TR"`` present in the EEG.
    montage : "auto", str, DigMontage or None, default="auto"
        ``"auto"`` keeps the positions of ``*_electrodes.tsv`` and falls back
        to the standard 10-20 positions.
    return_raw : bool, default=False
        Also return the Raw with every channel.

    Returns
    -------
    recording : Recording
    raw : mne.io.Raw
        Only with ``return_raw=True``.

    Examples
    --------
    >>> from skeeg2bold.io import read_bids  # doctest: +SKIP
    >>> rec = read_bids("ds-eegfmri", "01", "rest", space="MNI152NLin6Asym")  # doctest: +SKIP
    """
    from mne_bids import BIDSPath, read_raw_bids

    for name, value in (("subject", subject), ("task", task)):
        validate_type(value, str, name)
    validate_type(return_raw, bool, "return_raw")
    root = Path(root).expanduser()
    entities = dict(subject=subject, session=session, task=task, run=run)

    eeg_query = BIDSPath(root=root, datatype="eeg", suffix="eeg", **entities)
    eeg_path = _single_match(eeg_query, _EEG_EXTENSIONS, "EEG")
    raw = read_file(read_raw_bids, eeg_path, "EEG", verbose="error")
    read_file(type(raw).load_data, raw, f"EEG ({eeg_path.fpath})", verbose="error")

    deriv_root = Path(derivatives) if Path(derivatives).is_absolute() else root / derivatives
    if space is None:
        bold_query = BIDSPath(
            root=root,
            datatype="func",
            suffix="bold",
            extension=".nii.gz",
            check=False,
            **entities,
        )
    else:
        bold_query = BIDSPath(
            root=deriv_root,
            datatype="func",
            suffix="bold",
            extension=".nii.gz",
            space=space,
            description="preproc",
            check=False,
            **entities,
        )
    bold_path = _single_match(bold_query, (".nii.gz",), "BOLD").fpath

    confounds_query = BIDSPath(
        root=deriv_root,
        datatype="func",
        suffix="timeseries",
        extension=".tsv",
        description="confounds",
        check=False,
        **entities,
    )
    regressors = _confounds(confounds, confounds_query)

    if isinstance(volume_marker, str) and volume_marker == "auto":
        present = set(raw.annotations.description)
        found = [m for m in _VOLUME_MARKERS if m in present]
        # An empty choice lets marker_times raise its error listing what exists.
        volume_marker = found[0] if found else list(_VOLUME_MARKERS)
    return recording_from_run(
        raw,
        bold_path,
        subject=f"sub-{subject}",
        confounds=regressors,
        bold_targets=bold_targets,
        volume_marker=volume_marker,
        montage=montage,
        return_raw=return_raw,
        run_name=eeg_path.basename,
    )


def _single_match(query, extensions, what):
    matches = [p for p in query.match(ignore_json=True) if p.extension in extensions]
    if not matches:
        raise FileNotFoundError(
            f"No {what} file matches {str(query.fpath)!r} (extensions {list(extensions)})."
        )
    if len(matches) > 1:
        raise ValueError(
            f"{len(matches)} {what} files match; give run= or session= to pick one: "
            f"{[p.basename for p in matches]}."
        )
    return matches[0]


def _confounds(columns, query):
    """Selected columns of the fMRIPrep confounds file, or None."""
    if columns is None:
        return None
    matches = query.match(ignore_json=True)
    if isinstance(columns, str) and columns == "auto":
        if not matches:
            return None
        columns = _MOTION_COLUMNS
    elif isinstance(columns, str):
        columns = (columns,)
    if not matches:
        raise FileNotFoundError(
            f"confounds={list(columns)} needs the confounds file {str(query.fpath)!r}."
        )
    if len(matches) > 1:
        raise ValueError(f"Several confounds files match: {[p.basename for p in matches]}.")
    import pandas as pd

    table = pd.read_csv(matches[0].fpath, sep="\t")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"Columns {missing} are not in {matches[0].basename}; it has "
            f"{list(table.columns)[:30]}."
        )
    values = table[list(columns)]
    if values.isna().any().any():
        # fMRIPrep leaves the first row of derivative columns empty.
        n_nan = int(values.isna().sum().sum())
        warnings.warn(
            f"{n_nan} empty confound value(s) in {matches[0].basename} set to 0.",
            UserWarning,
            stacklevel=3,
        )
        values = values.fillna(0.0)
    return values.to_numpy(dtype=float)
