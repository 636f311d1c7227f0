"""OnlineTwin: EEG over Lab Streaming Layer in, predicted BOLD over LSL out."""

import threading
import time
import uuid
import warnings
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from .._signature import window_signature
from .._validation import check_names, check_positive
from .._windows import EEGWindows
from ._calibration import (
    CALIBRATION_HOP,
    calibrate_subject,
    calibration_windows,
    check_calibration,
    known_subjects,
)
from ._cleaning import StreamCleaner
from ._schedule import RESAMPLE_PAD, RateAdapter, WindowSchedule

__all__ = ["AmplitudeWarning", "OnlineTwin", "TwinStep"]

#: Subject label of streamed windows when none is given: no fitted model knows it.
_STREAM_SUBJECT = "online-stream"
#: Default prediction interval (s) when the model's TR is unknown.
DEFAULT_STEP = 0.5
#: Live amplitude, as a multiple of the training EEG's, outside which the twin warns.
AMPLITUDE_RATIO = 10.0


class AmplitudeWarning(UserWarning):
    """The live EEG's amplitude is far from the one the model was trained on.

    Most often the stream's units: an amplifier that streams microvolts
    without declaring them reads as a million times too large.
    """


@dataclass(frozen=True, eq=False)
class TwinStep:
    """One output row of an :class:`OnlineTwin`.

    Attributes
    ----------
    timestamp : float
        LSL time of the last EEG sample of the window (for ``"dropout"``
        rows: the LSL time the drop-out was detected). The row is pushed
        with this timestamp.
    prediction : ndarray of shape (n_targets,)
        Predicted BOLD; all NaN unless ``status == "ok"``.
    status : {"ok", "ood", "gap", "nonfinite", "dropout", "calibrating", "cleaning"}
        ``"ok"``: predicted. ``"ood"``: predicted, but the window's EEG is
        out of distribution (``ood_p`` below the score's ``alpha``): the
        prediction is given and is not to be trusted. ``"calibrating"``:
        the window went to the subject's calibration (no prediction yet).
        ``"cleaning"``: the carbon-wire loop regression has not yet fitted
        weights for the whole window (no prediction yet).
        ``"gap"``: the window spans a break in the EEG
        (samples missing or a reconnection) and was not predicted on.
        ``"nonfinite"``: the window holds NaN or infinite samples and was
        not predicted on. ``"dropout"``: no EEG arrived for
        ``stall_timeout`` seconds, or the stream was lost.
    latency : float
        Seconds from ``timestamp`` to the moment the row was pushed, on the
        LSL clock.
    window : ndarray of shape (n_channels, n_times) or None
        The window predicted on, in the model's channel order (given to the
        ``callback`` of :meth:`OnlineTwin.run`; ``None`` in
        :attr:`OnlineTwin.history_`).
    lower, upper : ndarray of shape (n_targets,) or None
        Bounds of the prediction interval of each target, when the model
        gives intervals (a :class:`~skeeg2bold.uncertainty.
        ConformalRegressor`); NaN when not predicted.
    ood_p : float
        p-value of the window's EEG under the out-of-distribution score
        (small: unlike the reference EEG); NaN without a score.
    """

    timestamp: float
    prediction: np.ndarray
    status: str
    latency: float
    window: np.ndarray
    lower: np.ndarray = None
    upper: np.ndarray = None
    ood_p: float = float("nan")


