"""Evaluate several models under one protocol: the paper's experiment, reusable."""

import json
import time

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import check_random_state

from ..metrics import pearson_r
from ..model_selection import PaperProtocolSplit, chance_level

__all__ = ["ExperimentResult", "run_experiment"]


class ExperimentResult:
    """Scores of several models under one protocol, with chance and ceiling.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per model, fold (target subject), repeat and target, with
        column ``r``.
    chance : pandas.DataFrame or None
        Chance-level r per model, repeat and target.
    ceiling : pandas.Series or None
        Noise ceiling per target (simulated data only).
    traces : dict
        For the last fold: ``times``, ``y_true`` and ``y_pred[model]`` on the
        test windows, for predicted-vs-true plots.
    fitted : dict
        The models fitted on the last fold (first repeat), by name.
    target_names : list of str
    info : dict
        Settings and timings, written to ``results.json``.
    """

    def __init__(self, scores, chance, ceiling, traces, fitted, target_names, info):
        self.scores = scores
        self.chance = chance
        self.ceiling = ceiling
        self.traces = traces
        self.fitted = fitted
        self.target_names = list(target_names)
        self.info = info

    def summary(self):
        """Per-target table: mean and sd of r for each model, chance, ceiling."""
        stats = self.scores.groupby(["target", "model"], sort=False)["r"].agg(["mean", "std"])
        table = stats.unstack("model")
        table.columns = [f"{model} {stat}" for stat, model in table.columns]
        models = list(dict.fromkeys(self.scores["model"]))
        cols = [f"{m} {s}" for m in models for s in ("mean", "std")]
        table = table[cols]
        if self.chance is not None and len(self.chance):
            ch = self.chance.groupby("target", sort=False)["r"]
            table["chance mean"] = ch.mean()
            table["chance 95%"] = ch.quantile(0.95)
        if self.ceiling is not None:
            table["ceiling"] = self.ceiling
        table = table.reindex(self.target_names)
        table.loc["mean over targets"] = table.mean(numeric_only=True)
        return table

    def format_table(self):
        """The summary as aligned text: ``mean ± sd`` per model."""
        table = self.summary()
        models = list(dict.fromkeys(self.scores["model"]))
        out = pd.DataFrame(index=table.index)
        for m in models:
            sd = table[f"{m} std"].fillna(0.0)
            out[m] = [f"{a:+.3f} ± {b:.3f}" for a, b in zip(table[f"{m} mean"], sd)]
        for col in ("chance mean", "chance 95%", "ceiling"):
            if col in table:
                out[col] = [f"{v:+.3f}" for v in table[col]]
        return out.to_string()

    def save(self, folder):
        """Write ``scores.csv``, ``chance.csv``, ``summary.csv`` and ``results.json``.

        ``results.json`` holds JSON's own types only: numbers, text, lists
        and objects (NaN as null).
        """
        from pathlib import Path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.scores.to_csv(folder / "scores.csv", index=False)
        if self.chance is not None:
            self.chance.to_csv(folder / "chance.csv", index=False)
        summary = self.summary()
        summary.to_csv(folder / "summary.csv", index_label="target")
        payload = {
            "info": self.info,
            "targets": self.target_names,
            "summary": {
                t: {k: (None if pd.isna(v) else float(v)) for k, v in row.items()}
                for t, row in summary.iterrows()
            },
        }
        (folder / "results.json").write_text(json.dumps(_plain(payload), indent=2))
        return folder


