"""The paper's experiment as library calls: presets, models, data, protocol, oracles.

``skeeg2bold run`` and ``skeeg2bold fit`` are thin front-ends of these
functions; a Python user calls the same ones::

    dataset = load_dataset("simulated", n_subjects=8, sfreq=250.0)
    data = paper_windows(dataset.recordings, sfreq=100.0)
    result = run_paper_experiment(data, "quick", dataset=dataset)
"""

import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.utils import Bunch

from ..utils._docs import fill_doc

__all__ = [
    "CORTICAL_ORACLE",
    "MODEL_HELP",
    "ORACLE",
    "PRESETS",
    "add_unmixing_oracles",
    "load_dataset",
    "paper_chance_models",
    "paper_model",
    "paper_models",
    "paper_protocol",
    "paper_windows",
    "run_paper_experiment",
]

#: Settings of the two presets. ``quick`` finishes in minutes on 2 CPU cores
#: (two target subjects, one seed). ``full`` is the paper's setting: EEG at
#: the native 1000 Hz, the last subject as the target (the paper's 8th),
#: three seeds per model for the sd, three chance surrogates (8 minutes and
#: 1.4 GB on 2 CPU cores; ``--device cuda``, more cores or
#: ``--repeats``/``--models`` change it). ``targets=8`` evaluates every
#: subject in turn.
PRESETS = {
    "quick": dict(
        sim_sfreq=250.0,
        sfreq=100.0,
        targets=2,
        repeats=1,
        chance_repeats=2,
        epochs=25,
        models=("aligned-compact", "compact", "deep", "riemann", "aligned-logridge", "logridge"),
    ),
    "full": dict(
        sim_sfreq=1000.0,
        sfreq=100.0,
        targets=1,
        repeats=3,
        chance_repeats=3,
        epochs=40,
        models=(
            "aligned-compact",
            "compact",
            "deep",
            "riemann",
            "aligned-logridge",
            "logridge",
            "ridge",
            "hrf",
        ),
    ),
}
#: What each model name of :func:`paper_model` builds.
MODEL_HELP = {
    "bandpower": "EEG2BoldRegressor(BandPowerNet): log band power of learned spatial "
    "filters (unmixing), per time bin",
    "compact": "EEG2BoldRegressor(CompactNet): the interpretable network, started from "
    "the classical envelope features",
    "aligned-compact": "SubjectAlignment + EEG2BoldRegressor(CompactNet): each subject's "
    "EEG whitened by its own mean spatial covariance (Euclidean alignment), then "
    "CompactNet; the most accurate model of benchmarks/bench_unmixing.py",
    "deep": "EEG2BoldRegressor(EEG2BoldNet): the paper's network",
    "ensemble": "SeedEnsembleRegressor of 3 CompactNets (seeds averaged)",
    "average": "StandardizedAverageRegressor of the Riemannian baseline and aligned-compact: "
    "their predictions standardised on each subject's own training windows and averaged",
    "average4": "StandardizedAverageRegressor of the Riemannian baseline, compact, "
    "aligned-compact and deep: never below the Riemannian baseline in the six settings of "
    "benchmarks/bench_unmixing.py",
    "ridge": "lagged band envelopes + ridge",
    "logridge": "lagged log band envelopes + ridge",
    "aligned-logridge": "SubjectAlignment + lagged log band envelopes + ridge: alignment "
    "without a network",
    "hrf": "band envelopes convolved with the canonical HRF + ridge",
    "riemann": "band covariances, per-subject re-centring, tangent space + ridge",
}
#: Models whose chance level is estimated: the first of these that is fitted.
_CHANCE_PREFERENCE = (
    "aligned-compact",
    "bandpower",
    "compact",
    "deep",
    "ensemble",
    "riemann",
    "aligned-logridge",
    "logridge",
    "ridge",
    "hrf",
)
#: Averaged models -> their members.
_AVERAGES = {
    "average": ("riemann", "aligned-compact"),
    "average4": ("riemann", "compact", "aligned-compact", "deep"),
}
#: Names of the unmixing oracles in the report (simulated data only): the
#: log-envelope ridge on all true sources, and on the cortical ones only.
ORACLE = "unmixing oracle"
CORTICAL_ORACLE = "unmixing oracle (cortical)"
#: Window length of the paper, seconds.
_WINDOW = 10.0