class OnlineTwin:
    """Run a fitted EEG-to-BOLD model on a live LSL EEG stream.

    Connects to an EEG stream with :class:`mne_lsl.stream.StreamLSL`, keeps
    its most recent window, predicts every ``step`` seconds and pushes each
    prediction to an LSL outlet: one channel per target, named by target,
    each row timestamped with the LSL time of the last EEG sample it used
    (so ``local_clock() - timestamp`` on the receiving side is the age of
    the prediction).

    The stream is checked against the fitted model: channels are picked and
    reordered by name (extra channels are ignored; a missing one is an
    error), and a stream at another rate is resampled to the model's rate
    when a polyphase ratio reaches it exactly (downsampling only).

    **Units.** The package keeps EEG in volts, as MNE does. Each channel's
    samples are multiplied by the unit the stream declares for it (the
    ``unit`` of its channel description, e.g. ``"microvolts"``, which
    mne-lsl reads as ``unit_mul``); a channel without one is taken to be in
    volts. When the model records the amplitude of its training EEG
    (``input_scale_`` of a network: the median channel standard deviation
    about each window's line, :func:`~skeeg2bold.nn.window_amplitude`), each
    window's amplitude is compared with it and an :class:`AmplitudeWarning`
    is issued (once per connection; every such window is counted in
    ``stats_["off_scale"]``) when it is more than 10 times larger or
    smaller: wrong or undeclared units, or a broken channel reference. The
    window is still predicted on.

    Every ``step`` gives one output row. When no prediction can be made,
    the row is all NaN and its status says why:

    - **gaps**: consecutive EEG samples further apart than ``max_gap``
      (samples lost, the source restarted) are a gap; windows that span it
      are not predicted on until a full window of EEG has arrived after it;
    - **drop-outs**: no EEG for ``stall_timeout`` seconds, or a lost
      connection, push one NaN row at once; the twin keeps waiting and
      reconnects (LSL itself recovers a source that comes back with the
      same ``source_id``);
    - **non-finite samples**: a window holding NaN or inf is skipped.

    Each event is counted in :attr:`stats_`. Predicted rows are exactly
    what ``model.predict`` gives on the same window offline.

    Parameters
    ----------
    model : fitted estimator or str or path-like
        Any fitted estimator of the package (network, baseline pipeline,
        ensemble, or a wrapper of one), or a model file written by
        :func:`skeeg2bold.persistence.save_model`, whose stored target names
        and TR are then used as defaults.
    name, source_id : str, default=None
        Identify the EEG stream (at least one of them).
    step : float, default=None
        Seconds between predictions; ``None`` is the TR stored with the
        model, else 0.5.
    target_names : list of str, default=None
        Output channel names; ``None`` takes those stored with the model,
        else ``"target0", "target1", ...``.
    ch_names : list of str, default=None
        The model's channel names, for a model fitted on plain arrays that
        does not know them. If neither knows them, the stream's channels are
        used in their order, with a warning.
    out_name : str, default=None
        Name of the output stream; ``None`` is ``"<EEG stream name>-BOLD"``.
    out_source_id : str, default=None
        Source id of the output stream; ``None`` makes a unique one.
    max_gap : float, default=0.1
        Largest interval (s) between consecutive EEG samples that is not a
        gap. Keep it above the timestamp jitter of the amplifier.
    stall_timeout : float, default=1.0
        Seconds without new EEG after which a drop-out is flagged.
    timeout : float, default=5.0
        Seconds to wait for the stream when connecting.
    processing_flags : tuple of str, default=("clocksync",)
        Passed to :meth:`mne_lsl.stream.StreamLSL.connect`; ``"clocksync"``
        maps the EEG timestamps to this machine's LSL clock, so the output
        timestamps are in it too.
    history : int, default=10000
        Number of recent :class:`TwinStep` rows kept in :attr:`history_`.
    subject : str, default=None
        Subject the streamed windows are labelled with (their ``groups``).
        Models with per-subject references (re-centring in
        :class:`~skeeg2bold.features.BandCovariances`,
        :class:`~skeeg2bold.features.SubjectAlignment`) use the reference
        learned for this subject in ``fit``; a subject they did not see is
        refused, since one window cannot make a reference. ``None``: a label
        no fitted model knows.
    calibration : float or mne.io.BaseRaw or path-like, default=None
        EEG-only calibration of a new ``subject`` for models with
        per-subject references (aligned and Riemannian pipelines): a
        recording (a Raw or a file :func:`mne.io.read_raw` opens), or the
        seconds of the stream itself to calibrate on before predictions
        start (rows meanwhile have status ``"calibrating"``). The model's
        reference steps learn the subject from windows every 0.25 s of it.
    ood : CovarianceOODScore or bool, default=None
        Out-of-distribution score of every predicted window, published as
        channel ``ood_p``. A fitted
        :class:`~skeeg2bold.uncertainty.CovarianceOODScore`; ``None``: one
        fitted on the calibration windows when ``calibration`` is given,
        else none; ``False``: none.
    cwl_regression : bool or CWLRegression, default=None
        Clean an in-scanner stream by causal carbon-wire loop regression
        (:class:`~skeeg2bold.preprocessing.OnlineCWLRegression`) before
        windowing: the stream must carry the loop channels (``CW1``,
        ``CW2``, ... or the ``cw_names`` of a given
        :class:`~skeeg2bold.preprocessing.CWLRegression`, whose window,
        delays and high-pass are used). Every sample is cleaned once, as it
        arrives, from the loops' present and past samples. Until the cleaner
        has fitted weights for a whole window (two half-windows of its
        ``window``, plus the model's window) rows are NaN with status
        ``"cleaning"``. ``None``: clean when the model file records that its
        training EEG was cleaned (``skeeg2bold fit --data cwl``) and the
        stream has loop channels (a stream without them is taken as cleaned
        already, with a warning); ``False``: never.

    Notes
    -----
    The outlet's channels are the targets, then ``<target>_lo`` and
    ``<target>_hi`` when the model gives prediction intervals, then
    ``ood_p`` when an out-of-distribution score is used.

    Attributes
    ----------
    signature_ : WindowSignature
        Channels, sampling rate and window length the model expects.
    target_names_ : list of str
    channel_names_ : list of str
        Channels of the outlet (see Notes).
    ood_ : CovarianceOODScore or None
    metadata_ : dict
        The model file's metadata (empty for an in-memory estimator).
    out_name_ : str
        Name of the output stream.
    step_ : float
    stream_ : mne_lsl.stream.StreamLSL
    outlet_ : mne_lsl.lsl.StreamOutlet
    stats_ : dict
        ``predictions``, ``gaps`` (breaks in the EEG found), ``dropouts``,
        ``skipped_gap`` and ``skipped_nonfinite`` (steps not predicted on),
        ``reconnects``, ``off_scale`` (windows predicted on whose amplitude
        is more than 10 times off the training EEG's), ``ood`` (predicted
        windows out of distribution), ``calibration_windows``, ``cleaning``
        (steps not predicted on while the loop regression warms up).
    cwl_regression_ : CWLRegression or None
        The loop regression applied to the stream, if any.
    unit_factors_ : ndarray of shape (n_channels,)
        What each of the model's channels is multiplied by to be in volts
        (``10 ** unit_mul`` of the stream's channel).
    training_amplitude_ : float or None
        Amplitude of the training EEG in volts: a network's ``input_scale_``,
        else the model file's ``"input_amplitude"`` metadata (written by
        ``skeeg2bold fit`` for every model kind); ``None`` when neither is
        known (then no amplitude check).
    history_ : collections.deque of TwinStep

    Examples
    --------
    >>> from skeeg2bold.online import OnlineTwin
    >>> twin = OnlineTwin(model, name="EEG")  # doctest: +SKIP
    >>> with twin:  # doctest: +SKIP
    ...     twin.run(duration=60, callback=lambda row: print(row.prediction))
    """

    def __init__(
        self,
        model,
        *,
        name=None,
        source_id=None,
        step=None,
        target_names=None,
        ch_names=None,
        out_name=None,
        out_source_id=None,
        max_gap=0.1,
        stall_timeout=1.0,
        timeout=5.0,
        processing_flags=("clocksync",),
        history=10000,
        subject=None,
        calibration=None,
        ood=None,
        cwl_regression=None,
    ):
        self.model = model
        self.name = name
        self.source_id = source_id
        self.step = step
        self.target_names = target_names
        self.ch_names = ch_names
        self.out_name = out_name
        self.out_source_id = out_source_id
        self.max_gap = max_gap
        self.stall_timeout = stall_timeout
        self.timeout = timeout
        self.processing_flags = processing_flags
        self.history = history
        self.subject = subject
        self.calibration = calibration
        self.ood = ood
        self.cwl_regression = cwl_regression
        self._thread = None
        self._stop = threading.Event()

    # -- connection ---------------------------------------------------------
    def connect(self):
        """Load the model, connect to the EEG stream, check it and open the outlet.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            The stream lacks a channel of the model, or its rate cannot be
            resampled to the model's.
        RuntimeError
            No stream (or more than one) matches ``name``/``source_id``.
        """
        from mne_lsl.lsl import StreamInfo, StreamOutlet

        if self.name is None and self.source_id is None:
            raise ValueError("give the EEG stream's name or source_id (or both).")
        self.estimator_, metadata = _load(self.model)
        self.metadata_ = metadata
        self.signature_ = window_signature(self.estimator_)
        step = self.step if self.step is not None else metadata.get("tr") or DEFAULT_STEP
        self.step_ = check_positive(step, "step")
        for arg in ("max_gap", "stall_timeout", "timeout"):
            check_positive(getattr(self, arg), arg)
        self._model_ch_names = self._check_model_ch_names()
        self.cwl_regression_ = self._check_cwl_regression(metadata)
        self.stats_ = {
            "predictions": 0,
            "gaps": 0,
            "dropouts": 0,
            "skipped_gap": 0,
            "skipped_nonfinite": 0,
            "reconnects": 0,
            "off_scale": 0,
            "ood": 0,
            "calibration_windows": 0,
            "cleaning": 0,
        }
        self.training_amplitude_ = _training_amplitude(self.estimator_) or metadata.get(
            "input_amplitude"
        )
        self._warned_amplitude = False
        self.history_ = deque(maxlen=self.history)
        self._prepare_calibration()
        self._open_stream()
        try:
            n_targets = self._warm_up()
            names = (
                self.target_names if self.target_names is not None else metadata.get("target_names")
            )
            if names is None:
                names = [f"target{i}" for i in range(n_targets)]
            self.target_names_ = check_names(names, n_targets, "target_names")
            self.channel_names_ = list(self.target_names_)
            if self._intervals:
                self.channel_names_ += [f"{n}_lo" for n in names] + [f"{n}_hi" for n in names]
            self._has_ood = self.ood_ is not None or bool(self._calibrating and self.ood is None)
            if self._has_ood:
                self.channel_names_.append("ood_p")
        except Exception:
            self.stream_.disconnect()
            self.stream_ = None
            raise
        self.out_name_ = self.out_name or f"{self.stream_.name}-BOLD"
        info = StreamInfo(
            self.out_name_,
            "BOLD",
            len(self.channel_names_),
            1.0 / self.step_,
            "float64",
            self.out_source_id or f"skeeg2bold-{uuid.uuid4().hex[:12]}",
        )
        info.set_channel_names(self.channel_names_)
        self.outlet_ = StreamOutlet(info, chunk_size=1)
        return self

    def _check_model_ch_names(self):
        sig = self.signature_
        if sig.ch_names is not None:
            if self.ch_names is not None and list(self.ch_names) != sig.ch_names:
                raise ValueError(
                    f"ch_names={list(self.ch_names)} differ from the channels the model "
                    f"was fitted on ({sig.ch_names}); leave ch_names=None."
                )
            return sig.ch_names
        if self.ch_names is not None:
            return check_names(self.ch_names, sig.n_channels, "ch_names")
        return None

    def _open_stream(self):
        from mne_lsl.stream import StreamLSL

        sig = self.signature_
        # Room for one window (plus resampling padding) and two steps of new samples.
        bufsize = sig.window + 2 * self.step_ + 2.0 + RESAMPLE_PAD / sig.sfreq
        stream = StreamLSL(bufsize, name=self.name, source_id=self.source_id)
        stream.connect(processing_flags=list(self.processing_flags) or None, timeout=self.timeout)
        try:
            self._picks = self._match_channels(stream.ch_names, stream.name)
            self._open_cleaner(stream)
            self._rate = RateAdapter(
                float(stream.info["sfreq"]), sig.sfreq, sig.n_times, stream.name
            )
            # Declared units (unit_mul: -6 for microvolts, 0 when none is declared).
            chs = stream.info["chs"]
            self.unit_factors_ = np.array([10.0 ** int(chs[i]["unit_mul"]) for i in self._picks])
        except ValueError:
            stream.disconnect()
            raise
        self.stream_ = stream
        self._last_resolve = time.monotonic()
        self._schedule = WindowSchedule(
            sfreq=float(stream.info["sfreq"]),
            n_window=self._rate.n_window,
            step=CALIBRATION_HOP if self._calibrating else self.step_,
            max_gap=self.max_gap,
            stall_timeout=self.stall_timeout,
            now=self._last_resolve,
        )

    def _check_cwl_regression(self, metadata):
        """The CWLRegression to apply, or None (``"auto"`` is settled on connecting)."""
        from ..preprocessing import CWLRegression

        option = self.cwl_regression
        if option is None:
            return CWLRegression(causal=True) if metadata.get("cwl_regression") else None
        if option is False:
            return None
        if option is True:
            return CWLRegression(causal=True)
        if isinstance(option, CWLRegression):
            return option
        raise TypeError(
            "cwl_regression must be None, True, False or a CWLRegression, got "
            f"{type(option).__name__}."
        )

    def _open_cleaner(self, stream):
        """Pick the stream's loop channels and start a fresh causal cleaner."""
        self._cleaner = None
        self._read_picks = self._picks
        cwl = self.cwl_regression_
        if cwl is None:
            return
        where = f"stream {stream.name!r}"
        try:
            names = cwl._loop_names(list(stream.ch_names), where)
        except ValueError:
            if self.cwl_regression is not None:  # asked for explicitly
                raise
            warnings.warn(
                f"the model was trained on EEG cleaned by carbon-wire loop regression, "
                f"but {where} has no loop channels (CW1, CW2, ...): its EEG is taken as "
                "cleaned already. Pass cwl_regression=False to silence this.",
                UserWarning,
                stacklevel=4,
            )
            return
        loops = np.array([list(stream.ch_names).index(n) for n in names])
        self._read_picks = np.concatenate([self._picks, loops])
        self._cleaner = StreamCleaner(
            cwl,
            float(stream.info["sfreq"]),
            n_channels=len(self._picks),
            n_loops=len(loops),
            n_keep=stream.n_buffer,
        )

    def _match_channels(self, stream_names, stream_name):
        sig = self.signature_
        wanted = self._model_ch_names
        if wanted is None:
            if len(stream_names) != sig.n_channels:
                raise ValueError(
                    f"stream {stream_name!r} has {len(stream_names)} channels but the model "
                    f"takes {sig.n_channels}, and the model does not know its channel "
                    "names to pick them; pass ch_names=."
                )
            warnings.warn(
                f"the model does not know its channel names; the {len(stream_names)} "
                f"channels of stream {stream_name!r} are used in the stream's order "
                "unchecked. Pass ch_names= to pick them by name.",
                UserWarning,
                stacklevel=3,
            )
            return np.arange(sig.n_channels)
        missing = [c for c in wanted if c not in stream_names]
        if missing:
            raise ValueError(
                f"stream {stream_name!r} lacks channel(s) {missing} that the model was "
                f"fitted on; it has {list(stream_names)}."
            )
        return np.array([stream_names.index(c) for c in wanted])

    def _prepare_calibration(self):
        """Check the subject against the model; calibrate on a recording, or plan to."""
        from ..uncertainty import CovarianceOODScore

        self._calibration_windows = []
        self._intervals = _gives_intervals(self.estimator_)
        self.ood_ = self.ood if isinstance(self.ood, CovarianceOODScore) else None
        self._calibrating = check_calibration(
            self.estimator_, self.subject, self.calibration, self.signature_
        )
        if self.calibration is not None and self._calibrating is None:
            self._finish_calibration(
                calibration_windows(
                    self.calibration,
                    sfreq=None,
                    ch_names=None,
                    signature=self.signature_,
                    subject=self.subject,
                    cwl_regression=self.cwl_regression_,
                )
            )
        self._check_ood_subject()

    def _finish_calibration(self, windows):
        from ..uncertainty import CovarianceOODScore

        calibrate_subject(self.estimator_, windows)
        if self.ood is None:
            score = CovarianceOODScore()
            if len(windows) * score.alpha > 1:
                self.ood_ = score.fit(windows)
            else:
                warnings.warn(
                    f"{len(windows)} calibration windows are too few for an "
                    f"out-of-distribution score at alpha={score.alpha:g} (it needs more than "
                    f"{1 / score.alpha:g}, a calibration of at least "
                    f"{self.signature_.window + CALIBRATION_HOP / score.alpha:g} s); ood_p "
                    "stays NaN.",
                    UserWarning,
                    stacklevel=2,
                )
        self._calibrating = None
        self._calibration_windows = []
        self.stats_["calibration_windows"] = len(windows)

    def _check_ood_subject(self):
        if self.ood_ is None:
            return
        references = sorted(self.ood_.references_)
        if len(references) == 1:
            self._ood_subject = references[0]
        elif str(self.subject) in references:
            self._ood_subject = str(self.subject)
        else:
            raise ValueError(
                f"the OOD score has no reference EEG for subject={self.subject!r} "
                f"(it has {references!r:.200})."
            )

    def _warm_up(self):
        """Predict twice on noise (first calls allocate); return the number of targets.

        A model with per-subject references is warmed up on windows of a
        subject it knows, so that no reference is made from noise.
        """
        from ..features._subject import MIN_REFERENCE_WINDOWS

        sig = self.signature_
        known = known_subjects(self.estimator_)
        n = 1 if known is None else MIN_REFERENCE_WINDOWS
        noise = np.random.default_rng(0).standard_normal((n, sig.n_channels, sig.n_times))
        noise *= self.training_amplitude_ or 1.0
        subject = sorted(known)[0] if known else None
        for _ in range(2):
            y = np.asarray(self.estimator_.predict(self._as_windows(noise, subject)))
        return int(y.reshape(n, -1).shape[1])

    def _as_windows(self, X, subject=None):
        """Windows named with the model's channels and rate, labelled with ``subject``.

        Models fitted on named windows refuse plain arrays, whose channel
        order they cannot check; the stream's channels were put in the
        model's order by name, so the names are known here.
        """
        sig = self.signature_
        if sig.ch_names is None:  # fitted on plain arrays: they stay plain
            return X
        if subject is None:
            subject = _STREAM_SUBJECT if self.subject is None else self.subject
        return EEGWindows.from_array(
            X, sfreq=sig.sfreq, ch_names=sig.ch_names, groups=np.full(len(X), subject, dtype=object)
        )

    def disconnect(self):
        """Stop, and close the EEG stream and the outlet."""
        self.stop()
        stream = getattr(self, "stream_", None)
        if stream is not None and stream.connected:
            stream.disconnect()
        self.stream_ = None
        self.outlet_ = None
        return self

    def __enter__(self):
        if getattr(self, "stream_", None) is None:
            self.connect()
        return self

    def __exit__(self, *exc):
        self.disconnect()

    # -- running ------------------------------------------------------------------
    def run(self, duration=None, *, callback=None, poll_interval=0.001):
        """Predict on the stream until ``duration`` seconds have passed or :meth:`stop`.

        Parameters
        ----------
        duration : float, default=None
            Seconds to run; ``None`` runs until :meth:`stop` is called (from a
            callback or another thread).
        callback : callable, default=None
            Called with each :class:`TwinStep` (with its ``window``) after the
            row is pushed.
        poll_interval : float, default=0.001
            Seconds between checks for new EEG.

        Returns
        -------
        self
        """
        if getattr(self, "stream_", None) is None:
            self.connect()
        duration = check_positive(duration, "duration", allow_none=True)
        end = None if duration is None else time.monotonic() + duration
        self._stop.clear()
        while not self._stop.is_set() and (end is None or time.monotonic() < end):
            if not self._poll(callback):
                time.sleep(poll_interval)
        return self

    def start(self, callback=None):
        """Run in a background thread; :meth:`stop` ends it."""
        if getattr(self, "stream_", None) is None:
            self.connect()
        self._thread = threading.Thread(
            target=self.run, kwargs={"callback": callback}, daemon=True, name="OnlineTwin"
        )
        self._thread.start()
        return self

    def stop(self):
        """End :meth:`run` (in this or the background thread)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
            self._thread = None
        return self

    # -- one polling round -------------------------------------------------------
    def _poll(self, callback):
        """Check the stream; fetch and predict when a step is due. True if work was done."""
        from mne_lsl.lsl import local_clock

        stream = self.stream_
        now = time.monotonic()
        if not stream.connected:  # mne-lsl dropped the inlet after an error
            self._flag_dropout(local_clock(), callback)
            self._reconnect(now)
            return False
        n_new = stream.n_new_samples
        action = self._schedule.poll(n_new, now)
        if action == "stall":
            self._flag_dropout(local_clock(), callback)
            self._reconnect(now)
            return False
        if action is None:
            return False
        self._read_and_step(n_new, callback)
        return True

    def _read_and_step(self, n_new, callback):
        from mne_lsl.lsl import local_clock

        schedule = self._schedule
        n_read = schedule.read_size(n_new, self.stream_.n_buffer)
        data, ts = self.stream_.get_data(winsize=n_read / schedule.sfreq, picks=self._read_picks)
        if self._cleaner is not None:
            data, ts = self._cleaner.clean(data, ts)
        flagged, n_breaks, due = schedule.feed(data, ts)
        self.stats_["gaps"] += n_breaks
        if flagged:
            self._emit(local_clock(), None, "gap", None, callback)
        if due is None:
            return
        if due.status != "ok":
            self.stats_[f"skipped_{due.status}"] += 1
            return self._emit(due.timestamp, None, due.status, None, callback)
        if self._cleaner is not None and not self._cleaner.ready(schedule.n_window):
            self.stats_["cleaning"] += 1
            return self._emit(due.timestamp, None, "cleaning", None, callback)
        window = np.asarray(due.window, dtype=np.float64) * self.unit_factors_[:, np.newaxis]
        window = self._rate(window)
        self._check_amplitude(window)
        if self._calibrating:
            return self._calibrate_on(window, due.timestamp, callback)
        X = self._as_windows(window[np.newaxis])
        lower = upper = None
        if self._intervals:
            y, lower, upper = self.estimator_.predict(X, return_interval=True)
            lower, upper = _row(lower), _row(upper)
        else:
            y = self.estimator_.predict(X)
        status, ood_p = "ok", float("nan")
        if self.ood_ is not None:
            ood_p = float(self.ood_.p_value(window[np.newaxis], [self._ood_subject])[0])
            if ood_p < self.ood_.alpha:
                status = "ood"
                self.stats_["ood"] += 1
        self.stats_["predictions"] += 1
        self._emit(due.timestamp, _row(y), status, window, callback, lower, upper, ood_p)

    def _calibrate_on(self, window, timestamp, callback):
        """Keep a calibration window; calibrate once ``calibration`` seconds are in."""
        if not self._calibration_windows:
            self._calibration_start = timestamp - self.signature_.window
        self._calibration_windows.append(window)
        if timestamp - self._calibration_start >= self._calibrating - 0.5 / self.signature_.sfreq:
            windows = self._as_windows(np.stack(self._calibration_windows))
            self._finish_calibration(windows)
            self._check_ood_subject()
            self._schedule.step = self.step_
            self._schedule.next_due = timestamp + self.step_
        self._emit(timestamp, None, "calibrating", None, callback)

    def _check_amplitude(self, window):
        """Count, and warn once about, a window far from the training amplitude."""
        if not self.training_amplitude_:
            return
        from ..nn import window_amplitude

        ratio = window_amplitude(window[np.newaxis]) / self.training_amplitude_
        if 1 / AMPLITUDE_RATIO <= ratio <= AMPLITUDE_RATIO:
            return
        self.stats_["off_scale"] += 1
        if self._warned_amplitude:
            return
        self._warned_amplitude = True
        declared = sorted({f"{f:g}" for f in self.unit_factors_})
        warnings.warn(
            f"the EEG of stream {self.stream_.name!r} is {ratio:.3g} times the amplitude "
            f"the model was trained on ({self.training_amplitude_:.3g} V, the median channel "
            f"standard deviation); its channels were read as {', '.join(declared)} V per "
            "unit (the units the stream declares, volts when it declares none). Check that "
            "the stream declares its units (e.g. 'microvolts'); the predictions are "
            "unreliable until then.",
            AmplitudeWarning,
            stacklevel=2,
        )

    def _flag_dropout(self, timestamp, callback):
        if not self._schedule.flag_dropout():
            return
        self.stats_["dropouts"] += 1
        self._emit(timestamp, None, "dropout", None, callback)

    def _reconnect(self, now):
        """Reopen the stream if its source came back as a new outlet.

        LSL's own recovery of a restarted source takes its watchdog's 15 s or
        more; looking for a new outlet with the same name and source id
        every ``stall_timeout`` (at most 1 s) reconnects sooner.
        """
        from mne_lsl.lsl import resolve_streams

        interval = min(self.stall_timeout, 1.0)
        if now - self._last_resolve < interval:
            return
        self._last_resolve = now
        stream = self.stream_
        current = stream.sinfo.uid if stream.connected else None
        found = resolve_streams(
            timeout=min(interval, 0.2), name=self.name, source_id=self.source_id
        )
        if not any(sinfo.uid != current for sinfo in found):
            return
        if stream.connected:
            stream.disconnect()
        try:
            self._open_stream()
        except RuntimeError:  # gone again, or ambiguous: try later
            return
        self._schedule.in_dropout = True  # its first samples start a contiguous stretch
        self.stats_["reconnects"] += 1

    def _emit(
        self, timestamp, y, status, window, callback, lower=None, upper=None, ood_p=float("nan")
    ):
        from mne_lsl.lsl import local_clock

        nan = np.full(len(self.target_names_), np.nan)
        y = nan if y is None else y
        values = [y]
        if self._intervals:
            lower = nan if lower is None else lower
            upper = nan if upper is None else upper
            values += [lower, upper]
        if self._has_ood:
            values.append([ood_p])
        sample = np.concatenate(values) if len(values) > 1 else y
        self.outlet_.push_sample(sample, timestamp=timestamp)
        row = TwinStep(
            float(timestamp), y, status, local_clock() - timestamp, window, lower, upper, ood_p
        )
        self.history_.append(replace(row, window=None))
        if callback is not None:
            callback(row)

    def __repr__(self):
        source = self.name if self.name is not None else f"source_id={self.source_id}"
        state = "connected" if getattr(self, "stream_", None) is not None else "not connected"
        return f"<OnlineTwin | {type(self.model).__name__} on {source!r}, {state}>"


def _training_amplitude(estimator):
    """``input_scale_`` of the step that sees the EEG (median over ensemble members)."""
    from .._signature import _first_eeg_step

    inner = _first_eeg_step(estimator)
    if isinstance(inner, list):
        scales = [_training_amplitude(member) for member in inner]
        return None if None in scales else float(np.median(scales))
    scale = getattr(inner, "input_scale_", None)
    return None if scale is None else float(scale)


def _load(model):
    """The estimator and its deployment metadata (empty for an in-memory estimator)."""
    import os

    if isinstance(model, (str, os.PathLike)):
        from ..persistence import load_model

        return load_model(model, return_metadata=True)
    return model, {}


def _row(y):
    return np.asarray(y, dtype=np.float64).reshape(-1)


def _gives_intervals(estimator):
    """Whether ``predict`` takes ``return_interval`` (a ConformalRegressor)."""
    import inspect

    try:
        return "return_interval" in inspect.signature(estimator.predict).parameters
    except (TypeError, ValueError):
        return False
