"""Real recordings in: BOLD ROI targets, the CWL and BIDS readers, a CWL-layout writer."""

from ._atlas import (
    SUBCORTICAL_ROIS,
    fetch_subcortical_atlas,
    make_toy_atlas,
    mni_grid,
    restrict_atlas,
)
from ._bids import read_bids
from ._bold_roi import BOLDRoiTargets, load_confounds, t_r_from_header
from ._cwl import CWL_SUBJECTS, cwl_paths, read_cwl
from ._run import VolumeMarkerWarning
from ._write import write_cwl

__all__ = [
    "BOLDRoiTargets",
    "CWL_SUBJECTS",
    "SUBCORTICAL_ROIS",
    "VolumeMarkerWarning",
    "cwl_paths",
    "fetch_subcortical_atlas",
    "load_confounds",
    "make_toy_atlas",
    "mni_grid",
    "read_bids",
    "read_cwl",
    "restrict_atlas",
    "t_r_from_header",
    "write_cwl",
]
