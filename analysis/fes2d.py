"""Free-energy surface over two CVs from a grid of umbrella windows (MBAR).

Each window k restrains two CVs harmonically, ``u_k(x) = [k1/2 (x1 - c1)² + k2/2 (x2 -
c2)²] / kT``. :func:`estimate_fes_2d`:

1. decorrelates every window on *both* CVs: the statistical inefficiency g of each CV is
   computed (:func:`pymbar.timeseries.statistical_inefficiency`) and the window is refused
   when either CV has fewer than ``min_effective_samples`` effective samples (N/g);
   otherwise it is subsampled at the larger g;
2. solves MBAR (:class:`pymbar.MBAR`) over all windows and builds the window graph whose
   edges are overlap-matrix elements >= ``min_overlap``. Windows outside the largest
   connected group are **not connected**: they are dropped (named in the warnings) and
   MBAR is solved again without them, so no free-energy difference is ever taken across
   windows that do not overlap;
3. histograms the unbiased MBAR weights of the kept samples on the grid: ``F = -kT ln p``
   per unit area, zero at the lowest bin, NaN where a bin holds no sample;
4. projects the same weights on the first CV (``F(x1)``) and, with ``n_bootstraps`` >= 2,
   repeats 2–3 on resampled windows for the standard errors;
5. repeats 3 with the first and with the second half of every window's samples: where the
   surface is below :data:`LOW_REGION_KT` kT the halves must agree within max(1 kT, 8 dF),
   or the result says "not converged". :attr:`FES2DResult.converged` (every window
   connected, halves agreeing) is what a verdict may be written on.

:func:`minimum_free_energy_path` finds the path between two bins whose highest point is
lowest (minimax, 8-connected grid; ties broken by the shorter path), the usual reading of
"how high must the system climb" on a binned surface. Units: CV units as given, energies
kJ/mol.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pymbar
from pymbar import timeseries
from pymbar.utils import ParameterError
from scipy.special import logsumexp

from predesolv.analysis.pmf_checks import MIN_OVERLAP
from predesolv.constants import KB_KJ_PER_MOL_K
from predesolv.errors import AnalysisError

#: The region whose half-split agreement decides convergence: F below this many kT.
LOW_REGION_KT = 3.0
#: Fewest samples (all windows) in a bin for its half-split comparison.
MIN_HALF_SAMPLES = 20


@dataclass(frozen=True)
class Window2D:
    """The bias of one window: centres (c1, c2) and force constants (k1, k2) in CV units
    (kJ/mol per unit²), at ``temperature_K``."""

    center: tuple[float, float]
    k: tuple[float, float]
    temperature_K: float

    def reduced_bias(self, x: np.ndarray) -> np.ndarray:
        """u_k(x) / kT for samples ``x`` of shape (N, 2)."""
        kT = KB_KJ_PER_MOL_K * self.temperature_K
        d = np.asarray(x, dtype=float) - np.asarray(self.center)
        return 0.5 * (self.k[0] * d[:, 0] ** 2 + self.k[1] * d[:, 1] ** 2) / kT


@dataclass
class FES2DResult:
    """What :func:`estimate_fes_2d` returns.

    Attributes
    ----------
    edges : tuple of ndarray
        Bin edges along CV 1 (n1 + 1,) and CV 2 (n2 + 1,).
    F_kJ_per_mol, dF_kJ_per_mol : ndarray, shape (n1, n2)
        Free energy per unit area (0 at the lowest bin; NaN: no sample) and its bootstrap
        standard error (NaN without bootstraps).
    counts : ndarray of int, shape (n1, n2)
        Samples of the connected windows in each bin.
    projection_kJ_per_mol, projection_dF_kJ_per_mol : ndarray, shape (n1,)
        F(x1) from the same weights (per unit length, 0 at its minimum).
    windows : list of Window2D
    g, n_effective : ndarray, shape (K, 2)
        Statistical inefficiency (frames) and N/g of each window on each CV.
    n_frames, n_used : ndarray of int, shape (K,)
        Samples given, and used after subsampling.
    connected : ndarray of bool, shape (K,)
        Window belongs to the connected group the surface comes from.
    overlap : ndarray, shape (K, K)
        MBAR overlap matrix of all windows (before dropping any).
    kT : float
        kJ/mol.
    bootstrap_F_kJ_per_mol : ndarray, shape (B, n1, n2)
        Bootstrap surfaces (kJ/mol, each referenced at the lowest bin of the estimate).
    halves : ndarray, shape (2, n1, n2)
        Surfaces from the first and the second half of every connected window's samples
        (kJ/mol, referenced at the estimate's lowest bin; NaN when not computed).
    warnings : list of str
    """

    edges: tuple[np.ndarray, np.ndarray]
    F_kJ_per_mol: np.ndarray
    dF_kJ_per_mol: np.ndarray
    counts: np.ndarray
    projection_kJ_per_mol: np.ndarray
    projection_dF_kJ_per_mol: np.ndarray
    windows: list[Window2D]
    g: np.ndarray
    n_effective: np.ndarray
    n_frames: np.ndarray
    n_used: np.ndarray
    connected: np.ndarray
    overlap: np.ndarray
    kT: float
    bootstrap_F_kJ_per_mol: np.ndarray
    halves: np.ndarray
    warnings: list[str] = field(default_factory=list)

    @property
    def halves_agree(self) -> bool:
        """Both half-surfaces were computed and agree within max(1 kT, 6 dF) wherever the
        estimate is below :data:`LOW_REGION_KT` kT (see :func:`half_split_warning`)."""
        return bool(np.isfinite(self.halves).any()) and \
            half_split_warning(self) is None

    @property
    def converged(self) -> bool:
        """Every window connected and the two halves agree: the result a verdict may use."""
        return bool(self.connected.all()) and self.halves_agree

    @property
    def centers(self) -> tuple[np.ndarray, np.ndarray]:
        """Bin centres along CV 1 (n1,) and CV 2 (n2,)."""
        e1, e2 = self.edges
        return 0.5 * (e1[1:] + e1[:-1]), 0.5 * (e2[1:] + e2[:-1])


def _decorrelate(x: np.ndarray, index: str, decorrelate: bool, minimum: int,
                 names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """(subsampled samples (M, 2), g per CV (2,)); refuses too few effective samples."""
    if x.ndim != 2 or x.shape[1] != 2 or x.shape[0] < 2 or not np.isfinite(x).all():
        raise AnalysisError(f"window {index}: needs >= 2 finite samples of both CVs, "
                            f"got shape {x.shape}")
    g = np.ones(2)
    for j in range(2):
        if np.ptp(x[:, j]) == 0:
            raise AnalysisError(f"window {index}: {names[j]} is constant; the window "
                                f"sampled nothing along it")
        try:
            g[j] = float(timeseries.statistical_inefficiency(x[:, j]))
        except ParameterError as exc:
            raise AnalysisError(f"window {index}: {exc}") from exc
    n_eff = x.shape[0] / g
    worst = int(np.argmin(n_eff))
    if n_eff[worst] < minimum:
        raise AnalysisError(
            f"window {index}: {n_eff[worst]:.1f} effective samples of {names[worst]} "
            f"(g = {g[worst]:.1f} frames over {x.shape[0]}), fewer than the {minimum} "
            f"required; run the windows longer (pmf --extend) or sample less often")
    if not decorrelate:
        return x, g
    keep = np.asarray(timeseries.subsample_correlated_data(x[:, int(np.argmax(g))],
                                                           g=float(g.max())), dtype=int)
    return x[keep], g


def _components(overlap: np.ndarray, threshold: float) -> list[list[int]]:
    """Connected groups of windows (overlap >= threshold), largest first."""
    k = overlap.shape[0]
    seen: set[int] = set()
    groups = []
    for start in range(k):
        if start in seen:
            continue
        stack, group = [start], []
        seen.add(start)
        while stack:
            i = stack.pop()
            group.append(i)
            for j in np.nonzero(overlap[i] >= threshold)[0]:
                if int(j) not in seen:
                    seen.add(int(j))
                    stack.append(int(j))
        groups.append(sorted(group))
    return sorted(groups, key=len, reverse=True)


def _mbar(samples: list[np.ndarray], windows: Sequence[Window2D],
          initial_f_k: np.ndarray | None = None) -> tuple[pymbar.MBAR, np.ndarray]:
    """MBAR over the windows and the concatenated samples (N, 2)."""
    x = np.concatenate(samples)
    u_kn = np.stack([w.reduced_bias(x) for w in windows])
    n_k = np.array([len(s) for s in samples])
    opts: dict = {"solver_protocol": "robust"}
    if initial_f_k is not None:
        opts["initial_f_k"] = initial_f_k
    return pymbar.MBAR(u_kn, n_k, **opts), x


def _log_weights(mbar: pymbar.MBAR) -> np.ndarray:
    """ln of the unbiased MBAR weight of every sample (unnormalised), shape (N,)."""
    n_k = np.asarray(mbar.N_k, dtype=float)
    f_k = np.asarray(mbar.f_k)
    u_kn = np.asarray(mbar.u_kn)
    return -logsumexp(f_k[:, None] - u_kn, b=n_k[:, None], axis=0)


def _surface(x: np.ndarray, log_w: np.ndarray, edges: tuple[np.ndarray, np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reduced F on the grid (NaN empty), counts, reduced F along CV 1 (densities)."""
    e1, e2 = edges
    w = np.exp(log_w - log_w.max())
    hist, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=[e1, e2], weights=w)
    counts, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=[e1, e2])
    area = np.outer(np.diff(e1), np.diff(e2))
    with np.errstate(divide="ignore"):
        f = -np.log(hist / area)
    f[counts == 0] = np.nan
    h1, _ = np.histogram(x[:, 0], bins=e1, weights=w)
    c1, _ = np.histogram(x[:, 0], bins=e1)
    with np.errstate(divide="ignore"):
        f1 = -np.log(h1 / np.diff(e1))
    f1[c1 == 0] = np.nan
    return f, counts.astype(int), f1


