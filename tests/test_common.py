"""scikit-learn's estimator checks over every public estimator of the package.

Three groups:

1. Estimators taking 2-D arrays (:class:`CommonModeSplitter`) run
   ``parametrize_with_checks`` as they are.
2. Estimators taking EEG windows ``(n_windows, n_channels, n_times)`` cannot
   take sklearn's 2-D check data as it is. They run the same checks through
   :func:`as_window_estimator`, a test-only subclass whose methods first turn
   each 2-D row into a window: channel ``c`` of window ``i`` is ``X[i, c]``
   times a fixed broadband carrier. That map is linear and row-wise, so
   everything the checks test (sample order and subset invariance, NaN/inf
   rejection, dtypes, pickling, idempotent fits, unchanged parameters) is
   exercised on the real estimator and its real 3-D input path.
3. Estimators whose input is neither (:class:`BOLDRoiTargets` reads 4-D
   images) run every check that needs no data: cloning, ``get_params`` /
   ``set_params``, repr, tags, nothing set in ``__init__``.

Checks that cannot apply are listed in ``EXPECTED_FAILURES`` with the reason.
They are strict xfails: a listed check that passes fails the run, so the list
holds only checks that fail, and every other check must pass.
"""

import functools
import warnings

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import (
    _get_check_estimator_ids,
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
    parametrize_with_checks,
)

from skeeg2bold.baselines import make_hrf_baseline, make_ridge_baseline, make_riemann_baseline
from skeeg2bold.ensemble import SeedEnsembleRegressor
from skeeg2bold.features import (
    BandCovariances,
    EnvelopeFeatureExtractor,
    HRFConvolution,
    SubjectAlignment,
    TangentSpaceFeatures,
)
from skeeg2bold.io import BOLDRoiTargets
from skeeg2bold.nn import CompactNet, EEG2BoldNet, EEG2BoldRegressor
from skeeg2bold.targets import CommonModeSplitter
from skeeg2bold.uncertainty import ConformalRegressor

SFREQ = 100.0
N_TIMES = 200  # 2 s windows at 100 Hz: long enough for every default band filter
# Broadband carrier: 1/f-like noise plus alpha and beta rhythms, fixed.
_CARRIER = (
    np.cumsum(np.random.default_rng(0).standard_normal(N_TIMES)) * 0.1
    + np.sin(2 * np.pi * 10.0 * np.arange(N_TIMES) / SFREQ)
    + 0.5 * np.sin(2 * np.pi * 21.0 * np.arange(N_TIMES) / SFREQ)
)


def rows_as_windows(X):
    """2-D check data -> windows ``X[:, :, None] * carrier``; anything else unchanged.

    Sparse or non-2-D input is passed through untouched, so the estimator's
    own validation answers the checks that feed such input.
    Object arrays are repeated along time without arithmetic, so that the
    estimator, not this adapter, meets the non-numbers some checks hide in them.
    """
    if hasattr(X, "toarray"):
        return X
    try:
        array = np.asarray(X)
    except (TypeError, ValueError):
        return X
    if array.ndim != 2:
        return X
    if array.dtype.kind == "O":
        return np.repeat(array[:, :, None], N_TIMES, axis=2)
    if array.dtype.kind not in "biufc":
        return X
    dtype = array.dtype if array.dtype.kind in "fc" else np.float64
    windows = array.astype(dtype)[:, :, None] * _CARRIER.astype(dtype)
    if not array.flags.writeable:
        windows.setflags(write=False)
    return windows


def as_window_estimator(cls):
    """A subclass of ``cls`` whose methods take sklearn's 2-D check data.

    Named ``Windowed<cls>`` and bound at module level so that pickle (which
    the checks use) finds it.
    """

    def wrap(method):
        @functools.wraps(method)
        def wrapped(self, X, *args, **kwargs):
            return method(self, rows_as_windows(X), *args, **kwargs)

        return wrapped

    def __sklearn_tags__(self):
        tags = cls.__sklearn_tags__(self)
        tags.input_tags.two_d_array = True  # what the adapter takes
        return tags

    name = f"Windowed{cls.__name__}"
    namespace = {
        method: wrap(getattr(cls, method))
        for method in (
            "fit",
            "fit_transform",
            "transform",
            "predict",
            "predict_proba",
            "score",
            "partial_fit",
        )
        if hasattr(cls, method)
    }
    namespace.update(
        __sklearn_tags__=__sklearn_tags__,
        __module__=__name__,
        __qualname__=name,
        __doc__=cls.__doc__,
        # sklearn reads the parameters from the signature of __init__.
        __init__=cls.__init__,
    )
    return type(name, (cls,), namespace)


