"""The online twin's schedule on synthetic timestamps (no LSL, no wall time)."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import resample_poly

from skeeg2bold._resampling import MAX_RATIO_DENOMINATOR, polyphase_ratio, resample
from skeeg2bold.online._schedule import RESAMPLE_PAD, RateAdapter, WindowSchedule

SFREQ = 100.0


class Source:
    """A stream buffer: samples at SFREQ from t=1 s, read by the newest ``n``."""

    def __init__(self, n_channels=2):
        self.ts = np.empty(0)
        self.data = np.empty((n_channels, 0))

    def push(self, n, *, start=None, value=None):
        t0 = (self.ts[-1] + 1 / SFREQ) if start is None and self.ts.size else (start or 1.0)
        ts = t0 + np.arange(n) / SFREQ
        data = np.random.default_rng(len(self.ts)).standard_normal((self.data.shape[0], n))
        if value is not None:
            data[:] = value
        self.ts = np.concatenate([self.ts, ts])
        self.data = np.concatenate([self.data, data], axis=1)

    def read(self, n):
        return self.data[:, -n:], self.ts[-n:]


def _run(schedule, source, n_new, now=0.0):
    """Poll with ``n_new`` waiting; read and feed when told."""
    action = schedule.poll(n_new, now)
    if action != "read":
        return action, None
    return action, schedule.feed(*source.read(schedule.read_size(n_new, 10_000)))


def _schedule(step=0.5, n_window=200):
    return WindowSchedule(
        sfreq=SFREQ, n_window=n_window, step=step, max_gap=0.1, stall_timeout=1.0, now=0.0
    )


def test_first_step_waits_for_a_full_window_then_keeps_the_cadence():
    schedule, source = _schedule(), Source()
    source.push(150)
    assert _run(schedule, source, 150) == (None, None)
    source.push(50)
    _, (flagged, n_breaks, due) = _run(schedule, source, 200)
    assert (flagged, n_breaks, due.status) == (False, 0, "ok")
    assert due.timestamp == pytest.approx(source.ts[-1])
    np.testing.assert_array_equal(due.window, source.data[:, -200:])
    # Next step due 0.5 s (50 samples) later: 49 new samples are not enough.
    source.push(49)
    assert _run(schedule, source, 49) == (None, None)
    source.push(1)
    _, (_, _, due) = _run(schedule, source, 50)
    assert due.status == "ok" and due.timestamp == pytest.approx(source.ts[-1])


def test_gap_is_flagged_once_and_windows_across_it_are_skipped():
    schedule, source = _schedule(), Source()
    source.push(200)
    _run(schedule, source, 200)
    source.push(50, start=source.ts[-1] + 0.3)  # 0.3 s of samples lost
    _, (flagged, n_breaks, due) = _run(schedule, source, 50)
    assert (flagged, n_breaks, due.status) == (True, 1, "gap")
    statuses = []
    for _ in range(2):  # 100 more samples: the window still reaches before the gap
        source.push(50)
        statuses.append(_run(schedule, source, 50)[1][2].status)
    source.push(50)  # now 200 contiguous samples since the gap
    statuses.append(_run(schedule, source, 50)[1][2].status)
    assert statuses == ["gap", "gap", "ok"]


def test_nonfinite_window_is_reported():
    schedule, source = _schedule(), Source()
    source.push(200, value=np.nan)
    _, (_, _, due) = _run(schedule, source, 200)
    assert due.status == "nonfinite" and due.window is None


def test_stall_then_dropout_row_once_and_resume_on_first_arrival():
    schedule, source = _schedule(), Source()
    source.push(200)
    _run(schedule, source, 200, now=0.0)
    assert schedule.poll(0, now=0.5) is None
    assert schedule.poll(0, now=1.001) == "stall"
    assert schedule.flag_dropout() is True
    assert schedule.flag_dropout() is False  # one NaN row per drop-out
    source.push(5, start=source.ts[-1] + 2.0)
    action, (flagged, n_breaks, due) = _run(schedule, source, 5, now=3.0)
    # The break is counted but has no row of its own: the drop-out had one.
    assert (action, flagged, n_breaks) == ("read", False, 1)
    assert due.status == "gap" and not schedule.in_dropout


def test_falling_behind_keeps_the_cadence_from_now():
    schedule, source = _schedule(), Source()
    source.push(200)
    _run(schedule, source, 200)
    source.push(180)  # 1.8 s late: one step, the next 0.5 s after the newest sample
    _, (_, _, due) = _run(schedule, source, 180)
    assert due.status == "ok"
    assert schedule.next_due == pytest.approx(source.ts[-1] + 0.5)


def test_unfilled_buffer_slots_are_ignored():
    schedule = _schedule()
    assert schedule.feed(np.zeros((2, 10)), np.zeros(10)) == (False, 0, None)


def test_rate_adapter_resamples_the_last_model_samples():
    adapter = RateAdapter(200.0, 100.0, 50, "EEG")
    assert adapter.ratio == Fraction(1, 2)
    assert adapter.n_window == 2 * (50 + RESAMPLE_PAD)
    x = np.random.default_rng(0).standard_normal((3, adapter.n_window))
    expected = resample_poly(x, 1, 2, axis=1, padtype="line")[:, -50:]
    np.testing.assert_array_equal(adapter(x), expected)
    same = RateAdapter(100.0, 100.0, 50, "EEG")
    assert same.ratio is None and same.n_window == 50 and same(x) is x


@pytest.mark.parametrize(
    ("stream_sfreq", "match"),
    [(0.0, "irregular"), (50.0, "above"), (100.0 * 1001 / 1000 * 3.3, "exactly")],
)
def test_rate_adapter_refuses(stream_sfreq, match):
    with pytest.raises(ValueError, match=match):
        RateAdapter(stream_sfreq, 100.0, 50, "EEG")


@settings(max_examples=50, deadline=None)
@given(
    p=st.integers(1, MAX_RATIO_DENOMINATOR),
    q=st.integers(1, MAX_RATIO_DENOMINATOR),
    base=st.sampled_from([1.0, 7.0, 250.0]),
)
def test_polyphase_ratio_reaches_every_downsampling_rate(p, q, base):
    if p > q:
        p, q = q, p
    sfreq, new = base * q, base * p
    ratio = polyphase_ratio(sfreq, new, "s1")
    if p == q:
        assert ratio is None
    else:
        assert sfreq * ratio == pytest.approx(new, rel=1e-12)
        x = np.ones((1, 4 * q))
        assert resample(x, ratio).shape[1] == -(-4 * q * ratio.numerator // ratio.denominator)
