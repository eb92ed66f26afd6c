"""Choosing k and measuring stability: bootstrap ARI per k, bootstrap Jaccard per segment.

All of it runs on one random sample of at most ``sample_size`` users (the same for every k):

* for each k, a reference clustering of the sample and ``n_boot`` clusterings of bootstrap
  resamples of it; each bootstrap clustering labels the whole sample, and its adjusted Rand
  index with the reference measures how reproducible k clusters are (Lange et al. 2004);
* fit: the silhouette of the reference clustering (on at most ``silhouette_size`` users), for
  both methods (the mixture's BIC is reported too, but on one-hot and tag features — discrete
  values — it keeps falling as k grows, so it does not choose);
* the criterion (stated in --help and the model): among k whose mean bootstrap ARI is at least
  ``min_stability``, the smallest k whose silhouette is within one standard error of the highest
  (the one-standard-error rule of Breiman et al. 1984: a larger k must fit clearly better, not
  by noise; the standard error combines the sampling error of the mean silhouette over the
  users and its spread over the bootstrap clusterings);
  when no k is that stable, the most stable k.

Per-segment stability (Hennig 2007, ``clusterboot``): for each final segment, the mean over
bootstrap runs of its best Jaccard overlap with a bootstrap cluster, on the sample.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from c2m_cli.segment import cluster

FIT_THREADS = min(2, os.cpu_count() or 1)  # fits run side by side, one thread each


@dataclass
class Selection:
    chosen_k: int
    criterion: str
    table: list[dict[str, Any]]
    sample_index: np.ndarray
    boot_labels: dict[int, list[np.ndarray]] = field(default_factory=dict)
    # the reference clustering of the sample for each k (fitted with ``seed`` and ``n_init``):
    # when the sample is every user, it is the final clustering itself
    reference: dict[int, cluster.Clustering] = field(default_factory=dict)


def _boot_task(
    args: tuple[np.ndarray, np.ndarray | None, int, str, int, int],
) -> tuple[np.ndarray, cluster.Clustering]:
    """Fit on rows ``index`` of ``Xs`` (all rows when None) and label every row of ``Xs``."""
    Xs, index, k, method, seed, n_init = args
    fitted = cluster.fit(Xs if index is None else Xs[index], k, method=method, seed=seed, n_init=n_init)
    labels, _ = cluster.assign(fitted, Xs)
    return labels, fitted


def _boot_file_task(args: tuple[str, str | None, int, str, int, int]) -> tuple[str, cluster.Clustering]:
    """``_boot_task`` as an executor task: the sample (and the bootstrap's row index) are read
    from the Parquet file at ``path`` where the task runs, and the labels are written next to
    it; returns that file's path and the (small) fitted clustering."""
    from c2m_cli.executor import read_arrays, write_arrays

    path, boot, k, method, seed, n_init = args
    arrays = read_arrays(path)
    Xs = np.ascontiguousarray(arrays["x"])
    index = None if boot is None else np.ascontiguousarray(arrays[boot])
    with cluster.one_thread():
        labels, fitted = _boot_task((Xs, index, k, method, seed, n_init))
    out = f"{path.removesuffix('.parquet')}-k{k}-{boot or 'ref'}.parquet"
    return write_arrays(out, {"labels": labels}), fitted


def select_k(
    X: np.ndarray,
    ks: list[int],
    *,
    method: str = "kmeans",
    seed: int = 0,
    n_boot: int = 5,
    sample_size: int = 8_000,
    silhouette_size: int = 3_000,
    min_stability: float = 0.8,
    n_init: int = 3,
    mapper: Any = None,
    workdir: Path | None = None,
) -> Selection:
    """Score every k in ``ks`` on one sample; return the chosen k and the table it chose from."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import adjusted_rand_score, pairwise_distances

    rng = np.random.default_rng(seed)
    n = X.shape[0]
    if n > sample_size:
        sample_index = np.sort(rng.choice(n, size=sample_size, replace=False))
    else:
        sample_index = np.arange(n)
    Xs = np.ascontiguousarray(X[sample_index])
    m = Xs.shape[0]
    boot_index: list[np.ndarray] = [np.asarray(rng.integers(0, m, size=m)) for _ in range(n_boot)]
    sil_index = np.sort(rng.choice(m, size=min(m, silhouette_size), replace=False))

    tasks: list[tuple[np.ndarray, np.ndarray | None, int, str, int, int]] = []
    for k in ks:
        tasks.append((Xs, None, k, method, seed, n_init))
        for b in range(n_boot):
            tasks.append((Xs, boot_index[b], k, method, seed + 1 + b, n_init))
    if mapper is not None:
        # executor tasks carry the path of the sample (written once, with the bootstrap row
        # indices) and read it where they run; their labels come back as files
        if workdir is None:
            raise ValueError("select_k with a mapper needs a workdir shared with the workers")
        from c2m_cli.executor import read_arrays, write_arrays

        workdir.mkdir(parents=True, exist_ok=True)
        sample = write_arrays(str(workdir / "sample.parquet"), {"x": Xs} | {f"boot{b}": boot_index[b] for b in range(n_boot)})
        small = [(sample, None if t[1] is None else f"boot{(i % (1 + n_boot)) - 1}", *t[2:]) for i, t in enumerate(tasks)]
        results = [(read_arrays(path)["labels"], fitted) for path, fitted in mapper(_boot_file_task, small)]
    else:
        # many small fits, each single-threaded (bit-reproducible whatever the machine), run
        # side by side on the cores: scikit-learn's k-means releases the GIL in its inner loops
        # (the warning filter is set here too: catch_warnings in each thread alone would let one
        # thread restore the filters another still relies on)
        with cluster.one_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if FIT_THREADS > 1 and len(tasks) > 1:
                with ThreadPoolExecutor(max_workers=FIT_THREADS) as threads:
                    results = list(threads.map(_boot_task, tasks))
            else:
                results = [_boot_task(t) for t in tasks]

    Xsil = Xs[sil_index]
    with cluster.one_thread():
        D = pairwise_distances(Xsil.astype(np.float64))

    def _sil_points(lab: np.ndarray) -> np.ndarray | None:
        return silhouette_points(D, lab)

    def _sil(lab: np.ndarray) -> float | None:
        points = _sil_points(lab)
        return None if points is None else float(points.mean())

    boot_labels: dict[int, list[np.ndarray]] = {}
    reference: dict[int, cluster.Clustering] = {}
    per_k = 1 + n_boot

    def score(i: int) -> dict[str, Any]:
        """The selection-table row of ks[i] (its stability and fit)."""
        k = ks[i]
        ref, ref_fit = results[i * per_k]
        boots = [labels for labels, _ in results[i * per_k + 1 : (i + 1) * per_k]]
        aris = [float(adjusted_rand_score(ref, b)) for b in boots]
        row: dict[str, Any] = {
            "k": k,
            "stability_ari": float(np.mean(aris)) if aris else None,
            "stability_ari_min": float(np.min(aris)) if aris else None,
        }
        n_found = len(np.unique(ref))
        if method == "gmm":  # reported, not used: on one-hot data the BIC falls with every k
            row["bic"] = cluster.fit_score(ref_fit, Xs)["bic"]
        points = _sil_points(ref[sil_index])
        row["silhouette"] = None if points is None else float(points.mean())
        # standard error: sampling of users (per-user silhouettes) and of the clustering (bootstrap)
        boot_sils = [v for v in (_sil(b[sil_index]) for b in boots) if v is not None]
        se_users = float(points.std(ddof=1) / np.sqrt(len(points))) if points is not None and len(points) > 1 else 0.0
        se_boot = float(np.std(boot_sils, ddof=1)) if len(boot_sils) >= 2 else 0.0
        row["silhouette_se"] = float(np.hypot(se_users, se_boot))
        row["clusters_found"] = n_found
        return row

    for i, k in enumerate(ks):
        boot_labels[k] = [labels for labels, _ in results[i * per_k + 1 : (i + 1) * per_k]]
        reference[k] = results[i * per_k][1]
    # each k's row is independent of the others: scored side by side (numpy's bincount and
    # BLAS release the GIL), the table kept in k order
    with cluster.one_thread():
        if FIT_THREADS > 1 and len(ks) > 1:
            with ThreadPoolExecutor(max_workers=FIT_THREADS) as threads:
                table = list(threads.map(score, range(len(ks))))
        else:
            table = [score(i) for i in range(len(ks))]

    criterion = (
        f"among k with mean bootstrap ARI ≥ {min_stability}, the smallest k whose silhouette is within "
        "one standard error of the highest silhouette; if none is that stable, the most stable k"
    )
    usable = [r for r in table if r["silhouette"] is not None and r["clusters_found"] == r["k"]]
    stable = [r for r in usable if r["stability_ari"] is not None and r["stability_ari"] >= min_stability]
    if stable:
        top = max(stable, key=lambda r: (r["silhouette"], -r["k"]))
        best = min(
            (r for r in stable if r["silhouette"] >= top["silhouette"] - top["silhouette_se"]), key=lambda r: r["k"]
        )
    else:
        pool = usable or table
        best = max(pool, key=lambda r: ((r["stability_ari"] or 0.0), -r["k"]))
    for r in table:
        r["chosen"] = r["k"] == best["k"]
    return Selection(best["k"], criterion, table, sample_index, boot_labels, reference)


def silhouette_points(D: np.ndarray, labels: np.ndarray, *, rows: int = 512) -> np.ndarray | None:
    """Each point's silhouette (Rousseeuw 1987) from the pairwise distances ``D`` (float64, zero
    diagonal); None unless 2 ≤ clusters ≤ points − 1. The same arithmetic as scikit-learn's
    ``silhouette_samples(D, labels, metric="precomputed")`` — each point's distance sum per
    cluster accumulated over the points in index order — in one ``bincount`` per block of rows
    instead of one per point, so the values are bit-identical and many times faster."""
    codes = np.unique(labels, return_inverse=True)[1].ravel()
    n = len(codes)
    freqs = np.bincount(codes)
    k = len(freqs)
    if not 2 <= k <= n - 1:
        return None
    sums = np.empty((n, k), dtype=np.float64)
    for start in range(0, n, rows):
        block = D[start : start + rows]
        m = block.shape[0]
        keys = (np.arange(m, dtype=np.int64)[:, None] * k + codes[None, :]).ravel()
        sums[start : start + m] = np.bincount(keys, weights=block.ravel(), minlength=m * k).reshape(m, k)
    own = (np.arange(n), codes)
    intra = sums[own]
    sums[own] = np.inf
    sums /= freqs
    inter = sums.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        intra = intra / (freqs - 1).take(codes, mode="clip")
        sil = inter - intra
        sil /= np.maximum(intra, inter)
    return np.nan_to_num(sil)


def segment_jaccard(reference: np.ndarray, boots: list[np.ndarray], k: int) -> np.ndarray:
    """Mean over bootstrap runs of each reference cluster's best Jaccard with a bootstrap cluster."""
    if not boots:
        return np.full(k, np.nan)
    out = np.zeros(k, dtype=np.float64)
    ref_sizes = np.bincount(reference, minlength=k).astype(np.float64)
    for b in boots:
        kb = int(b.max()) + 1
        inter = np.zeros((k, kb), dtype=np.float64)
        np.add.at(inter, (reference, b), 1.0)
        b_sizes = np.bincount(b, minlength=kb).astype(np.float64)
        union = ref_sizes[:, None] + b_sizes[None, :] - inter
        jac = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        out += jac.max(axis=1)
    return out / len(boots)
