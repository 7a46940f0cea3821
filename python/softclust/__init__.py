"""softclust: for every point, the probability that it belongs to each cluster.

Estimators follow scikit-learn's API and run on a Rust core (the private extension module
``softclust._softclust``): :class:`KMeans` with principled soft memberships,
:class:`GaussianMixture`, :class:`FuzzyCMeans` and :class:`ConsensusKMeans`; functions
:func:`soft_assign`, :func:`select_model`, :func:`typicality`, and :func:`load` for model files
(written by any estimator's ``save`` or the CLI's ``--model-out``); :mod:`softclust.metrics` to check
memberships against known labels or against each other.
"""

from . import metrics
from ._base import Membership, Typicality
from ._softclust import SoftclustError, __version__
from .consensus import ConsensusKMeans
from .functions import load, select_model, soft_assign, typicality
from .fuzzy import FuzzyCMeans
from .kmeans import KMeans
from .mixture import GaussianMixture

__all__ = [
    "ConsensusKMeans",
    "FuzzyCMeans",
    "GaussianMixture",
    "KMeans",
    "Membership",
    "SoftclustError",
    "Typicality",
    "__version__",
    "load",
    "metrics",
    "select_model",
    "soft_assign",
    "typicality",
]
