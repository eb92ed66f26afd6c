"""Clustering: k-means (MiniBatch beyond ``MINIBATCH_FROM`` users) or a diagonal Gaussian mixture.

A fitted clustering is reduced to plain arrays (centres; for the mixture also variances and
weights) so that assignment of any user — in this run or later, from segment_model.json — goes
through the same two functions, ``assign`` and ``distances``, with no scikit-learn object kept.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

METHODS = ("kmeans", "gmm")
MINIBATCH_FROM = 200_000
_CHUNK = 65_536
# what the fits and the stability scores import (scikit-learn brings SciPy and pandas: ~2 s)
FIT_MODULES = ("sklearn.cluster", "sklearn.mixture", "sklearn.metrics", "sklearn.exceptions", "threadpoolctl")


def preload(modules: tuple[str, ...] = FIT_MODULES) -> threading.Thread:
    """``executor.preload`` of what the fits import (thread ``c2m-preload-sklearn``)."""
    from c2m_cli.executor import preload as preload_modules

    return preload_modules(modules, name="c2m-preload-sklearn")


@cache
def _controller() -> ThreadpoolController:
    # inspecting the loaded BLAS/OpenMP libraries costs ~10 ms: done once, not at every fit
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_thread() -> Any:
    """A context in which BLAS and OpenMP run one thread (``threadpool_limits(limits=1)``)."""
    return _controller().limit(limits=1)


@dataclass
class Clustering:
    """Centres (k × d), and for ``gmm`` per-component diagonal variances and weights."""

    method: str
    centers: np.ndarray
    variances: np.ndarray | None = None
    weights: np.ndarray | None = None
    algorithm: str = "kmeans"

    @property
    def k(self) -> int:
        return int(self.centers.shape[0])

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "algorithm": self.algorithm,
            "centers": self.centers.astype(float).tolist(),
        }
        if self.variances is not None and self.weights is not None:
            out["variances"] = self.variances.astype(float).tolist()
            out["weights"] = self.weights.astype(float).tolist()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Clustering:
        variances = data.get("variances")
        weights = data.get("weights")
        return cls(
            method=data["method"],
            algorithm=data.get("algorithm", data["method"]),
            centers=np.asarray(data["centers"], dtype=np.float64),
            variances=None if variances is None else np.asarray(variances, dtype=np.float64),
            weights=None if weights is None else np.asarray(weights, dtype=np.float64),
        )


def fit(
    X: np.ndarray,
    k: int,
    *,
    method: str = "kmeans",
    seed: int = 0,
    n_init: int = 3,
    minibatch_from: int = MINIBATCH_FROM,
) -> Clustering:
    """Fit ``k`` clusters to ``X`` (rows = users); deterministic for a given seed.

    Fewer distinct clusters than ``k`` (duplicate rows, tiny bootstrap resamples) is not an
    error here: callers count the clusters found (the selection table's ``clusters_found``).
    """
    # one thread: OpenMP/BLAS reductions over a different number of threads change the last bits,
    # and with them which local optimum k-means ends in — the result must not depend on the machine
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(), one_thread():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _fit(X, k, method=method, seed=seed, n_init=n_init, minibatch_from=minibatch_from)


def _fit(X: np.ndarray, k: int, *, method: str, seed: int, n_init: int, minibatch_from: int) -> Clustering:
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.mixture import GaussianMixture

    if method == "kmeans":
        if X.shape[0] >= minibatch_from:
            model: Any = MiniBatchKMeans(
                n_clusters=k, random_state=seed, n_init=n_init, batch_size=8192, max_no_improvement=20
            ).fit(X)
            return Clustering("kmeans", np.asarray(model.cluster_centers_, dtype=np.float64), algorithm="minibatch-kmeans")
        model = KMeans(n_clusters=k, random_state=seed, n_init=n_init).fit(X)
        return Clustering("kmeans", np.asarray(model.cluster_centers_, dtype=np.float64), algorithm="kmeans")
    if method == "gmm":
        model = GaussianMixture(
            n_components=k, covariance_type="diag", random_state=seed, n_init=n_init, reg_covar=0.05, max_iter=200
        ).fit(X)
        return Clustering(
            "gmm",
            np.asarray(model.means_, dtype=np.float64),
            variances=np.asarray(model.covariances_, dtype=np.float64),
            weights=np.asarray(model.weights_, dtype=np.float64),
            algorithm="gmm-diag",
        )
    raise ValueError(f"unknown method {method!r}")


def _scores(clustering: Clustering, X: np.ndarray) -> np.ndarray:
    """Per row and cluster: squared distance (kmeans) or negative log-density (gmm)."""
    Xd = X.astype(np.float64, copy=False)
    C = clustering.centers
    if clustering.method == "gmm" and clustering.variances is not None and clustering.weights is not None:
        var = clustering.variances
        inv = 1.0 / var
        const = -2.0 * np.log(clustering.weights) + np.log(2.0 * np.pi * var).sum(axis=1)
        # Σ (x−μ)²/σ² = x²·(1/σ²) − 2x·(μ/σ²) + μ²/σ²
        quad = (Xd**2) @ inv.T - 2.0 * Xd @ (C * inv).T + (C**2 * inv).sum(axis=1)
        return quad + const
    d2 = (Xd**2).sum(axis=1, keepdims=True) - 2.0 * Xd @ C.T + (C**2).sum(axis=1)
    return np.maximum(d2, 0.0)


def assign(clustering: Clustering, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cluster index (0-based, as in ``centers``) and Euclidean distance to that centre."""
    n = X.shape[0]
    labels = np.empty(n, dtype=np.int32)
    dist = np.empty(n, dtype=np.float64)
    with one_thread():  # bit-identical distances whatever the number of cores
        _assign_into(clustering, X, labels, dist)
    return labels, dist


def _assign_into(clustering: Clustering, X: np.ndarray, labels: np.ndarray, dist: np.ndarray) -> None:
    n = X.shape[0]
    for start in range(0, n, _CHUNK):
        block = X[start : start + _CHUNK]
        scores = _scores(clustering, block)
        lab = scores.argmin(axis=1)
        labels[start : start + _CHUNK] = lab
        diff = block.astype(np.float64, copy=False) - clustering.centers[lab]
        dist[start : start + _CHUNK] = np.sqrt((diff**2).sum(axis=1))


def fit_score(clustering: Clustering, X: np.ndarray) -> dict[str, float]:
    """Inertia (kmeans) or BIC (gmm) of a clustering on ``X``."""
    n, d = X.shape
    if clustering.method == "gmm" and clustering.variances is not None and clustering.weights is not None:
        scores = _scores(clustering, X)  # −2 log(w_k p_k(x))
        loglik = -0.5 * scores
        top = loglik.max(axis=1, keepdims=True)
        ll = float((top[:, 0] + np.log(np.exp(loglik - top).sum(axis=1))).sum())
        k = clustering.k
        n_params = k * d * 2 + (k - 1)
        return {"loglik": ll, "bic": -2.0 * ll + n_params * float(np.log(n))}
    labels, dist = assign(clustering, X)
    return {"inertia": float((dist**2).sum())}


def order_by_size(clustering: Clustering, labels: np.ndarray) -> tuple[Clustering, np.ndarray]:
    """Renumber clusters by size (largest first; ties by centre), for stable segment ids."""
    reordered, remap = size_order(clustering, np.bincount(labels, minlength=clustering.k))
    return reordered, remap[labels]


def size_order(clustering: Clustering, sizes: np.ndarray) -> tuple[Clustering, np.ndarray]:
    """The clustering renumbered by ``sizes`` (users per cluster; largest first, ties by centre)
    and the new number of each old cluster (``remap[old]``)."""
    k = clustering.k
    keys = [(-int(sizes[j]), tuple(np.round(clustering.centers[j], 9))) for j in range(k)]
    order = sorted(range(k), key=lambda j: keys[j])
    remap = np.empty(k, dtype=np.int32)
    remap[np.asarray(order)] = np.arange(k, dtype=np.int32)
    reordered = Clustering(
        clustering.method,
        clustering.centers[order],
        None if clustering.variances is None else clustering.variances[order],
        None if clustering.weights is None else clustering.weights[order],
        clustering.algorithm,
    )
    return reordered, remap