def _plain(value):
    """``value`` in JSON's own types: numpy scalars and arrays, tuples, paths and
    other objects become numbers, lists and text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def run_experiment(
    models,
    data,
    *,
    cv=None,
    chance_models=(),
    n_repeats=1,
    chance_repeats=5,
    ceiling=None,
    random_state=0,
    progress=True,
):
    """Fit and score several models on windows under one cross-validation protocol.

    Parameters
    ----------
    models : dict of str to estimator
        Unfitted scikit-learn regressors taking windows (deep models,
        baseline pipelines, ...). Each is cloned for every fold and repeat.
    data : Bunch
        Output of :func:`~skeeg2bold.make_windows` (``X``, ``y``, ``groups``,
        ``roi_names``), possibly with ``y`` replaced by transformed targets
        and ``target_names`` set.
    cv : cross-validator, default=None
        :class:`~skeeg2bold.model_selection.PaperProtocolSplit` by default.
        With a splitter that has ``split_with_validation`` (the paper
        protocol), models with a ``train_split`` parameter (the deep ones),
        their own or a nested estimator's (a network in a
        :class:`~sklearn.pipeline.Pipeline` or an ensemble), are fitted on the
        training and validation parts with that validation part as their
        ``train_split``, for early stopping; the others are fitted on the
        training part alone.
    chance_models : iterable of str
        Names in ``models`` whose chance level is estimated with
        :func:`~skeeg2bold.model_selection.chance_level`.
    n_repeats : int, default=1
        Fits per fold with different seeds: every ``random_state`` parameter
        of a model, nested ones included, is set to the repeat's seed.
    chance_repeats : int, default=5
    ceiling : array-like of shape (n_targets,), default=None
        Noise ceiling per target, reported beside the scores.
    random_state : int, default=0
    progress : bool, default=True
        Show tqdm progress bars.

    Returns
    -------
    result : ExperimentResult
    """
    from tqdm.auto import tqdm

    if not models:
        raise ValueError("models is empty; give at least one estimator by name.")
    unknown = set(chance_models) - set(models)
    if unknown:
        raise ValueError(f"chance_models {sorted(unknown)} are not in models {sorted(models)}.")
    cv = PaperProtocolSplit() if cv is None else cv
    X, y, groups = data.X, np.asarray(data.y), np.asarray(data.groups)
    target_names = list(data.get("target_names", data.roi_names))
    rng = check_random_state(random_state)
    seeds = rng.randint(0, 2**31 - 1, size=n_repeats)

    if hasattr(cv, "split_with_validation"):
        splits = list(cv.split_with_validation(X, y, groups))
    else:
        splits = [(tr, None, te) for tr, te in cv.split(X, y, groups)]
    rows, traces, fitted, timings = [], {}, {}, {}
    jobs = [(f, name, r) for f in range(len(splits)) for name in models for r in range(n_repeats)]
    bar = tqdm(jobs, desc="fitting models", disable=not progress, unit="fit")
    for fold, name, repeat in bar:
        train, valid, test = splits[fold]
        bar.set_postfix_str(f"{name}, fold {fold + 1}/{len(splits)}")
        model = _configured(models[name], seeds[repeat])
        t0 = time.perf_counter()
        _fit(model, X, y, train, valid)
        timings.setdefault(name, []).append(time.perf_counter() - t0)
        pred = model.predict(X[test])
        subject = ",".join(map(str, np.unique(groups[test])))
        for target, r in zip(target_names, pearson_r(y[test], pred, constant="zero")):
            rows.append(
                dict(
                    model=name, fold=fold, subject=subject, repeat=repeat, target=target, r=float(r)
                )
            )
        if fold == len(splits) - 1 and repeat == 0:
            fitted[name] = model
            traces.setdefault("times", np.asarray(getattr(X[test], "times", np.arange(len(test)))))
            traces.setdefault("y_true", y[test])
            traces.setdefault("subject", subject)
            traces.setdefault("y_pred", {})[name] = np.asarray(pred).reshape(len(test), -1)
    bar.close()

    chance_rows = []
    for name in tqdm(list(chance_models), desc="chance level", disable=not progress, unit="model"):
        res = chance_level(
            _configured(models[name], seeds[0]),
            X,
            y,
            groups=groups,
            n_repeats=chance_repeats,
            random_state=int(seeds[0]),
        )
        for repeat, scores in enumerate(np.atleast_2d(res.scores)):
            for target, r in zip(target_names, scores):
                chance_rows.append(dict(model=name, repeat=repeat, target=target, r=float(r)))

    info = dict(
        n_windows=int(len(X)),
        n_subjects=int(len(np.unique(groups))),
        n_folds=len(splits),
        n_repeats=int(n_repeats),
        chance_repeats=int(chance_repeats),
        cv=repr(cv),
        models={k: _describe(v) for k, v in models.items()},
        fit_seconds_mean={k: float(np.mean(v)) for k, v in timings.items()},
    )
    return ExperimentResult(
        scores=pd.DataFrame(rows),
        chance=pd.DataFrame(chance_rows, columns=["model", "repeat", "target", "r"]),
        ceiling=None
        if ceiling is None
        else pd.Series(np.asarray(ceiling, float), index=target_names),
        traces=traces,
        fitted=fitted,
        target_names=target_names,
        info=info,
    )


def _nested_params(model, name):
    """Every parameter of ``model`` called ``name``, its own or a nested one's
    (``"eeg2boldregressor__train_split"`` of a pipeline, ``"estimator__random_state"``
    of an ensemble), as full ``set_params`` keys."""
    return [key for key in model.get_params(deep=True) if key.rsplit("__", 1)[-1] == name]


def _configured(estimator, seed):
    """A clone of ``estimator`` with every ``random_state``, nested ones included, at ``seed``."""
    model = clone(estimator)
    keys = _nested_params(model, "random_state")
    if keys:
        model.set_params(**dict.fromkeys(keys, int(seed)))
    return model


def _fit(model, X, y, train, valid):
    """Fit on ``train``; deep models, nested ones included, watch ``valid`` for
    early stopping (fitted on ``train`` and ``valid`` together)."""
    keys = _nested_params(model, "train_split") if valid is not None else []
    if keys:
        from ..nn import PredefinedValidSplit

        rows = np.concatenate([train, valid])
        split = PredefinedValidSplit(np.arange(train.size, rows.size))
        model.set_params(**dict.fromkeys(keys, split))
        return model.fit(X[rows], y[rows])
    return model.fit(X[train], y[train])


def _describe(estimator):
    """``"EEG2BoldRegressor(CompactNet)"``, or a pipeline's steps so described."""
    if isinstance(estimator, str):  # a pipeline's "passthrough"
        return estimator
    if hasattr(estimator, "steps"):
        return " → ".join(_describe(step) for _, step in estimator.steps)
    name = type(estimator).__name__
    module = estimator.get_params(deep=False).get("module")
    return f"{name}({getattr(module, '__name__', module)})" if module is not None else name