def _preset(preset):
    """``preset`` as a settings dict: a name of :data:`PRESETS` or a dict itself."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}.")
        return dict(PRESETS[preset])
    return dict(preset)


@fill_doc
def paper_model(name, *, epochs=40, device="cpu", random_state=0):
    """One model of the paper's experiment, unfitted, by its name.

    Parameters
    ----------
    name : str
        A key of :data:`MODEL_HELP`. An ``aligned-`` name is the model without
        the prefix behind :class:`~skeeg2bold.features.SubjectAlignment`;
        ``average`` averages the Riemannian baseline and ``aligned-compact``
        (:class:`~skeeg2bold.ensemble.StandardizedAverageRegressor`),
        ``average4`` the Riemannian baseline and the three networks
        ``compact``, ``aligned-compact`` and ``deep``.
    epochs : int, default=40
        Maximum training epochs of the networks.
    %(device)s
    random_state : int, default=0
        Seed of the networks and ensembles.

    Returns
    -------
    model : estimator
        An unfitted scikit-learn regressor taking windows.
    """
    if name not in MODEL_HELP:
        raise ValueError(f"name must be one of {sorted(MODEL_HELP)}, got {name!r}.")
    if name in _AVERAGES:
        from ..ensemble import StandardizedAverageRegressor

        members = [
            (m, paper_model(m, epochs=epochs, device=device, random_state=random_state))
            for m in _AVERAGES[name]
        ]
        return StandardizedAverageRegressor(members)
    base = name.removeprefix("aligned-")
    model = _base_model(base, epochs, device, random_state)
    if base != name:
        from sklearn.pipeline import make_pipeline

        from ..features import SubjectAlignment

        model = make_pipeline(SubjectAlignment(), model)
    return model


def _base_model(name, epochs, device, random_state):
    """A model of :data:`MODEL_HELP` whose ``aligned-`` prefix is removed."""
    from ..baselines import make_hrf_baseline, make_ridge_baseline, make_riemann_baseline

    if name in ("bandpower", "deep", "compact", "ensemble"):
        from ..nn import BandPowerNet, CompactNet, EEG2BoldNet, EEG2BoldRegressor

        module = {"bandpower": BandPowerNet, "deep": EEG2BoldNet}.get(name, CompactNet)
        model = EEG2BoldRegressor(
            module, max_epochs=epochs, device=device, random_state=random_state
        )
        if name == "ensemble":
            from ..ensemble import SeedEnsembleRegressor

            model = SeedEnsembleRegressor(model, n_members=3, random_state=random_state)
        return model
    if name == "ridge":
        return make_ridge_baseline()
    if name == "logridge":
        return make_ridge_baseline(log=True)
    if name == "riemann":
        return make_riemann_baseline()
    return make_hrf_baseline()


@fill_doc
def paper_models(preset="full", *, device="cpu", random_state=0):
    """Every model of a preset, unfitted, by name.

    Parameters
    ----------
    preset : str or dict, default="full"
        A name of :data:`PRESETS`, or a settings dict with its ``models``
        (names of :data:`MODEL_HELP`) and ``epochs``.
    %(device)s
    random_state : int, default=0
        Seed of the networks and ensembles.

    Returns
    -------
    models : dict of str to estimator
        In the preset's order, ready for :func:`run_experiment`.
    """
    preset = _preset(preset)
    return {
        name: paper_model(name, epochs=preset["epochs"], device=device, random_state=random_state)
        for name in preset["models"]
    }


def paper_chance_models(models):
    """The model whose chance level the paper's report estimates.

    Parameters
    ----------
    models : iterable of str
        Names of the fitted models.

    Returns
    -------
    names : list of str
        The first of the networks, then the baselines, that is among
        ``models`` (empty if none is).
    """
    models = list(models)
    return [m for m in _CHANCE_PREFERENCE if m in models][:1]


@fill_doc
def load_dataset(
    source="simulated",
    *,
    root=None,
    subjects=None,
    task="rest",
    pump="off",
    n_subjects=8,
    duration=285.0,
    sfreq=1000.0,
    random_state=0,
    progress=False,
    cwl_regression=True,
    space=None,
    session=None,
    run=None,
    derivatives="derivatives/fmriprep",
):
    """The recordings of the experiment: simulated, the CWL data set or a BIDS folder.

    Parameters
    ----------
    source : {"simulated", "cwl", "bids"}, default="simulated"
        The embedded simulator (:func:`~skeeg2bold.datasets.simulate_eeg_fmri`),
        :func:`~skeeg2bold.io.read_cwl` or :func:`~skeeg2bold.io.read_bids`.
    root : path-like, default=None
        The data set's folder (``cwl`` and ``bids``).
    subjects : list of str, default=None
        Subjects to read: all of :data:`~skeeg2bold.io.CWL_SUBJECTS` for
        ``cwl`` if None; every ``sub-*`` folder under ``root`` for ``bids``.
    task : str, default="rest"
        BIDS task.
    pump : {"on", "off"}, default="off"
        CWL helium-pump condition.
    n_subjects : int, default=8
        Simulated subjects.
    duration : float, default=285.0
        Seconds simulated per subject.
    sfreq : float, default=1000.0
        Simulated EEG rate, Hz.
    random_state : int, default=0
        Seed of the simulator.
    %(progress)s
        Show a progress bar while reading files.
    cwl_regression : bool, default=True
        Clean in-scanner EEG by regression on the carbon-wire loops
        (:class:`~skeeg2bold.preprocessing.CWLRegression`): always for
        ``cwl``, for ``bids`` when every run carries loop channels.
    space, session, run : str, default=None
        BIDS: the fMRIPrep space of the BOLD (default: its MNI output when
        present), the session and the run labels.
    derivatives : str, default="derivatives/fmriprep"
        BIDS: the fMRIPrep folder, relative to ``root``.

    Returns
    -------
    dataset : Bunch
        ``recordings`` (list of :class:`~skeeg2bold.Recording`),
        ``simulation`` (the simulator's output, or None for files) and
        ``sources`` (simulated data only, else None: each unmixing oracle's
        name mapped to its source recordings,
        :func:`~skeeg2bold.datasets.source_recordings`).
    """
    if source == "simulated":
        from ..datasets import simulate_eeg_fmri, source_recordings

        sim = simulate_eeg_fmri(
            n_subjects=n_subjects, duration=duration, sfreq=sfreq, random_state=random_state
        )
        sources = {
            ORACLE: source_recordings(sim),
            CORTICAL_ORACLE: source_recordings(sim, deep=False),
        }
        return Bunch(recordings=sim.recordings, simulation=sim, sources=sources)
    if source not in ("cwl", "bids"):
        raise ValueError(f"source must be 'simulated', 'cwl' or 'bids', got {source!r}.")
    if root is None:
        raise ValueError(f"source {source!r} needs root, the data set's folder.")
    from argparse import Namespace

    from tqdm.auto import tqdm

    from ..io._layouts import load_real_data

    options = Namespace(
        data=source,
        root=Path(root),
        subjects=subjects,
        task=task,
        pump=pump,
        no_cwl_regression=not cwl_regression,
        space=space,
        session=session,
        run=run,
        derivatives=derivatives,
    )
    recordings = load_real_data(
        options, lambda items, desc: tqdm(items, desc=desc, disable=not progress)
    )
    return Bunch(recordings=recordings, simulation=None, sources=None)


def paper_windows(recordings, *, window=_WINDOW, sfreq=100.0):
    """Windows and targets of the paper: EEG windows, ROIs split into differential + common mode.

    Parameters
    ----------
    recordings : list of Recording
    window : float, default=10.0
        EEG window in seconds.
    sfreq : float, default=100.0
        EEG rate of the windows, Hz.

    Returns
    -------
    data : Bunch
        :func:`~skeeg2bold.make_windows`'s output (float32) with ``y``
        replaced by the targets of a
        :class:`~skeeg2bold.targets.CommonModeSplitter` fitted on the ROI
        BOLD, ``target_names`` set and the fitted splitter as
        ``target_splitter``.
    """
    from .. import make_windows
    from ..targets import CommonModeSplitter

    data = make_windows(recordings, window=window, sfreq=sfreq, dtype="float32")
    splitter = CommonModeSplitter().fit(data.y)
    data.y = splitter.transform(data.y)
    data.target_names = [str(n) for n in splitter.get_feature_names_out(data.roi_names)]
    data.target_splitter = splitter
    return data


class _LastSubjectsOut(LeaveOneGroupOut):
    """Leave-one-subject-out over the given test subjects only.

    Parameters
    ----------
    subjects : list of str
        The subjects left out in turn; the others are only ever trained on.
    """

    def __init__(self, subjects):
        self.subjects = subjects

    def split(self, X, y=None, groups=None):
        for train, test in super().split(X, y, groups):
            if str(np.asarray(groups)[test[0]]) in self.subjects:
                yield train, test

    def get_n_splits(self, X=None, y=None, groups=None):
        return sum(1 for _ in self.split(X, y, groups))


def paper_protocol(groups, protocol="paper", *, n_targets=None):
    """The cross-validation of the experiment over its last ``n_targets`` subjects.

    Parameters
    ----------
    groups : array-like of shape (n_windows,)
        Subject of each window.
    protocol : {"paper", "subject-cv"}, default="paper"
        ``paper``: :class:`~skeeg2bold.model_selection.PaperProtocolSplit`
        (the other subjects and the start of the target's recording train,
        its end tests); ``subject-cv``: leave-one-subject-out.
    n_targets : int, default=None
        Target subjects (folds), the last ones in sorted order; all if None.

    Returns
    -------
    cv : cross-validator
    """
    from ..model_selection import PaperProtocolSplit

    if protocol not in ("paper", "subject-cv"):
        raise ValueError(f"protocol must be 'paper' or 'subject-cv', got {protocol!r}.")
    subjects = list(np.unique(groups))
    n = len(subjects) if n_targets is None else min(n_targets, len(subjects))
    if len(subjects) < 2:
        raise ValueError("the experiment needs at least two subjects")
    targets = [str(s) for s in subjects[-n:]]
    if protocol == "paper":
        return PaperProtocolSplit(subjects=targets)
    return _LastSubjectsOut(subjects=targets)


@fill_doc
def add_unmixing_oracles(
    result, sources, data, cv, *, window=_WINDOW, sfreq=100.0, random_state=0, progress=False
):
    """Add the unmixing oracles: the log-envelope ridge on the true sources' windows.

    Parameters
    ----------
    result : ExperimentResult
        The experiment on the EEG windows ``data``; its scores, models and
        timings are extended in place.
    sources : dict of str to list of Recording
        Each oracle's name mapped to its source recordings
        (``load_dataset(...).sources``).
    data : Bunch
        The EEG windows and targets the result was computed on.
    cv : cross-validator
        The experiment's protocol.
    window, sfreq : float
        As for ``data``: the source windows must line up with its windows.
    random_state : int, default=0
    %(progress)s

    Returns
    -------
    result : ExperimentResult
    """
    import pandas as pd

    from .. import make_windows
    from ..baselines import make_ridge_baseline
    from ._run import run_experiment

    for name, recordings in sources.items():
        with warnings.catch_warnings():  # the same windows as the EEG's, already reported
            warnings.simplefilter("ignore")
            oracle_data = make_windows(recordings, window=window, sfreq=sfreq, dtype="float32")
        if not (
            np.allclose(oracle_data.X.times, data.X.times)
            and np.array_equal(oracle_data.groups, data.groups)
        ):
            raise RuntimeError("the source windows do not line up with the EEG windows")
        oracle_data.y, oracle_data.target_names = data.y, data.target_names
        oracle = run_experiment(
            {name: make_ridge_baseline(log=True)},
            oracle_data,
            cv=cv,
            random_state=random_state,
            progress=progress,
        )
        result.scores = pd.concat([result.scores, oracle.scores], ignore_index=True)
        result.info["models"].update(oracle.info["models"])
        result.info["fit_seconds_mean"].update(oracle.info["fit_seconds_mean"])
    return result


@fill_doc
def run_paper_experiment(
    data,
    preset="full",
    *,
    protocol="paper",
    dataset=None,
    window=_WINDOW,
    device="cpu",
    random_state=0,
    progress=False,
):
    """The paper's experiment on windows: every model of a preset, chance, ceiling, oracles.

    Parameters
    ----------
    data : Bunch
        Output of :func:`paper_windows`.
    preset : str or dict, default="full"
        A name of :data:`PRESETS` or a settings dict like them (``models``,
        ``epochs``, ``targets``, ``repeats``, ``chance_repeats``, ``sfreq``).
    protocol : {"paper", "subject-cv"}, default="paper"
        See :func:`paper_protocol`.
    dataset : Bunch, default=None
        Output of :func:`load_dataset` that ``data`` was cut from: with a
        simulation, the noise ceiling and the unmixing oracles are added.
    window : float, default=10.0
        The window length ``data`` was cut with, seconds.
    %(device)s
    random_state : int, default=0
        Seed of the models, the repeats and the chance surrogates.
    %(progress)s

    Returns
    -------
    result : ExperimentResult
        With the preset, the protocol, the seed and the cross-validator in
        ``info``.
    """
    from scipy.linalg import LinAlgWarning

    from ._run import run_experiment

    preset = _preset(preset)
    cv = paper_protocol(data.groups, protocol, n_targets=preset["targets"])
    models = paper_models(preset, device=device, random_state=random_state)
    simulation = None if dataset is None else dataset.simulation
    ceiling = None
    if simulation is not None:
        from ..datasets import ceiling_for

        ceiling = ceiling_for(simulation, data.target_splitter.transform)
    chance_models = paper_chance_models(models) if preset["chance_repeats"] > 0 else []
    with warnings.catch_warnings():
        # RidgeCV tries tiny penalties on purpose; the ill-conditioned ones
        # lose the selection, so their solver warnings are only noise here.
        warnings.simplefilter("ignore", LinAlgWarning)
        result = run_experiment(
            models,
            data,
            cv=cv,
            chance_models=chance_models,
            n_repeats=preset["repeats"],
            chance_repeats=max(preset["chance_repeats"], 1),
            ceiling=ceiling,
            random_state=random_state,
            progress=progress,
        )
        if dataset is not None and dataset.sources is not None:
            result = add_unmixing_oracles(
                result,
                dataset.sources,
                data,
                cv,
                window=window,
                sfreq=preset["sfreq"],
                random_state=random_state,
                progress=progress,
            )
    result.info.update(preset=preset, protocol=protocol, random_state=random_state)
    return result