def _edges(bins: tuple[int, int] | tuple[np.ndarray, np.ndarray], x: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for j, b in enumerate(bins):
        if isinstance(b, (int, np.integer)):
            lo, hi = float(x[:, j].min()), float(x[:, j].max())
            out.append(np.linspace(lo, hi + 1e-9 * max(hi - lo, 1.0), int(b) + 1))
        else:
            e = np.asarray(b, dtype=float)
            if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
                raise AnalysisError(f"bins of CV {j + 1}: edges must increase, got {e}")
            out.append(e)
    return out[0], out[1]


def estimate_fes_2d(series: Sequence[np.ndarray], windows: Sequence[Window2D],
                    bins: tuple[int, int] | tuple[np.ndarray, np.ndarray], *,
                    decorrelate: bool = True, min_effective_samples: int = 10,
                    min_overlap: float = MIN_OVERLAP, n_bootstraps: int = 0, seed: int = 0,
                    names: tuple[str, str] = ("CV 1", "CV 2"),
                    window_names: Sequence[str] | None = None) -> FES2DResult:
    """Two-CV free-energy surface from umbrella windows (see the module docstring).

    Parameters
    ----------
    series : sequence of ndarray, each shape (n_frames_k, 2)
        Both CVs of window k in time order (CV units).
    windows : sequence of Window2D, length K
        The bias of each window (same order); one temperature.
    bins : (int, int) or (ndarray, ndarray)
        Bins per CV over the analysed samples, or the edges.
    decorrelate : bool
        Subsample each window at the larger statistical inefficiency of its two CVs.
    min_effective_samples : int
        Fewest N/g a window may have on either CV.
    min_overlap : float
        Overlap-matrix element that connects two windows.
    n_bootstraps : int
        0 (no standard errors) or >= 2 resampled re-estimates.
    seed : int
        Bootstrap generator seed.
    names : tuple of str
        CV names for messages.
    window_names : sequence of str, optional
        Window names for messages (default ``w000``, ``w001``, ...).

    Returns
    -------
    FES2DResult

    Raises
    ------
    AnalysisError
        Mismatched inputs, mixed temperatures, a window with too few effective samples.
    """
    if len(series) != len(windows) or len(windows) < 2:
        raise AnalysisError(f"need >= 2 windows with one series each, got {len(windows)} "
                            f"windows and {len(series)} series")
    temps = {w.temperature_K for w in windows}
    if len(temps) != 1:
        raise AnalysisError(f"windows at different temperatures {sorted(temps)}")
    kT = KB_KJ_PER_MOL_K * temps.pop()
    raw = [np.asarray(s, dtype=float) for s in series]
    labels = list(window_names or [f"w{i:03d}" for i in range(len(raw))])
    dec = [_decorrelate(x, labels[i], decorrelate, min_effective_samples, names)
           for i, x in enumerate(raw)]
    samples = [s for s, _ in dec]
    g = np.array([gi for _, gi in dec])
    mbar_all, _ = _mbar(samples, windows)
    overlap = np.asarray(mbar_all.compute_overlap()["matrix"])
    keep = _components(overlap, min_overlap)[0]
    warnings = _connection_warnings(labels, keep, min_overlap)
    kept_w = [windows[i] for i in keep]
    kept_s = [samples[i] for i in keep]
    mbar, x = (mbar_all, np.concatenate(samples)) if len(keep) == len(windows) else \
        _mbar(kept_s, kept_w)
    edges = _edges(bins, np.concatenate(samples))
    f, counts, f1 = _surface(x, _log_weights(mbar), edges)
    ref, ref1 = int(np.nanargmin(f)), int(np.nanargmin(f1))
    f, f1 = f - f.flat[ref], f1 - f1[ref1]
    reps, reps1 = _bootstrap(kept_s, kept_w, edges, np.asarray(mbar.f_k), (ref, ref1),
                             n_bootstraps, seed)
    connected = np.zeros(len(windows), dtype=bool)
    connected[keep] = True
    df, df1 = _spread(reps, f.shape) * kT, _spread(reps1, f1.shape) * kT
    halves = _halves(kept_s, kept_w, edges, np.asarray(mbar.f_k), ref) * kT
    n = np.array([len(s) for s in raw])
    result = FES2DResult(edges, f * kT, df, counts, f1 * kT, df1, list(windows), g,
                         n[:, None] / g, n, np.array([len(s) for s in samples]), connected,
                         overlap, kT, reps * kT, halves, warnings)
    half = half_split_warning(result)
    result.warnings += [half] if half else []
    return result


def _halves(samples: list[np.ndarray], windows: list[Window2D],
            edges: tuple[np.ndarray, np.ndarray], f_k: np.ndarray, ref: int) -> np.ndarray:
    """Reduced surfaces (2, n1, n2) of the first and the second half of every window."""
    out = np.full((2, edges[0].size - 1, edges[1].size - 1), np.nan)
    if min(len(s) for s in samples) < 4:
        return out
    for part in (0, 1):
        half = [s[: len(s) // 2] if part == 0 else s[len(s) // 2:] for s in samples]
        mbar, x = _mbar(half, windows, initial_f_k=f_k)
        f, _, _ = _surface(x, _log_weights(mbar), edges)
        out[part] = f - f.flat[ref]
    return out


def _inside_centres(result: FES2DResult) -> np.ndarray:
    """Bins whose centres lie within the range of the window centres on both CVs."""
    cen = np.array([w.center for w in result.windows])
    c1, c2 = result.centers
    in1 = (c1 >= cen[:, 0].min()) & (c1 <= cen[:, 0].max())
    in2 = (c2 >= cen[:, 1].min()) & (c2 <= cen[:, 1].max())
    return np.outer(in1, in2)


def half_split_warning(result: FES2DResult) -> str | None:
    """A message when the halves differ by more than max(1 kT, 8 dF) in a bin where the
    estimate is below :data:`LOW_REGION_KT` kT, that holds at least :data:`MIN_HALF_SAMPLES`
    samples and lies within the range of the window centres (beyond it a few windows'
    tails are all there is) — None when they agree or were not computed. Two half-data
    estimates differ by about 2 dF (one standard deviation), so 8 dF is four of them: with
    tens of bins a stationary run passes, a drifting one does not."""
    a, b = result.halves
    tol = np.fmax(result.kT, 8 * np.nan_to_num(result.dF_kJ_per_mol, nan=0.0))
    low = np.isfinite(a) & np.isfinite(b) & (result.F_kJ_per_mol < LOW_REGION_KT * result.kT) \
        & (result.counts >= MIN_HALF_SAMPLES) & _inside_centres(result)
    if not low.any():
        return None
    excess = np.where(low, np.abs(a - b) - tol, -np.inf)
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    if excess[worst] <= 0:
        return None
    c1, c2 = result.centers
    return (f"not converged: the first and second halves of the windows differ by "
            f"{abs(a[worst] - b[worst]):.2f} kJ/mol at ({c1[worst[0]]:.4g}, "
            f"{c2[worst[1]]:.4g}), more than max(1 kT, 8 dF) = {tol[worst]:.2f} kJ/mol; "
            f"sample longer (pmf --extend)")


def _spread(replicas: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Standard deviation over bootstrap replicas (NaN where fewer than 2 are finite)."""
    out = np.full(shape, np.nan)
    if len(replicas) < 2:
        return out
    n = np.isfinite(replicas).sum(axis=0)
    ok = n >= 2
    out[ok] = np.nanstd(replicas[:, ok], axis=0)
    return out


def _connection_warnings(labels: list[str], keep: list[int], threshold: float) -> list[str]:
    dropped = sorted(set(range(len(labels))) - set(keep))
    if not dropped:
        return []
    names = ", ".join(labels[i] for i in dropped)
    return [f"not connected: windows {names} overlap (>= {threshold:g}) with none of the "
            f"other {len(keep)} windows' group; the surface comes from those {len(keep)} "
            f"only, and no free energy is reported across the gap (add windows between, or "
            f"sample longer)"]


def _bootstrap(samples: list[np.ndarray], windows: list[Window2D],
               edges: tuple[np.ndarray, np.ndarray], f_k: np.ndarray,
               refs: tuple[int, int], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduced surfaces (B, n1, n2) and projections (B, n1) of resampled windows."""
    if n < 2:
        return np.empty((0, edges[0].size - 1, edges[1].size - 1)), \
            np.empty((0, edges[0].size - 1))
    rng = np.random.default_rng(seed)
    out, out1 = [], []
    for _ in range(n):
        res = [s[rng.integers(0, len(s), len(s))] for s in samples]
        mbar, x = _mbar(res, windows, initial_f_k=f_k)
        f, _, f1 = _surface(x, _log_weights(mbar), edges)
        out.append(f - f.flat[refs[0]])
        out1.append(f1 - f1[refs[1]])
    return np.asarray(out), np.asarray(out1)


def minimum_free_energy_path(F: np.ndarray, start: tuple[int, int], end: tuple[int, int]
                             ) -> list[tuple[int, int]] | None:
    """Bins from ``start`` to ``end`` whose highest F is lowest (8-connected grid over the
    finite bins; ties: fewest steps). None when no path of finite bins joins them.

    Parameters
    ----------
    F : ndarray, shape (n1, n2)
        Free energy per bin (NaN: no sample, never crossed).
    start, end : tuple of int
        Bin indices (i, j).
    """
    n1, n2 = F.shape
    if not (np.isfinite(F[start]) and np.isfinite(F[end])):
        return None
    best: dict[tuple[int, int], tuple[float, int]] = {start: (float(F[start]), 0)}
    prev: dict[tuple[int, int], tuple[int, int]] = {}
    heap = [(float(F[start]), 0, start)]
    while heap:
        top, steps, node = heapq.heappop(heap)
        if node == end:
            break
        if (top, steps) > best[node]:
            continue
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                nb = (node[0] + di, node[1] + dj)
                if nb == node or not (0 <= nb[0] < n1 and 0 <= nb[1] < n2) \
                        or not np.isfinite(F[nb]):
                    continue
                cost = (max(top, float(F[nb])), steps + 1)
                if nb not in best or cost < best[nb]:
                    best[nb], prev[nb] = cost, node
                    heapq.heappush(heap, (*cost, nb))
    if end not in best:
        return None
    path = [end]
    while path[-1] != start:
        path.append(prev[path[-1]])
    return path[::-1]


__all__ = ["LOW_REGION_KT", "MIN_HALF_SAMPLES", "FES2DResult", "Window2D", "estimate_fes_2d",
           "half_split_warning", "minimum_free_energy_path"]
