"""Write recordings in the CWL layout, for trying the readers without the data."""

import numpy as np
from sklearn.utils import check_random_state

from .._recording import Recording
from .._validation import check_positive, validate_type
from ._atlas import _normalise_name, fetch_subcortical_atlas, mni_grid
from ._cwl import cwl_paths

__all__ = ["write_cwl"]

# The non-EEG channels of the CWL recordings and their MNE types.
_EXTRA_CHANNELS = (("EOG", "eog"), ("ECG", "ecg")) + tuple((f"CW{k}", "misc") for k in range(1, 7))


def write_cwl(
    recordings,
    root,
    *,
    pump="off",
    atlas=None,
    shape=None,
    affine=None,
    motion=None,
    baseline=100.0,
    noise=0.0,
    n_missing_markers=0,
    random_state=None,
    overwrite=False,
):
    """Write recordings as CWL files: EEGLAB EEG, MNI NIfTI BOLD, motion text.

    The files follow the published layout (see :func:`read_cwl`), so that
    ``read_cwl(root, rec.subject, bold_targets=BOLDRoiTargets(atlas=atlas))``
    gives the recording back: the EEG exactly (to float32 precision), the
    volume onsets as ``mri`` annotations, and each ROI's BOLD as the signal
    of every voxel of that ROI in the atlas.

    Parameters
    ----------
    recordings : Recording, list of Recording, or an object with ``.recordings``
        What to write (e.g. the output of the simulator). Each ROI name must
        be an atlas label; otherwise the ROIs are placed in atlas order.
    root : str or path-like
        Dataset folder; ``eeg/`` and ``mri/`` are created in it.
    pump : {"off", "on"}, default="off"
        Pump token of the file names.
    atlas : Bunch, default=None
        Labels image (``maps``) and names (``labels``, ``labels[k]`` is value
        ``k + 1``), e.g. :func:`make_toy_atlas`; by default the
        Harvard-Oxford atlas from :func:`fetch_subcortical_atlas`.
    shape, affine : tuple of 3 int and ndarray of shape (4, 4), default=None
        Grid of the BOLD images; by default SPM's 61 x 72 x 61 MNI grid at
        3 mm (:func:`mni_grid`), or the atlas's own grid for a given
        ``atlas``. The atlas is resampled to it (nearest neighbour).
    motion : array-like of shape (n_volumes, 6) or list of them, default=None
        Realignment parameters written to ``rp_*.txt`` (zeros if None). The
        image itself is not moved.
    baseline : float, default=100.0
        Voxel intensity the BOLD signals are added to.
    noise : float, default=0.0
        Standard deviation of independent Gaussian noise in every voxel and
        in the non-EEG channels (EOG, ECG, CW1-CW6) that the recording's
        ``aux`` does not hold (flat when 0). The channels ``aux`` holds (e.g.
        the loops and ECG of ``simulate_eeg_fmri(scanner_artifacts=True)``)
        are written as they are.
    n_missing_markers : int, default=0
        Leave out the ``mri`` markers of the last volumes, as in the real
        runs (e.g. 3 for 143 markers and 146 volumes).
    random_state : int, RandomState instance or None, default=None
        Seed of the noise.
    overwrite : bool, default=False
        Replace existing files.

    Returns
    -------
    paths : list of Bunch
        ``eeg``, ``bold`` and ``motion`` paths of each recording.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from skeeg2bold import Recording
    >>> from skeeg2bold.io import make_toy_atlas, write_cwl
    >>> rec = Recording(np.zeros((2, 2000)), np.random.rand(8, 14), np.arange(8) * 0.2,
    ...                 sfreq=1000.0, ch_names=["Cz", "Pz"], subject="trio1")
    >>> paths = write_cwl(rec, tempfile.mkdtemp(), atlas=make_toy_atlas())
    >>> paths[0].bold.name
    'rwatrio1_eoec_in-scan_hpump-off.nii'
    """
    recordings = _as_recordings(recordings)
    check_positive(baseline, "baseline")
    noise = check_positive(noise, "noise", allow_zero=True)
    n_missing_markers = int(n_missing_markers)
    if n_missing_markers < 0:
        raise ValueError(f"n_missing_markers must be >= 0, got {n_missing_markers}.")
    validate_type(overwrite, bool, "overwrite")
    rng = check_random_state(random_state)
    if not isinstance(motion, list):
        motion = [motion] * len(recordings)
    if len(motion) != len(recordings):
        raise ValueError(f"motion has {len(motion)} entries for {len(recordings)} recordings.")
    motion = [_motion_array(rp, rec) for rec, rp in zip(recordings, motion)]
    all_paths = [cwl_paths(root, rec.subject, pump) for rec in recordings]
    for path in (p for paths in all_paths for p in paths.values()):
        if path.exists() and not overwrite:
            raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True.")
    if atlas is None:
        atlas = fetch_subcortical_atlas()
        if shape is None and affine is None:
            shape, affine = mni_grid()
    grid = _atlas_in_grid(atlas, shape, affine)

    written = []
    for rec, rp, paths in zip(recordings, motion, all_paths):
        for path in paths.values():
            path.parent.mkdir(parents=True, exist_ok=True)
        _write_bold(rec, paths.bold, grid, atlas["labels"], baseline, noise, rng)
        _write_eeg(rec, paths.eeg, noise, n_missing_markers, rng)
        np.savetxt(paths.motion, rp, fmt="%15.7e")
        written.append(paths)
    return written


