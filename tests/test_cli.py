import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from skeeg2bold.cli import CORTICAL_ORACLE, ORACLE, PRESETS, main


def test_run_writes_report_with_tables_and_figures(tmp_path, capsys):
    out = tmp_path / "report"
    code = main(
        [
            "run",
            "--quick",
            "--n-subjects",
            "3",
            "--targets",
            "2",
            "--models",
            "ridge",
            "hrf",
            "--chance-repeats",
            "2",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Left Thalamus" in printed and "common_mode" in printed and "ceiling" in printed
    scores = pd.read_csv(out / "scores.csv")
    # The unmixing oracles join on simulated data, on the same folds.
    assert set(scores.model) == {"ridge", "hrf", ORACLE, CORTICAL_ORACLE}
    assert scores.groupby("model").size().tolist() == [2 * 15] * 4  # 2 folds x 15 targets
    assert "unmixing oracle" in printed and "unmixing oracle (cortical)" in printed
    # Two oracles on different sources: all 14 and the 10 cortical ones.
    by_model = scores.set_index(["model", "fold", "target"]).r
    assert not np.allclose(by_model[ORACLE], by_model[CORTICAL_ORACLE])
    assert scores.r.between(-1, 1).all()
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert set(summary) >= {"Left Thalamus", "common_mode", "mean over targets"}
    assert "chance 95%" in summary["Left Thalamus"]
    assert 0 < summary["mean over targets"]["ceiling"] <= 1
    chance = pd.read_csv(out / "chance.csv")
    assert set(chance.model) == {"ridge"} and len(chance) == 2 * 15
    for name in ("fig3_roi_correlations.png", "bold_traces.png"):
        assert (out / name).stat().st_size > 10_000
    # The report says how it was made, in JSON's own types.
    info = json.loads((out / "results.json").read_text())["info"]
    assert info["provenance"]["command"].startswith("skeeg2bold run --quick --n-subjects 3")
    assert info["provenance"]["random_state"] == 0
    assert info["provenance"]["versions"]["numpy"] == np.__version__
    assert "np.str_" not in info["cv"] and "'sub-02', 'sub-03'" in info["cv"]
    assert isinstance(info["preset"]["models"], list)
    readme = (out / "README.md").read_text()
    assert "skeeg2bold run --quick" in readme and "(seed 0)" in readme
    assert "Test subjects: sub-02, sub-03; 2 fold(s) x 1 repeat(s)" in readme
    assert "`fig3_roi_correlations.png`" in readme and "fig4" not in readme


def test_run_deep_model_and_branch_figure(tmp_path):
    out = tmp_path / "deep"
    code = main(
        [
            "run",
            "--quick",
            "--n-subjects",
            "2",
            "--targets",
            "1",
            "--models",
            "compact",
            "aligned-compact",
            "aligned-logridge",
            "ensemble",
            "--epochs",
            "1",
            "--chance-repeats",
            "0",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    scores = pd.read_csv(out / "scores.csv")
    assert set(scores.model) == {
        "compact",
        "aligned-compact",
        "aligned-logridge",
        "ensemble",
        ORACLE,
        CORTICAL_ORACLE,
    }
    assert np.isfinite(scores.r).all()
    assert (out / "fig4_branch_patterns.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--data", "cwl"], "--data cwl needs --root"),
        (["run", "--data", "cwl", "--root", "/nonexistent/cwl"], "is not a folder"),
        (["run", "--epochs", "0"], "--epochs must be positive"),
        (["run", "--models", "transformer"], "invalid choice"),
    ],
)
def test_bad_options_exit_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_cwl_files_name_the_expected_path(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "run",
                "--data",
                "cwl",
                "--root",
                str(tmp_path),
                "--subjects",
                "trio1",
                "--no-progress",
            ]
        )
    assert exc.value.code == 2
    assert "trio1" in capsys.readouterr().err


