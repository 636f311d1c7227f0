"""Average of one estimator trained with several random seeds."""

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from .._validation import check_int

__all__ = ["SeedEnsembleRegressor"]


class SeedEnsembleRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Train ``n_members`` copies of an estimator with different seeds; average them.

    A network trained on a few minutes of data per subject lands in a
    different solution for every seed (weight initialisation, batch order,
    dropout), so single fits differ in score with the seed alone.
    Averaging the members' predictions removes most of that variance
    (deep ensembles, Lakshminarayanan et al. 2017) at ``n_members`` times
    the training and inference cost. Measured scores and fit times are in
    ``benchmarks/RESULTS.md``.

    Every member is a :func:`~sklearn.base.clone` of ``estimator`` with its
    ``random_state`` set to a seed drawn from ``random_state``, fitted on the
    same data in the same order, so time-aware validation splits inside the
    members keep working.

    Parameters
    ----------
    estimator : estimator object
        Any regressor with a ``random_state`` parameter, e.g.
        :class:`~skeeg2bold.nn.EEG2BoldRegressor` or a pipeline whose
        ``random_state`` is reachable as a parameter (give its full name
        in ``seed_param``).
    n_members : int, default=5
        Number of seeds.
    seed_param : str, default="random_state"
        Parameter of ``estimator`` that receives each member's seed, e.g.
        ``"eeg2boldregressor__random_state"`` for a pipeline.
    random_state : int or None, default=None
        Draws the members' seeds: the same value gives the same members.
    n_jobs : int or None, default=None
        Members fitted in parallel (joblib). The default process-based
        backend pins each worker's torch and BLAS threads to its share of
        the cores; do not fit torch members in threads, whose shared random
        generator breaks reproducibility (see :mod:`skeeg2bold.utils`).
        Parallel and serial fits of torch members agree to float32 rounding
        (about 1e-6: the workers run fewer threads each, which changes the
        order of the sums).

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members.
    seeds_ : ndarray of shape (n_members,)
        The seed each member was given.
    n_features_in_ : int
        Taken from the first member when it has it.

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold.ensemble import SeedEnsembleRegressor
    >>> from skeeg2bold.nn import CompactNet, EEG2BoldRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 4, 100))
    >>> y = np.log(X[:, 0] ** 2).mean(axis=1)
    >>> net = EEG2BoldRegressor(CompactNet, sfreq=50.0, max_epochs=2, train_split=None)
    >>> ensemble = SeedEnsembleRegressor(net, n_members=3, random_state=0).fit(X, y)
    >>> ensemble.predict(X).shape
    (60,)
    """

    def __init__(
        self, estimator, n_members=5, *, seed_param="random_state", random_state=None, n_jobs=None
    ):
        self.estimator = estimator
        self.n_members = n_members
        self.seed_param = seed_param
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y, **fit_params):
        """Fit every member on ``X``, ``y`` (``fit_params`` go to each member's ``fit``).

        Returns
        -------
        self
        """
        n = check_int(self.n_members, "n_members", min_value=1)
        if self.seed_param not in self.estimator.get_params():
            raise ValueError(
                f"estimator {type(self.estimator).__name__} has no parameter "
                f"{self.seed_param!r} to seed the members; name it with seed_param="
            )
        rs = check_int(self.random_state, "random_state", allow_none=True)
        # Members' seeds: independent streams of one SeedSequence, so adding
        # members keeps the first ones' seeds.
        self.seeds_ = np.array(
            [
                int(child.generate_state(1)[0] >> 1)
                for child in np.random.SeedSequence(rs).spawn(int(n))
            ]
        )
        members = [
            clone(self.estimator).set_params(**{self.seed_param: int(seed)}) for seed in self.seeds_
        ]
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(member, X, y, fit_params) for member in members
        )
        if hasattr(self.estimators_[0], "n_features_in_"):
            self.n_features_in_ = self.estimators_[0].n_features_in_
        return self

    def predict(self, X):
        """Mean of the members' predictions.

        Returns
        -------
        y_pred : ndarray
            Shaped as each member's prediction.
        """
        check_is_fitted(self, "estimators_")
        return np.mean([member.predict(X) for member in self.estimators_], axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.input_tags = inner.input_tags
        tags.target_tags.multi_output = inner.target_tags.multi_output
        tags.target_tags.single_output = inner.target_tags.single_output
        tags.non_deterministic = inner.non_deterministic
        return tags


def _fit_member(member, X, y, fit_params):
    return member.fit(X, y, **fit_params)