def _motion_array(rp, rec):
    rp = np.zeros((rec.n_volumes, 6)) if rp is None else np.asarray(rp, dtype=float)
    if rp.shape != (rec.n_volumes, 6):
        raise ValueError(
            f"motion for {rec.subject!r} must have shape ({rec.n_volumes}, 6), got {rp.shape}."
        )
    return rp


def _as_recordings(recordings):
    recordings = getattr(recordings, "recordings", recordings)
    if isinstance(recordings, Recording):
        recordings = [recordings]
    recordings = list(recordings)
    for rec in recordings:
        validate_type(rec, Recording, "recordings", "Recording or a list of them")
    if not recordings:
        raise ValueError("recordings is empty.")
    subjects = [rec.subject for rec in recordings]
    if len(set(subjects)) != len(subjects):
        raise ValueError(f"Subjects must be unique to get one file each, got {subjects}.")
    return recordings


def _atlas_in_grid(atlas, shape, affine):
    """Atlas labels ``(x, y, z)`` in the output grid, and that grid's affine."""
    from nilearn.image import resample_img

    maps = atlas["maps"]
    if shape is None and affine is None:
        return np.asarray(maps.dataobj), maps.affine
    if shape is None or affine is None:
        raise ValueError("shape and affine must be given together.")
    resampled = resample_img(
        maps,
        target_affine=np.asarray(affine, dtype=float),
        target_shape=tuple(int(n) for n in shape),
        interpolation="nearest",
        force_resample=True,
        copy_header=True,
    )
    return np.asarray(resampled.dataobj), resampled.affine


def _write_eeg(rec, path, noise, n_missing_markers, rng):
    import mne

    extra_channels = [(n, kind) for n, kind in _EXTRA_CHANNELS if n not in rec.ch_names]
    names = list(rec.ch_names) + [name for name, _ in extra_channels]
    types = ["eeg"] * rec.n_channels + [kind for _, kind in extra_channels]
    info = mne.create_info(names, rec.sfreq, types)
    extra = noise * 1e-6 * rng.standard_normal((len(extra_channels), rec.eeg.shape[1]))
    for k, (name, _) in enumerate(extra_channels):
        if name in rec.aux:  # e.g. the loops and ECG of simulated scanner EEG
            extra[k] = rec.aux[name]
    raw = mne.io.RawArray(np.vstack([rec.eeg, extra]), info, verbose="error")
    montage = rec.info.get_montage()
    if montage is not None:
        raw.set_montage(montage, on_missing="ignore")
    onsets = rec.volume_times[: rec.n_volumes - n_missing_markers]
    # A marker after the last EEG sample cannot be stored in the EEG file.
    onsets = onsets[onsets < rec.duration]
    raw.set_annotations(mne.Annotations(onsets, 0.0, "mri"))
    mne.export.export_raw(path, raw, fmt="eeglab", overwrite=True, verbose="error")


def _write_bold(rec, path, grid, atlas_labels, baseline, noise, rng):
    import nibabel as nib

    labels, affine = grid
    atlas_names = [_normalise_name(n) for n in atlas_labels]
    wanted = [_normalise_name(n) for n in rec.roi_names]
    if all(name in atlas_names for name in wanted):
        values = [atlas_names.index(name) + 1 for name in wanted]
    elif len(wanted) <= len(atlas_names):
        # Generic names ("roi0", ...): the k-th ROI goes to the k-th atlas label.
        values = list(range(1, len(wanted) + 1))
    else:
        raise ValueError(
            f"{rec.subject!r} has {len(wanted)} ROIs but the atlas only {len(atlas_names)}."
        )
    empty = [rec.roi_names[k] for k, v in enumerate(values) if not np.any(labels == v)]
    if empty:
        raise ValueError(f"ROIs {empty} have no voxel in the output grid; use a finer grid.")
    data = np.full(labels.shape + (rec.n_volumes,), baseline, dtype=np.float32)
    for k, value in enumerate(values):
        data[labels == value] += rec.bold[:, k].astype(np.float32)
    if noise:
        data += (noise * rng.standard_normal(data.shape)).astype(np.float32)
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    zooms = img.header.get_zooms()[:3]
    img.header.set_zooms(zooms + (rec.tr if np.isfinite(rec.tr) else 1.0,))
    nib.save(img, path)
