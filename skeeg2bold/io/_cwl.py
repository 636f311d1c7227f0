"""The CWL EEG-fMRI dataset (van der Meer et al. 2016) as published."""

import re
from pathlib import Path

from sklearn.utils import Bunch

from .._constants import CWL_SUBJECTS
from .._validation import check_option, validate_type
from ._files import read_file
from ._run import recording_from_run

__all__ = ["CWL_SUBJECTS", "cwl_paths", "read_cwl"]


def cwl_paths(root, subject, pump="off"):
    """Where the CWL layout keeps one run's EEG, BOLD and motion files.

    Parameters
    ----------
    root : str or path-like
        Folder that holds ``eeg/`` and ``mri/``.
    subject : str
        E.g. ``"trio1"`` (see :data:`CWL_SUBJECTS`).
    pump : {"off", "on"}, default="off"
        Helium pump off or on during the run.

    Returns
    -------
    paths : Bunch
        ``eeg`` (EEGLAB ``.set``), ``bold`` (NIfTI) and ``motion`` (``rp_*.txt``).

    Examples
    --------
    >>> from skeeg2bold.io import cwl_paths
    >>> cwl_paths("cwl", "trio1").bold.as_posix()
    'cwl/mri/epi_normalized/rwatrio1_eoec_in-scan_hpump-off.nii'
    """
    validate_type(subject, str, "subject")
    if not subject or re.search(r"[\\/]", subject):
        raise ValueError(f"subject must be a plain name such as 'trio1', got {subject!r}.")
    check_option(pump, ("off", "on"), "pump")
    root = Path(root)
    run = f"eoec_in-scan_hpump-{pump}"
    return Bunch(
        eeg=root / "eeg" / "in-scan" / f"{subject}_mrcorrected_{run}.set",
        bold=root / "mri" / "epi_normalized" / f"rwa{subject}_{run}.nii",
        motion=root / "mri" / "epi_motionparams" / f"rp_a{subject}_{run}.txt",
    )


def read_cwl(
    root,
    subject,
    *,
    pump="off",
    bold_targets=None,
    motion=True,
    volume_marker="mri",
    montage="auto",
    return_raw=False,
):
    """Read one CWL run into a :class:`~skeeg2bold.Recording`.

    Parameters
    ----------
    root : str or path-like
        Dataset folder with the published layout::

            eeg/in-scan/{subject}_mrcorrected_eoec_in-scan_hpump-{off,on}.set
            mri/epi_normalized/rwa{subject}_eoec_in-scan_hpump-{off,on}.nii
            mri/epi_motionparams/rp_a{subject}_eoec_in-scan_hpump-{off,on}.txt

    subject : str
        ``"trio1"`` ... ``"trio4"``, ``"verio5"`` ... ``"verio8"``.
    pump : {"off", "on"}, default="off"
        The run recorded with the helium pump off (the paper's) or on.
    bold_targets : BOLDRoiTargets, default=None
        How ROI time series are taken from the NIfTI image; by default
        ``BOLDRoiTargets()`` (Harvard-Oxford, 14 ROIs). A copy is used; when
        its ``t_r`` is None the measured TR (median ``mri`` marker interval,
        about 1.95 s on these scanners, not the nominal 2 s) is set.
    motion : bool, default=True
        Regress the six realignment parameters of ``rp_*.txt`` out of the
        ROI signals.
    volume_marker : str, default="mri"
        Annotation that marks each volume onset.
    montage : "auto", str, mne.channels.DigMontage or None, default="auto"
        Sensor positions: ``"auto"`` keeps the file's and falls back to
        the standard 10-20 positions (``"colin27_1020"``, formerly
        ``"standard_1020"``) when it has none (no EEG channel with a
        finite position, as EEGLAB files with empty locations); None leaves
        them unset.
    return_raw : bool, default=False
        Also return the full :class:`mne.io.Raw` with every channel.

    Returns
    -------
    recording : Recording
        EEG channels in ``eeg``; the EOG, ECG and carbon-wire channels
        (CW1-CW6, type ``misc``) in ``aux``, for
        :class:`~skeeg2bold.preprocessing.CWLRegression`; BOLD
        ``(n_volumes, n_rois)``; one onset per volume. The published EEG is
        gradient-corrected only: clean the pulse and helium-pump artefacts
        with :class:`~skeeg2bold.preprocessing.CWLRegression` before a
        model, as the paper did.
    raw : mne.io.Raw
        Only with ``return_raw=True``.

    Warns
    -----
    VolumeMarkerWarning
        When the markers had to be repaired to match the volumes: repeats
        and off-grid markers dropped, onsets of volumes without a marker
        interpolated (inside the run) or extrapolated with the measured TR
        (after the last marker), extra markers ignored (the rules of
        :func:`~skeeg2bold.volume_onsets_from_markers`). The repairs are
        kept in ``recording.marker_report``.

    Raises
    ------
    ValueError
        When the markers cannot be matched to the volumes, or their interval
        disagrees with the TR in the NIfTI header (a wrong EEG sampling rate).

    Examples
    --------
    >>> from skeeg2bold.io import read_cwl  # doctest: +SKIP
    >>> rec = read_cwl("~/data/cwl", "trio1")  # doctest: +SKIP
    """
    import mne

    validate_type(motion, bool, "motion")
    validate_type(return_raw, bool, "return_raw")
    paths = cwl_paths(Path(root).expanduser(), subject, pump)
    needed = [paths.eeg, paths.bold] + ([paths.motion] if motion else [])
    for path in needed:
        if not path.is_file():
            raise FileNotFoundError(
                f"CWL file for subject {subject!r}, pump {pump!r} not found: expected "
                f"{str(path)!r} (see the 'Using real data' page for the layout)."
            )

    raw = read_file(mne.io.read_raw_eeglab, paths.eeg, "EEGLAB", preload=True, verbose="error")
    return recording_from_run(
        raw,
        paths.bold,
        subject=subject,
        confounds=paths.motion if motion else None,
        bold_targets=bold_targets,
        volume_marker=volume_marker,
        montage=montage,
        return_raw=return_raw,
        run_name=f"{subject} (pump {pump})",
    )