WindowedEnvelopeFeatureExtractor = as_window_estimator(EnvelopeFeatureExtractor)
WindowedHRFConvolution = as_window_estimator(HRFConvolution)
WindowedBandCovariances = as_window_estimator(BandCovariances)
WindowedSubjectAlignment = as_window_estimator(SubjectAlignment)
WindowedEEG2BoldRegressor = as_window_estimator(EEG2BoldRegressor)

SMALL_NET = dict(
    sfreq=SFREQ,
    max_epochs=3,
    batch_size=16,
    train_split=None,
    random_state=0,
    lr=1e-2,
    # Predict one window at a time. In float32 a window's output depends on the
    # windows that share its batch (BLAS kernels round differently for other
    # batch shapes, up to ~2e-7), and the subset and sample-order checks compare
    # outputs at atol=1e-7: with batches of 16 they passed or failed depending
    # on the fitted weights. Alone in its batch, a window gets the same bits
    # whatever the other windows are.
    iterator_valid__batch_size=1,
)

TWO_D_ESTIMATORS = [
    CommonModeSplitter(),
    CommonModeSplitter(method="projection"),
    SeedEnsembleRegressor(Ridge(), n_members=2, random_state=0),
    ConformalRegressor(Ridge(), coverage=0.5, cv=KFold(3)),
]
WINDOW_ESTIMATORS = [
    WindowedEnvelopeFeatureExtractor(sfreq=SFREQ, out_sfreq=5.0, smoothing=0.4),
    WindowedEnvelopeFeatureExtractor(
        sfreq=SFREQ,
        layout="series",
        smoothing=None,
        bands={"alpha": (8.0, 13.0)},
        envelope="rectify",
    ),
    WindowedHRFConvolution(sfreq=SFREQ, time_length=1.0),
    WindowedBandCovariances(sfreq=SFREQ, n_bins=1),
    WindowedBandCovariances(sfreq=SFREQ, n_bins=2, recenter=False, estimator="lwf"),
    WindowedSubjectAlignment(),
    WindowedEEG2BoldRegressor(
        module=CompactNet, module__n_branches=2, module__n_lags=2, **SMALL_NET
    ),
    SeedEnsembleRegressor(
        WindowedEEG2BoldRegressor(
            module=CompactNet, module__n_branches=2, module__n_lags=2, **SMALL_NET
        ),
        n_members=2,
        random_state=0,
    ),
]

_WINDOW_CLASSES = (
    EnvelopeFeatureExtractor,
    HRFConvolution,
    EEG2BoldRegressor,
    BandCovariances,
    SubjectAlignment,
)
_SKORCH = "skorch's NeuralNet design, which EEG2BoldRegressor inherits: "

#: Checks that cannot apply: (estimator classes, check name) -> reason.
EXPECTED_FAILURES = {
    (
        (BandCovariances,),
        "check_estimators_dtypes",
    ): "the check's integer data make all-zero windows, whose covariance is zero in "
    "every band; BandCovariances refuses them ('singular covariance ... flat or "
    "all-zero EEG') rather than invent a geometry",
    (
        _WINDOW_CLASSES,
        "check_estimators_empty_data_messages",
    ): "the message sklearn looks for quotes a 2-D shape '(n, 0)'; windows without "
    "channels are rejected with 'X is empty: shape (n, 0, n_times)'",
    (
        _WINDOW_CLASSES,
        "check_fit2d_predict1d",
    ): "1-D X is rejected with 'X must be 3-D (n_windows, n_channels, n_times)' "
    "rather than sklearn's 2-D advice 'Reshape your data'",
    ((EEG2BoldRegressor,), "check_no_attributes_set_in_init"): _SKORCH
    + "__init__ sets history_, initialized_ and virtual_params_ and stores "
    "routed **kwargs (module__*, iterator_train__*) as attributes",
    ((EEG2BoldRegressor,), "check_set_params"): _SKORCH
    + "set_params re-initialises the parts a parameter belongs to and "
    "cannot build them from the -inf/inf/None values the check sets",
    ((EEG2BoldRegressor,), "check_regressors_no_decision_function"): _SKORCH
    + "every skorch regressor has predict_proba (the raw network output), "
    "which its predict calls",
    (
        (EEG2BoldRegressor,),
        "check_regressors_train",
    ): "the network reads band envelopes, which drop the sign of the adapter's row "
    "values, so sklearn's linear toy target cannot reach R^2 > 0.5; learning is "
    "tested on EEG in test_regressor.py",
}


