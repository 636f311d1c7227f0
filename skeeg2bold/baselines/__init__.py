"""Classical baselines as ready scikit-learn pipelines: the yardstick for deep models."""

from ._factories import make_hrf_baseline, make_ridge_baseline, make_riemann_baseline

__all__ = ["make_hrf_baseline", "make_riemann_baseline", "make_ridge_baseline"]