def test_module_entry_point_help():
    proc = subprocess.run(
        [sys.executable, "-m", "skeeg2bold", "run", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--quick" in proc.stdout and "--protocol" in proc.stdout


def test_run_on_files_in_the_cwl_layout(tmp_path):
    from skeeg2bold.datasets import simulate_eeg_fmri
    from skeeg2bold.io import write_cwl

    sim = simulate_eeg_fmri(n_subjects=2, sfreq=250.0, random_state=1)
    write_cwl(sim, tmp_path / "cwl", n_missing_markers=3, random_state=0)
    out = tmp_path / "report"
    code = main(
        [
            "run",
            "--data",
            "cwl",
            "--root",
            str(tmp_path / "cwl"),
            "--subjects",
            "sub-01",
            "sub-02",
            "--no-cwl-regression",  # write_cwl writes flat loops for recordings without
            "--quick",
            "--targets",
            "1",
            "--models",
            "ridge",
            "--chance-repeats",
            "0",
            "--no-figures",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.subject.unique()) == ["sub-02"] and len(scores) == 15
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert "ceiling" not in summary["common_mode"]  # no ground truth for files
    assert summary["mean over targets"]["ridge mean"] > 0.05  # the planted signals are learnable


def test_every_model_of_the_full_report_has_its_own_colour():
    import matplotlib

    matplotlib.use("Agg")
    from types import SimpleNamespace

    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    from skeeg2bold.experiment import plot_roi_correlations

    models = [*PRESETS["full"]["models"], ORACLE, CORTICAL_ORACLE]
    targets = ["a", "b"]
    rows = [(m, t, f, 0.1 * k) for k, m in enumerate(models) for t in targets for f in (0, 1)]
    scores = pd.DataFrame(rows, columns=["model", "target", "fold", "r"])
    result = SimpleNamespace(target_names=targets, scores=scores, chance=None, ceiling=None)
    fig = plot_roi_correlations(result)
    try:
        ax = fig.axes[0]  # the mean over targets, one bar per model
        labels = [t.get_text() for t in ax.get_yticklabels()]
        colours = {
            label: mcolors.to_hex(bar.get_facecolor())
            for label, bar in zip(labels[::-1], ax.patches)
        }
    finally:
        plt.close(fig)
    assert sorted(colours) == sorted(models)
    assert len(set(colours.values())) == len(models)


def test_average_model_is_the_riemannian_baseline_and_aligned_compact():
    from sklearn.pipeline import Pipeline

    from skeeg2bold.ensemble import StandardizedAverageRegressor
    from skeeg2bold.experiment import paper_models
    from skeeg2bold.features import SubjectAlignment
    from skeeg2bold.nn import CompactNet

    preset = {**PRESETS["quick"], "models": ("average",)}
    (model,) = paper_models(preset, random_state=3).values()
    assert isinstance(model, StandardizedAverageRegressor)
    members = dict(model.estimators)
    assert list(members) == ["riemann", "aligned-compact"]
    aligned = members["aligned-compact"]
    assert isinstance(aligned, Pipeline) and isinstance(aligned.steps[0][1], SubjectAlignment)
    net = aligned.steps[-1][1]
    assert net.module is CompactNet and net.random_state == 3
    assert net.max_epochs == preset["epochs"]


def test_average4_is_the_riemannian_baseline_and_the_three_networks():
    from sklearn.pipeline import Pipeline

    from skeeg2bold.ensemble import StandardizedAverageRegressor
    from skeeg2bold.experiment import paper_model
    from skeeg2bold.nn import CompactNet, EEG2BoldNet

    model = paper_model("average4", epochs=7, random_state=2)
    assert isinstance(model, StandardizedAverageRegressor)
    members = dict(model.estimators)
    assert list(members) == ["riemann", "compact", "aligned-compact", "deep"]
    assert members["compact"].module is CompactNet
    assert members["deep"].module is EEG2BoldNet
    assert isinstance(members["aligned-compact"], Pipeline)
    for net in (members["compact"], members["deep"], members["aligned-compact"].steps[-1][1]):
        assert net.max_epochs == 7 and net.random_state == 2
    # A fresh model each call: the members are not shared between two averages.
    other = dict(paper_model("average4").estimators)
    assert all(other[k] is not members[k] for k in members)
