"""Order of the gallery: the data, the paper's experiment, then the details.

A module of its own so that ``conf.py`` can name the sort key as a string
(a function defined in ``conf.py`` would make the configuration unpicklable).
"""

ORDER = (
    "plot_simulator.py",
    "plot_paper_protocol.py",
    "plot_baselines.py",
    "plot_grid_search.py",
    "plot_interpretation.py",
    "plot_real_data.py",
    "plot_online_new_subject.py",
)


class GalleryOrder:
    """Sort key for sphinx-gallery: the files of ``ORDER`` first, the rest by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __repr__(self):
        return "GalleryOrder"

    def __call__(self, filename):
        rank = ORDER.index(filename) if filename in ORDER else len(ORDER)
        return rank, filename
