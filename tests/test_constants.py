"""Each shared constant has one definition, re-exported where it is public."""

import ast
from pathlib import Path

import skeeg2bold
from skeeg2bold import _constants

PACKAGE = Path(skeeg2bold.__file__).parent


def test_public_names_are_the_shared_constants():
    from skeeg2bold.baselines._factories import DEFAULT_ALPHAS
    from skeeg2bold.datasets import BAND_NAMES, ROI_NAMES
    from skeeg2bold.features import DEFAULT_BANDS
    from skeeg2bold.io import CWL_SUBJECTS, SUBCORTICAL_ROIS
    from skeeg2bold.model_selection._split import HEMODYNAMIC_MEMORY

    assert SUBCORTICAL_ROIS is _constants.SUBCORTICAL_ROIS
    assert ROI_NAMES is _constants.SUBCORTICAL_ROIS
    assert DEFAULT_BANDS is _constants.DEFAULT_BANDS
    assert BAND_NAMES is _constants.BAND_NAMES
    assert CWL_SUBJECTS is _constants.CWL_SUBJECTS
    assert DEFAULT_ALPHAS is _constants.RIDGE_ALPHAS
    assert HEMODYNAMIC_MEMORY is _constants.HEMODYNAMIC_MEMORY


def test_bands_tile_the_edges():
    bands = list(_constants.DEFAULT_BANDS.values())
    assert (bands[0][0], *(hi for _, hi in bands)) == _constants.BAND_EDGES
    assert all(a[1] == b[0] for a, b in zip(bands, bands[1:]))
    assert _constants.BAND_NAMES == ("delta", "theta", "alpha", "beta", "gamma")


def test_readout_alphas_span_the_baseline_range():
    from skeeg2bold.nn._regressor import DEFAULT_READOUT_ALPHAS

    assert DEFAULT_READOUT_ALPHAS is _constants.READOUT_ALPHAS
    assert set(_constants.RIDGE_ALPHAS) <= {round(a, 6) for a in _constants.READOUT_ALPHAS}


def _string_literals(path):
    tree = ast.parse(path.read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_no_module_spells_the_constants_again():
    # A second definition would spell a ROI, a CWL subject or a band name again.
    spelled = {"Accumbens", "Hippocampus", "verio5", "trio1", "delta", "gamma"}
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_constants.py":
            continue
        found = spelled & _string_literals(path)
        if found:
            offenders[str(path.relative_to(PACKAGE))] = sorted(found)
    # The simulators' coupling tables are keyed by ROI and band names (data, not
    # definitions); the CWL reader's examples name a subject.
    allowed = {"datasets/_simulate.py", "datasets/_bursts.py", "datasets/_head.py", "io/_cwl.py"}
    assert set(offenders) <= allowed, offenders
