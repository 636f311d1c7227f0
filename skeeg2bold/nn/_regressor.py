"""EEG2BoldRegressor: the paper's network as a scikit-learn regressor (skorch)."""

import inspect

import numpy as np
import torch
from skorch import NeuralNetRegressor
from skorch.callbacks import EarlyStopping, GradientNormClipping
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch.utils.data import default_collate

from .._validation import (
    check_eeg_windows_array,
    check_finite,
    check_fitted_windows,
    check_option,
    check_positive,
    check_real_array,
)
from .._windows import EEGWindows
from ._band_cache import BandWindowDataset
from ._base import window_amplitude
from ._datasets import WindowDataset, assembles_batches, collate_batch
from ._eeg2bold import EEG2BoldNet
from ._loss import CorrelationCLIPLoss
from ._persistence import FittedStateMixin
from ._readout import (
    DEFAULT_READOUT_ALPHAS,
    calibrate_outputs,
    exposes_readout,
    readout_inputs,
    readout_outputs,
    solve_readout,
)
from ._valid_split import TimeBlockedValidSplit

__all__ = ["EEG2BoldRegressor"]

#: Windows used to estimate the input scale: enough for a stable median std.
_N_SCALE_WINDOWS = 256


class EEG2BoldRegressor(FittedStateMixin, NeuralNetRegressor):
    """Predict BOLD from EEG windows with a PyTorch network, the sklearn way.

    A skorch :class:`~skorch.NeuralNetRegressor` set up for this problem:

    - the network (``module``, a class: :class:`EEG2BoldNet` by default, or
      :class:`CompactNet`, or any module taking ``n_chans``, ``n_times``,
      ``n_outputs``, ``sfreq``) is built in :meth:`initialize_module` with the
      shapes of the data seen by ``fit``, stored in fitted attributes; public
      parameters are never changed, so ``clone`` and grid searches over
      ``module`` and ``module__*`` work; a module with a method
      ``initialize_from_data(X, y)`` is then given the training windows
      (scaled, float32 tensor; without the rows held out for validation)
      and standardised targets once, before the first epoch, whenever
      ``fit`` (or a first ``partial_fit``) builds it; not when training
      continues (``warm_start``, ``partial_fit`` on a fitted network);
    - the loss is :class:`CorrelationCLIPLoss` (``criterion__*``); in training
      the BOLD target of each window is handed to the network's BOLD encoder
      (if its ``forward`` takes ``bold``) for the CLIP term;
    - validation during training holds out the final block of every subject
      with a gap (:class:`TimeBlockedValidSplit`) and early stopping restores
      the weights of the best validation epoch;
    - inputs are scaled by one number (the median over channels of the
      standard deviation of the training windows about each window's
      least-squares line, :func:`~skeeg2bold.nn.window_amplitude`, so EEG in
      volts trains like EEG in µV while relative channel amplitudes are kept,
      and offsets and drifts, which the networks remove, do not count) and
      cast to float32 batch by batch;
    - after training, the network's final linear layer is re-solved in
      closed form (``refit_readout``): a ridge regression, its penalty chosen
      by 5-fold contiguous cross-validation, from the trained features to the
      targets on all the training windows; the solution is written into the
      layer, so the network alone still makes the predictions;
    - the correlation loss fixes neither scale nor offset, so after training
      each output is mapped to the units of ``y`` by least squares on the
      training windows (``output_coef_``, ``output_intercept_``). Re-solve
      and calibration take one pass over the training windows: the raw
      outputs follow from the readout features as ``features @ coef.T +
      intercept``.

    ``X`` is an :class:`~skeeg2bold.EEGWindows` (from
    :func:`~skeeg2bold.make_windows`) or an ndarray of shape
    ``(n_windows, n_channels, n_times)``; ``y`` is ``(n_windows,)`` or
    ``(n_windows, n_targets)`` and predictions have the same ndim.

    Parameters
    ----------
    module : type of torch.nn.Module, default=EEG2BoldNet
        The network class (not an instance). Its keyword arguments are set
        with ``module__<name>``.
    criterion : type, default=CorrelationCLIPLoss
    optimizer : type, default=torch.optim.AdamW
    lr : float, default=1e-3
    max_epochs : int, default=40
    batch_size : int, default=64
        Also the number of pairs the correlation and CLIP terms are computed
        over; keep it large enough for a stable correlation.
    train_split : callable or None, default=TimeBlockedValidSplit()
        ``None`` trains on everything, without early stopping.
    patience : int or None, default=3
        Epochs without improvement of the validation loss before stopping;
        the best epoch's weights are restored. ``None`` disables it. With
        the networks' defaults, which start from the classical features and
        have their readout re-solved after training, the validation loss
        peaks within a few epochs on a few minutes of data per subject, and
        waiting longer only costs time (``benchmarks/bench_nn.py``).
    gradient_clip : float or None, default=1.0
        Maximum gradient norm (attention layers train more stably with it).
    refit_readout : {"auto", True, False}, default="auto"
        Re-solve the final linear layer by cross-validated ridge regression
        once training ends. Gradient descent on a few minutes of data per
        subject leaves that layer noisy, and early stopping on a short
        validation block picks its epoch by chance; the closed-form solution
        removes both (measured in ``benchmarks/bench_nn.py``; numbers in
        ``benchmarks/RESULTS.md``). ``"auto"`` does it when the
        module exposes its readout (``readout_features`` and
        ``readout_layer``, as :class:`EEG2BoldNet` and :class:`CompactNet`
        do); ``True`` requires it.
    readout_alphas : array-like of float or None, default=None
        Penalties tried for the readout (on standardised features); ``None``
        is 15 values from 0.1 to 1e6.
    sfreq : float, default=None
        Sampling rate of ``X`` in Hz. Taken from ``X.sfreq`` for EEGWindows
        (must agree if both given); required for plain arrays.
    random_state : int or None, default=None
        Seeds torch's global generator at initialisation: weights, batch order
        and dropout, so two fits give identical numbers.
    device : str, default="cpu"
        ``"cuda"`` trains and predicts on the GPU.
    verbose : int, default=0
        1 prints a table per epoch (train/valid loss, duration).
    **kwargs
        Any other skorch parameter (``iterator_train__*``, ``callbacks``,
        ``optimizer__weight_decay``, ``warm_start``, ...).

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    n_chans_, n_times_, n_outputs_ : int
        Shapes seen in ``fit``.
    n_features_in_ : int
        Same as ``n_chans_``: scikit-learn's name for the input width.
    sfreq_ : float
    ch_names_ : list of str or None
        Channel names when ``X`` carried them. ``predict`` then puts named
        windows' channels in this order and refuses plain arrays, whose
        channel order it cannot check (see
        :meth:`~skeeg2bold.EEGWindows.from_array`).
    input_scale_ : float
        Inputs are divided by this before the network. Also the amplitude
        of the training EEG (in its units, volts for recordings read by the
        package) that :class:`~skeeg2bold.online.OnlineTwin` compares a live
        stream's with.
    output_coef_, output_intercept_ : ndarray of shape ``(n_outputs_,)``
        Affine map from network outputs to ``y`` units.
    readout_alpha_ : float or None
        Ridge penalty chosen for the re-solved readout (``None`` if not
        re-solved).
    history_ : skorch.History

    Examples
    --------
    >>> import numpy as np
    >>> from skeeg2bold.nn import EEG2BoldRegressor, CompactNet
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 4, 100))
    >>> y = np.log(X[:, 0] ** 2).mean(axis=1)
    >>> reg = EEG2BoldRegressor(CompactNet, sfreq=50.0, max_epochs=2,
    ...                         train_split=None, random_state=0)
    >>> reg.fit(X, y).predict(X).shape
    (60,)
    """

    def __init__(
        self,
        module=EEG2BoldNet,
        *,
        criterion=CorrelationCLIPLoss,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        max_epochs=40,
        batch_size=64,
        train_split=TimeBlockedValidSplit(),
        patience=3,
        gradient_clip=1.0,
        refit_readout="auto",
        readout_alphas=None,
        sfreq=None,
        random_state=None,
        device="cpu",
        verbose=0,
        **kwargs,
    ):
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **kwargs,
        )
        self.patience = patience
        self.gradient_clip = gradient_clip
        self.refit_readout = refit_readout
        self.readout_alphas = readout_alphas
        self.sfreq = sfreq
        self.random_state = random_state

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        if self.gradient_clip is not None:
            callbacks.append(("gradient_clip", GradientNormClipping(self.gradient_clip)))
        if self.patience is not None and self.train_split is not None:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(monitor="valid_loss", patience=self.patience, load_best=True),
                )
            )
        return callbacks

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.two_d_array = False
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    # -- checks: once per public call ---------------------------------------------
    def _check_X(self, X):
        """Return X (EEGWindows kept lazy, arrays as float32) after shape checks."""
        if hasattr(X, "iter_segments"):
            if X.ndim != 3 or len(X) == 0:
                raise ValueError(f"X must hold at least one window, got shape {X.shape}.")
            return X
        return check_eeg_windows_array(X, "X", dtype=(np.float32, np.float64))

    def _check_y(self, y, n_windows):
        """``y`` as float64 ``(n_windows, n_targets)``, with its original ndim."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = check_real_array(y, "y", dtype=np.float64)
        if y.ndim not in (1, 2):
            raise ValueError(
                f"y must be 1-D (n_windows,) or 2-D (n_windows, n_targets), got shape {y.shape}."
            )
        if y.shape[0] != n_windows:
            raise ValueError(f"y has {y.shape[0]} rows but X has {n_windows} windows.")
        if n_windows < 2:
            raise ValueError(
                f"X has {n_windows} sample (window); a correlation loss needs at least 2."
            )
        y2 = check_finite(y.reshape(n_windows, -1), "y")
        constant = np.flatnonzero(np.ptp(y2, axis=0) == 0)
        if constant.size:
            raise ValueError(
                f"y column(s) {constant.tolist()} are constant; a correlation loss "
                "cannot be trained on them."
            )
        return y2, y.ndim

    def _check_fitted_X(self, X):
        """X checked against the fitted windows (channels put in the fitted order)."""
        return check_fitted_windows(
            self._check_X(X),
            self,
            n_channels=self.n_chans_,
            n_times=self.n_times_,
            sfreq=self.sfreq_,
            ch_names=self.ch_names_,
            reorder=True,
        )

    def _check_training_data(self, X, y, fresh):
        """``(X, y2)`` checked once: for a network built for them (``fresh``, the
        fitted attributes are set from them) or against what it was fitted on."""
        X = self._check_X(X) if fresh else self._check_fitted_X(X)
        y2, y_ndim = self._check_y(y, len(X))
        if fresh:
            self._set_data_attributes(X, y2, y_ndim)
        elif y2.shape[1] != self.n_outputs_:
            # Training on fewer columns would recalibrate every output to them.
            raise ValueError(
                f"y has {y2.shape[1]} target(s) but {type(self).__name__} was fitted on "
                f"{self.n_outputs_}; partial_fit needs all of them, in the same order."
            )
        return X, y2

    def _infer_sfreq(self, X):
        x_sfreq = getattr(X, "sfreq", None)
        if self.sfreq is None and x_sfreq is None:
            raise ValueError(
                "sfreq is needed for a plain-array X: pass EEG2BoldRegressor(sfreq=...) "
                "or X from make_windows, which carries it."
            )
        if (
            self.sfreq is not None
            and x_sfreq is not None
            and not np.isclose(check_positive(self.sfreq, "sfreq"), x_sfreq)
        ):
            raise ValueError(
                f"sfreq={self.sfreq} disagrees with X.sfreq={x_sfreq}; resample the "
                "windows (make_windows(..., sfreq=...)) or drop the sfreq argument."
            )
        return float(x_sfreq if x_sfreq is not None else check_positive(self.sfreq, "sfreq"))

    def _set_data_attributes(self, X, y2, y_ndim):
        """Fitted shapes, input scale and target statistics, from checked X and y."""
        self.sfreq_ = self._infer_sfreq(X)
        _, self.n_chans_, self.n_times_ = X.shape
        self.n_features_in_ = self.n_chans_  # scikit-learn's name for the input width
        self.n_outputs_ = y2.shape[1]
        self.y_ndim_ = y_ndim
        self.ch_names_ = list(X.ch_names) if getattr(X, "ch_names", None) else None
        sample = np.linspace(0, len(X) - 1, min(len(X), _N_SCALE_WINDOWS)).astype(int)
        # Within-window amplitude: the offsets and drifts the networks remove do not count.
        self.input_scale_ = window_amplitude(X[sample]) or 1.0
        self.y_mean_, self.y_std_ = y2.mean(axis=0), y2.std(axis=0)
        self.readout_alpha_ = None

    def _standardise(self, y2):
        return (y2 - self.y_mean_) / np.where(self.y_std_ > 0, self.y_std_, 1.0)

    def get_dataset(self, X, y=None):
        if isinstance(X, torch.utils.data.Dataset):
            return X
        if y is not None:
            y = self._standardise(np.asarray(y, dtype=np.float64).reshape(len(X), -1))
        extractor = _fixed_band_extractor(getattr(self, "module_", None))
        if extractor is not None and isinstance(X, EEGWindows):
            # Fixed band-pass filters: each recording filtered once, cached.
            return BandWindowDataset(X, y, self.input_scale_, extractor)
        return WindowDataset(X, y, self.input_scale_)

    def get_iterator(self, dataset, training=False):
        """skorch's DataLoader; for this regressor's datasets, which assemble each
        batch in one go, without stacking its windows a second time."""
        iterator = super().get_iterator(dataset, training)
        if getattr(iterator, "collate_fn", None) is default_collate and assembles_batches(dataset):
            iterator.collate_fn = collate_batch
        return iterator

    # -- module --------------------------------------------------------------
    def initialize(self):
        if self.random_state is not None:
            torch.manual_seed(self.random_state)
        return super().initialize()

    def initialize_module(self):
        """Build ``module`` with the shapes seen in ``fit`` (user values win)."""
        kwargs = self.get_params_for("module")
        if hasattr(self, "n_chans_"):
            accepted = inspect.signature(self.module).parameters
            inferred = {
                "n_chans": self.n_chans_,
                "n_times": self.n_times_,
                "n_outputs": self.n_outputs_,
                "sfreq": self.sfreq_,
            }
            for name, value in inferred.items():
                if name in accepted:
                    kwargs.setdefault(name, value)
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def _initialize_from_data(self, X, y2, fit_params):
        """Let a freshly built module set itself up from the training data.

        A module with a method ``initialize_from_data(X, y)`` gets the
        training windows of this fit as the network sees them (float32
        tensor ``(n_windows, n_chans, n_times)``, divided by
        ``input_scale_``) and their standardised targets (float32 tensor
        ``(n_windows, n_outputs)``), on the CPU, once, before the first
        epoch. The rows ``train_split`` holds out for validation are left
        out: early stopping must judge epochs on targets the network has not
        seen, through its initialisation included. The module changes its
        parameters in place; the optimizer is rebuilt afterwards.
        """
        hook = getattr(self.module_, "initialize_from_data", None)
        if not callable(hook):
            return
        rows = self._training_rows(X, y2, fit_params)
        windows = np.asarray(X[rows], dtype=np.float32) / np.float32(self.input_scale_)
        targets = self._standardise(y2[rows])
        hook(torch.from_numpy(windows), torch.as_tensor(targets, dtype=torch.float32))
        self.initialize_optimizer()

    def _training_rows(self, X, y2, fit_params):
        """Rows of ``X`` the network trains on: all but those ``train_split`` holds out."""
        if not self.train_split:
            return np.arange(len(X))
        rows = self._split_rows(X, fit_params.get("groups"))
        if rows is not None:
            return np.asarray(rows[0])
        # Any other skorch splitter: the rows of the training Subset it returns.
        train, _ = self.get_split_datasets(X, y2, **fit_params)
        indices = getattr(train, "indices", None)
        if indices is None:
            raise ValueError(
                "train_split must return torch.utils.data.Subset datasets (or have a "
                "split_indices method) for a module with initialize_from_data: the "
                "training rows must be known to keep validation targets out of it."
            )
        return np.asarray(indices)

    def train_step_single(self, batch, **fit_params):
        """One training step; the batch's BOLD goes to the network's BOLD encoder."""
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        if "bold" in inspect.signature(self.module_.forward).parameters:
            fit_params = {**fit_params, "bold": to_tensor(yi, device=self.device)}
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    # -- public API ------------------------------------------------------------
    def fit(self, X, y, **fit_params):
        """Initialise the network for the shapes of ``X``/``y`` and train it.

        Parameters
        ----------
        X : EEGWindows or ndarray of shape (n_windows, n_channels, n_times)
        y : ndarray of shape (n_windows,) or (n_windows, n_targets)
        **fit_params
            Passed to ``train_split`` (e.g. ``groups`` for plain arrays) and to
            the module's ``forward``.

        Returns
        -------
        self
        """
        fresh = not self.warm_start or not self.initialized_
        return self._train(X, y, fresh=fresh, resolve_readout=True, routing="fit", **fit_params)

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train further (initialising on first call), then recalibrate the outputs.

        Unlike :meth:`fit`, it does not re-solve the readout
        (``refit_readout``): the few windows of an online update would be
        too few for the ridge, so the readout keeps training by gradient.
        """
        return self._train(
            X,
            y,
            fresh=not self.initialized_,
            resolve_readout=False,
            routing="partial_fit",
            **fit_params,
        )

    def _train(self, X, y, *, fresh, resolve_readout, routing, **fit_params):
        """Check X and y once; build the network if ``fresh``; train; post-train."""
        fresh = fresh or not hasattr(self, "n_chans_")
        X, y2 = self._check_training_data(X, y, fresh)
        if fresh:
            self.initialize()
            self._initialize_from_data(X, y2, fit_params)
        alphas = self._readout_alphas() if resolve_readout else None
        super().partial_fit(X, y2, _routing_method=routing, **fit_params)
        if resolve_readout:
            self.readout_alpha_ = None
        self._after_training(X, y2, alphas, fit_params.get("groups"))
        return self

    # -- after training: one pass over the training windows -----------------------
    def _readout_alphas(self):
        """Penalties of the readout re-solve, or None when the readout is not re-solved."""
        check_option(self.refit_readout, ("auto", True, False), "refit_readout")
        exposed = exposes_readout(self.module_)
        if self.refit_readout is True and not exposed:
            raise ValueError(
                f"refit_readout=True needs a module with readout_features() and "
                f"readout_layer; {type(self.module_).__name__} has none. Pass "
                "refit_readout=False or 'auto'."
            )
        if not self.refit_readout or not exposed:
            return None
        alphas = DEFAULT_READOUT_ALPHAS if self.readout_alphas is None else self.readout_alphas
        alphas = check_real_array(alphas, "readout_alphas", dtype=np.float64).ravel()
        if alphas.size == 0 or not np.all(np.isfinite(alphas) & (alphas > 0)):
            raise ValueError(
                f"readout_alphas must be positive finite numbers, got {self.readout_alphas!r}."
            )
        return alphas

    def _after_training(self, X, y2, alphas, groups):
        """Re-solve the readout (``alphas`` not None) and calibrate the outputs.

        With a re-solve, one pass gives the readout features (and the part
        of the network the readout adds to), and the raw outputs follow from
        them as ``features @ coef.T + intercept``; without, one forward pass.
        """
        if alphas is None:
            raw = self._raw_outputs(X)
        else:
            features, offset = self._readout_inputs(X)
            rows = None if offset is None else self._validation_rows(X, groups)
            coef, intercept, alpha, gain = solve_readout(
                features, self._standardise(y2), alphas, offset, rows
            )
            if gain is not None:
                self.module_.scale_offset(gain)
            self.module_.set_readout(coef, intercept)
            self.readout_alpha_ = alpha
            raw = readout_outputs(self.module_, features, offset, gain)
            if self.verbose:
                print(f"Readout re-solved by ridge (alpha={alpha:g}).")
        self.output_coef_, self.output_intercept_ = calibrate_outputs(raw, y2)

    def _readout_inputs(self, X):
        """Readout features and, if the module has one, the readout's offset."""
        return readout_inputs(self.module_, self._eval_batches(X))

    def _eval_batches(self, X):
        """Input tensors of all windows of X, batch by batch, on the device."""
        for batch in self.get_iterator(self.get_dataset(X), training=False):
            yield to_tensor(unpack_data(batch)[0], device=self.device)

    def _split_rows(self, X, groups=None):
        """``(train, valid)`` rows of ``train_split.split_indices``; None without it."""
        split = getattr(self.train_split, "split_indices", None)
        if split is None:
            return None
        return split(X) if groups is None else split(X, groups)

    def _validation_rows(self, X, groups=None):
        """Rows of ``X`` the training held out for validation (all rows if none)."""
        try:
            rows = self._split_rows(X, groups)
        except ValueError:
            rows = None
        if rows is not None and rows[1] is not None and len(rows[1]) > 2:
            return rows[1]
        return slice(None)

    def _raw_outputs(self, X):
        """Network outputs ``(n_windows, n_outputs_)`` float64, X already checked."""
        return super().predict_proba(X).reshape(len(X), -1).astype(np.float64)

    # -- prediction ----------------------------------------------------------------
    def predict_proba(self, X):
        """Raw network output (before the affine map to ``y`` units), X checked.

        skorch's ``predict`` calls this; checking here keeps mismatched windows
        from reaching the network as a bare torch error.
        """
        self.check_is_fitted()
        return self._raw_outputs(self._check_fitted_X(X))

    def predict(self, X):
        """Predict the BOLD of each window.

        Parameters
        ----------
        X : EEGWindows or ndarray of shape (n_windows, n_channels, n_times)

        Returns
        -------
        y_pred : ndarray of shape ``(n_windows,)`` or ``(n_windows, n_outputs_)``
            Same ndim as the ``y`` given to ``fit``.
        """
        y_pred = self.predict_proba(X) * self.output_coef_ + self.output_intercept_
        return y_pred.ravel() if self.y_ndim_ == 1 else y_pred


def _fixed_band_extractor(module):
    """The module's front end if its input can be band-passed beforehand, else None."""
    extractor = getattr(module, "feature_extractor", None)
    return extractor if getattr(extractor, "band_filters", None) is not None else None