#: Checks of an estimator's own API (constructor, parameters, methods), which a
#: SeedEnsembleRegressor passes whatever its members do.
_OWN_API_CHECKS = {
    "check_no_attributes_set_in_init",
    "check_set_params",
    "check_regressors_no_decision_function",
}


def expected_failures(estimator):
    if isinstance(estimator, SeedEnsembleRegressor):
        # The ensemble hands the data to its members untouched: it fails the
        # data checks its members fail, for their reasons.
        return {
            check: f"as its members: {reason}"
            for check, reason in expected_failures(estimator.estimator).items()
            if check not in _OWN_API_CHECKS
        }
    return {
        check: reason
        for (classes, check), reason in EXPECTED_FAILURES.items()
        if isinstance(estimator, classes)
    }


def _stable_ids(obj):
    """sklearn's test ids, except for ensembles of skorch nets, whose printed
    parameters include a set (skorch's ``_params_to_validate``) whose order
    changes between processes: pytest-xdist workers would disagree on ids."""
    if isinstance(obj, SeedEnsembleRegressor):
        return f"SeedEnsembleRegressor({type(obj.estimator).__name__})"
    return _get_check_estimator_ids(obj)


_SKLEARN_CHECKS = parametrize_with_checks(
    TWO_D_ESTIMATORS + WINDOW_ESTIMATORS,
    expected_failed_checks=expected_failures,
    xfail_strict=True,
)


@pytest.mark.parametrize(_SKLEARN_CHECKS.args[0], list(_SKLEARN_CHECKS.args[1]), ids=_stable_ids)
def test_sklearn_checks(estimator, check):
    with warnings.catch_warnings():
        # skorch warns that the module is re-initialised on every fit: intended.
        warnings.filterwarnings("ignore", message=".*re-initializ.*")
        check(estimator)


# -- every public estimator, including those with image or pipeline input ---
def _all_public_estimators():
    return [
        CommonModeSplitter(),
        EnvelopeFeatureExtractor(),
        HRFConvolution(),
        BandCovariances(),
        TangentSpaceFeatures(),
        SubjectAlignment(),
        BOLDRoiTargets(),
        EEG2BoldRegressor(),
        EEG2BoldRegressor(EEG2BoldNet, module__n_blocks=1, sfreq=SFREQ),
        SeedEnsembleRegressor(EEG2BoldRegressor(CompactNet), n_members=3),
        make_ridge_baseline(),
        make_hrf_baseline(),
        make_riemann_baseline(),
    ]


DATA_FREE_CHECKS = [
    check_estimator_cloneable,
    check_estimator_repr,
    check_no_attributes_set_in_init,
    check_get_params_invariance,
    check_set_params,
    check_parameters_default_constructible,
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_tags_renamed,
    check_valid_tag_types,
    check_mixin_order,
]


def _data_free_cases():
    for estimator in _all_public_estimators():
        for check in DATA_FREE_CHECKS:
            reason = expected_failures(estimator).get(check.__name__)
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            yield pytest.param(
                estimator, check, marks=marks, id=f"{type(estimator).__name__}-{check.__name__}"
            )


@pytest.mark.parametrize("estimator, check", list(_data_free_cases()))
def test_api_checks_that_need_no_data(estimator, check):
    check(type(estimator).__name__, estimator)


def _check_name(check):
    while isinstance(check, functools.partial):
        check = check.func
    return check.__name__


def test_every_expected_failure_is_a_check_that_runs():
    """No stale entry: each class of each entry runs the check it excuses."""
    cases = [getattr(case, "values", case) for case in _SKLEARN_CHECKS.args[1]]
    cases += [case.values for case in _data_free_cases()]
    ran = {(type(estimator), _check_name(check)) for estimator, check in cases}
    for (classes, check), reason in EXPECTED_FAILURES.items():
        for cls in classes:
            assert any(issubclass(run_cls, cls) and name == check for run_cls, name in ran), (
                f"{check} is expected to fail for {cls.__name__} ({reason}), but never runs on it"
            )
