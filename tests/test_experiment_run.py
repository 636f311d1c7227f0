"""``run_experiment``: what each model is given, nested models included."""

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.utils import Bunch, check_random_state
from skorch.callbacks import Callback

from skeeg2bold.experiment import run_experiment
from skeeg2bold.experiment._run import _describe
from skeeg2bold.features import SubjectAlignment
from skeeg2bold.model_selection import PaperProtocolSplit
from skeeg2bold.nn import CompactNet, EEG2BoldRegressor

SEED = 7
#: One target subject (the second of ``small_sim``): 20 s of training, 12 s of
#: validation and 20 s of test windows of 4 s, with the other subject's
#: windows in training too.
PROTOCOL = PaperProtocolSplit(train=20.0, valid=12.0, test=20.0, subjects=["sub-02"])


class RecordValidation(Callback):
    """Keeps ``(subject, end time)`` of the windows skorch validates on, per epoch."""

    def initialize(self):
        self.windows_ = []
        return self

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        X, rows = dataset_valid.dataset.X, np.asarray(dataset_valid.indices)
        self.windows_.append(sorted(zip(X.groups[rows].tolist(), X.times[rows].tolist())))


def _network(aligned):
    net = EEG2BoldRegressor(
        CompactNet, max_epochs=2, batch_size=16, callbacks=[("record", RecordValidation())]
    )
    return make_pipeline(SubjectAlignment(), net) if aligned else net


@pytest.fixture(scope="module")
def data(small_sim_windows):
    X, y = small_sim_windows
    return Bunch(X=X, y=y, groups=X.groups, roi_names=["a", "b", "c"])


@pytest.mark.parametrize("aligned", [False, True], ids=["plain", "pipeline"])
def test_network_validates_on_the_protocols_block_and_gets_the_seed(data, aligned):
    result = run_experiment(
        {"net": _network(aligned)}, data, cv=PROTOCOL, random_state=SEED, progress=False
    )
    fitted = result.fitted["net"]
    net = fitted[-1] if aligned else fitted
    (_, valid, test), *_ = PROTOCOL.split_with_validation(data.X, data.y, data.groups)
    block = sorted(zip(data.groups[valid].tolist(), data.X.times[valid].tolist()))
    assert len(block) >= 4 and {g for g, _ in block} == {"sub-02"}
    # Every epoch validated on the protocol's validation block, no other window.
    recorded = dict(net.callbacks_)["record"].windows_
    assert len(recorded) == 2 and all(epoch == block for epoch in recorded)
    assert all(np.isfinite(row["valid_loss"]) for row in net.history)
    # The repeat's seed reached the network.
    assert net.random_state == check_random_state(SEED).randint(0, 2**31 - 1, size=1)[0]
    assert len(result.scores) == 3 and np.isfinite(result.scores.r).all()


def test_same_random_state_same_scores_for_a_network_in_a_pipeline(data):
    def scores(random_state):
        model = make_pipeline(
            SubjectAlignment(), EEG2BoldRegressor(CompactNet, max_epochs=1, batch_size=16)
        )
        res = run_experiment(
            {"aligned": model}, data, cv=PROTOCOL, random_state=random_state, progress=False
        )
        return res.scores.r.to_numpy()

    first = scores(3)
    np.testing.assert_array_equal(first, scores(3))
    assert not np.array_equal(first, scores(4))


def test_describe_names_the_network_inside_a_pipeline():
    model = make_pipeline(SubjectAlignment(), EEG2BoldRegressor(CompactNet))
    assert _describe(model) == "SubjectAlignment → EEG2BoldRegressor(CompactNet)"


def test_fig3_shows_the_mean_over_targets_paired_differences_and_who_was_tested():
    import matplotlib

    matplotlib.use("Agg")
    from types import SimpleNamespace

    import matplotlib.pyplot as plt

    from skeeg2bold.experiment import plot_roi_correlations

    # Two folds (subjects s1, s2), two repeats, three targets.
    rows = []
    for model, offset in (("net", 0.3), ("logridge", 0.1)):
        for fold, subject in enumerate(("s1", "s2")):
            for repeat in (0, 1):
                for k, target in enumerate("abc"):
                    r = offset + 0.1 * k + 0.2 * fold + 0.01 * repeat * (model == "net")
                    rows.append((model, fold, subject, repeat, target, r))
    scores = pd.DataFrame(rows, columns=["model", "fold", "subject", "repeat", "target", "r"])
    result = SimpleNamespace(target_names=list("abc"), scores=scores, chance=None, ceiling=None)
    fig = plot_roi_correlations(result)
    try:
        ax_mean, ax_diff, ax_map = fig.axes[:3]
        # mean over targets per fold (net: 0.405, 0.605; logridge: 0.2, 0.4)
        np.testing.assert_allclose([b.get_width() for b in ax_mean.patches], [0.505, 0.3])
        np.testing.assert_allclose([b.get_width() for b in ax_diff.patches], [0.205, 0.0])
        # SE over the two folds of the paired difference: both 0.205, so 0
        np.testing.assert_allclose(_xerr(ax_diff), [0.0, 0.0], atol=1e-12)
        np.testing.assert_allclose(_xerr(ax_mean), [0.1, 0.1])  # sd 0.1414 / sqrt(2)
        assert "logridge" in ax_diff.get_title(loc="left")
        heat = ax_map.images[0].get_array()
        np.testing.assert_allclose(heat[:, 1], [0.2, 0.3, 0.4])  # logridge per target
        title = fig._suptitle.get_text()
        assert "s1, s2" in title and "2 folds x 2 repeats" in title
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="baseline 'ridge' is not among"):
        plot_roi_correlations(result, baseline="ridge")


def _xerr(ax):
    """Half-lengths of the horizontal error bars of ``ax``, in drawing order."""
    from matplotlib.container import ErrorbarContainer

    (bars,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    return [(seg[1, 0] - seg[0, 0]) / 2 for seg in bars.lines[2][0].get_segments()]


def test_results_json_holds_plain_types(tmp_path):
    import json

    from skeeg2bold.experiment._run import ExperimentResult

    scores = pd.DataFrame(
        dict(
            model=["m", "m"],
            fold=[0, 0],
            subject=["s", "s"],
            repeat=[0, 0],
            target=["a", "b"],
            r=[0.1, 0.2],
        )
    )
    info = dict(n=np.int64(3), x=np.float32(0.5), names=(np.str_("s1"),), bad=float("nan"))
    result = ExperimentResult(scores, None, None, {}, {}, ["a", "b"], info)
    saved = json.loads((result.save(tmp_path) / "results.json").read_text())["info"]
    assert saved == dict(n=3, x=0.5, names=["s1"], bad=None)
