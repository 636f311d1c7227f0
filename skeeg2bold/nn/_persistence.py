"""Saving and loading an EEG2BoldRegressor without pickle: weights plus fitted state."""

import json

import numpy as np
import torch
from skorch.history import History
from skorch.utils import open_file_like

__all__ = ["FITTED_ATTRIBUTES", "FittedStateMixin"]

#: Fitted attributes besides the weights: what ``save_params(f_fitted=...)`` writes.
FITTED_ATTRIBUTES = (
    "n_chans_",
    "n_times_",
    "n_outputs_",
    "n_features_in_",
    "sfreq_",
    "ch_names_",
    "y_ndim_",
    "input_scale_",
    "y_mean_",
    "y_std_",
    "output_coef_",
    "output_intercept_",
    "readout_alpha_",
)


class FittedStateMixin:
    """skorch's ``save_params``/``load_params`` extended with the fitted attributes.

    Pickling is skorch's own (``NeuralNet.__getstate__``); this adds a
    JSON file (``f_fitted``) for what is not a weight, so that a model can
    be shared as safetensors and JSON, which hold only numbers and text.
    """

    def save_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        use_safetensors=False,
        f_fitted=None,
        **kwargs,
    ):
        """Save weights (skorch's ``save_params``) and, with ``f_fitted``, the rest.

        Loading a pickle runs whatever code its author put in it, so never
        load a pickled model from a source you do not trust. Weights saved
        with ``use_safetensors=True`` and the JSON written to ``f_fitted``
        hold only numbers and text: share those instead, and rebuild the
        model with :meth:`load_params`.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history, use_safetensors, **kwargs
            As in :meth:`skorch.NeuralNet.save_params`.
        f_fitted : str, path or file-like, default=None
            JSON file for the fitted attributes that are not weights (shapes,
            ``sfreq_``, ``ch_names_``, input scale, output calibration) and
            torch's random-number state, so that training resumed from a
            :class:`~skorch.callbacks.Checkpoint` (``Checkpoint(...,
            f_fitted="fitted.json")`` with
            :class:`~skorch.callbacks.LoadInitState`) continues exactly as an
            uninterrupted run would.

        Examples
        --------
        >>> reg.save_params(f_params="weights.safetensors", f_fitted="fitted.json",
        ...                 use_safetensors=True)  # doctest: +SKIP
        >>> new = EEG2BoldRegressor(CompactNet, ...)  # same parameters  # doctest: +SKIP
        >>> new.load_params(f_params="weights.safetensors", f_fitted="fitted.json",
        ...                 use_safetensors=True)  # doctest: +SKIP
        """
        if f_fitted is not None:
            state = {
                name: np.asarray(getattr(self, name)).tolist()
                for name in FITTED_ATTRIBUTES
                if hasattr(self, name)
            }
            state["torch_rng_state"] = torch.get_rng_state().tolist()
            with open_file_like(f_fitted, "w") as f:
                json.dump(state, f)
        super().save_params(
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            use_safetensors=use_safetensors,
            **kwargs,
        )

    def load_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        checkpoint=None,
        use_safetensors=False,
        f_fitted=None,
        **kwargs,
    ):
        """Load what :meth:`save_params` wrote; ``f_fitted`` first, building the network.

        A new estimator with the same parameters as the saved one, given
        ``f_fitted`` and ``f_params``, predicts exactly as the saved one did.
        ``f_fitted`` without ``f_params`` (or a checkpoint) is refused: the
        network would keep its random initial weights. Weights saved from a
        network of other shapes (channels, window, outputs) are refused with
        the shapes of both.
        """
        if f_fitted is not None and f_params is None and checkpoint is None:
            raise ValueError(
                "load_params got f_fitted but no f_params: the network would keep "
                "random weights. Pass the weights file written by save_params too."
            )
        hidden = getattr(checkpoint, "f_fitted", None)
        if f_fitted is None and hidden is not None:
            # The checkpoint names its files after the history's last epoch,
            # so the history comes first (as skorch does for its own files).
            if f_history is None and checkpoint.f_history is not None:
                self.history = History.from_file(checkpoint.f_history_)
            f_fitted = checkpoint.get_formatted_files(self)["f_fitted"]
        if f_fitted is not None:
            self._load_fitted_state(f_fitted)
        if hidden is not None:
            # skorch would take f_fitted for a module's state; it is loaded above.
            checkpoint.f_fitted = None
        try:
            super().load_params(
                f_params=f_params,
                f_optimizer=f_optimizer,
                f_criterion=f_criterion,
                f_history=f_history,
                checkpoint=checkpoint,
                use_safetensors=use_safetensors,
                **kwargs,
            )
        except RuntimeError as err:
            if "size mismatch" not in str(err):
                raise
            raise self._shape_mismatch(err) from None
        finally:
            if hidden is not None:
                checkpoint.f_fitted = hidden

    def _load_fitted_state(self, f_fitted):
        with open_file_like(f_fitted, "r") as f:
            state = json.load(f)
        state = _check_fitted_state(state)
        rng_state = state.pop("torch_rng_state")
        for name, value in state.items():
            setattr(
                self,
                name,
                np.asarray(value, dtype=float)
                if isinstance(value, list) and name != "ch_names_"
                else value,
            )
        if not self.initialized_:
            self.initialize()  # builds the network with the loaded shapes
        torch.set_rng_state(torch.tensor(rng_state, dtype=torch.uint8))

    def _shape_mismatch(self, err):
        shapes = {
            name: getattr(self, name, None) for name in ("n_chans_", "n_times_", "n_outputs_")
        }
        detail = next(
            (
                line.strip()
                for line in str(err).splitlines()
                if "size mismatch" in line and ":" in line
            ),
            "",
        )
        return ValueError(
            f"The saved weights do not fit this {type(self.module_).__name__}, built "
            f"for {shapes}: they come from a network with other channels, window "
            f"length or outputs ({detail}). Load the f_fitted file saved with them, "
            "or give this model the same data shapes."
        )


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_numbers(value):
    """A number, or a (nested) list of numbers, as ``ndarray.tolist`` writes them."""
    if isinstance(value, list):
        return all(_is_numbers(v) for v in value)
    return _is_number(value)


def _check_fitted_state(state):
    """``state`` read from an ``f_fitted`` file, refused unless it holds only fitted
    attributes of the right kind: a file must not set other attributes of the model."""
    if not isinstance(state, dict):
        raise ValueError(f"f_fitted must hold a JSON object, got {type(state).__name__}.")
    unknown = sorted(set(state) - {*FITTED_ATTRIBUTES, "torch_rng_state"})
    if unknown:
        raise ValueError(
            f"f_fitted holds names that are not fitted attributes: {unknown}; "
            f"expected some of {list(FITTED_ATTRIBUTES)} and torch_rng_state."
        )
    rng = state.get("torch_rng_state")
    if not (isinstance(rng, list) and all(_is_number(v) and 0 <= v <= 255 for v in rng)):
        raise ValueError("f_fitted has no valid torch_rng_state (a list of bytes).")
    for name, value in state.items():
        if name == "ch_names_":
            ok = value is None or (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            )
        elif name in ("n_chans_", "n_times_", "n_outputs_", "n_features_in_", "y_ndim_"):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        else:
            ok = value is None or _is_numbers(value)
        if not ok:
            raise ValueError(f"f_fitted has an invalid {name}: {value!r}.")
    return state
