"""Warnings on an umbrella-sampling PMF: what to look at before trusting a profile.

Each function returns a list of messages that say what is wrong and what to change (add a
window, sample longer); :func:`all_warnings` gathers them for
:func:`predesolv.analysis.pmf.estimate_pmf`, which logs them and stores them on the result
(and ``barriers.json``).

* overlap of neighbouring windows below :data:`MIN_OVERLAP` (MBAR overlap matrix);
* holes: CV ranges without samples between populated ones;
* first-half vs second-half disagreement;
* slow windows: a statistical inefficiency far above the other windows', the mark of a
  slow motion across the CV (a hidden barrier).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from predesolv.analysis.pmf_types import PMFResult, UmbrellaWindow

#: Neighbouring windows with an overlap-matrix element below this get a warning.
MIN_OVERLAP = 0.03
#: A window whose statistical inefficiency (frames) exceeds both this many frames and
#: :data:`SLOW_WINDOW_RATIO` x the median window's is reported as slow.
SLOW_WINDOW_MIN_FRAMES = 50.0
SLOW_WINDOW_RATIO = 20.0


def spaced_unit(unit: str) -> str:
    """`` nm`` for ``nm``; empty for a dimensionless CV (to follow a number in a message)."""
    return f" {unit}" if unit else ""


def overlap_warnings(overlap: np.ndarray, windows: Sequence[UmbrellaWindow], cv_unit: str = "",
                     threshold: float = MIN_OVERLAP) -> list[str]:
    """One message per pair of neighbouring windows (sorted by centre) with overlap < threshold.

    The pair's overlap is ``min(O[i, j], O[j, i])`` of the MBAR overlap matrix ``O``.
    """
    order = np.argsort([w.center for w in windows], kind="stable")
    msgs = []
    for a, b in zip(order[:-1], order[1:], strict=True):
        o = float(min(overlap[a, b], overlap[b, a]))
        if o < threshold:
            ca, cb = windows[a].center, windows[b].center
            msgs.append(
                f"umbrella windows {a} (centre {ca:g}{spaced_unit(cv_unit)}) and {b} (centre "
                f"{cb:g}{spaced_unit(cv_unit)}) overlap {o:.3g} < {threshold:g}: add a window "
                f"between {ca:g} and {cb:g}{spaced_unit(cv_unit)} (e.g. at {0.5 * (ca + cb):g})")
    return msgs


def empty_bin_warnings(counts_total: np.ndarray, edges: np.ndarray, cv_unit: str) -> list[str]:
    """Warn about runs of empty bins between populated ones (holes in the PMF)."""
    full = np.flatnonzero(counts_total > 0)
    msgs = []
    for lo_bin, hi_bin in zip(full[:-1], full[1:], strict=True):
        if hi_bin - lo_bin > 1:
            a, b = edges[lo_bin + 1], edges[hi_bin]
            msgs.append(f"no samples for the CV in [{a:g}, {b:g}]{spaced_unit(cv_unit)}: the "
                        f"PMF is undefined there; add a window centred near {0.5 * (a + b):g}")
    return msgs


def half_warning(result: PMFResult, tol_kT: float) -> list[str]:
    """Warn where |F_first - F_second| exceeds both ``tol_kT`` and 3 x its statistical spread.

    Each half has about twice the variance of the full estimate, so the spread of the
    difference is ~2 dF; without bootstraps only ``tol_kT`` applies.
    """
    d = np.abs(result.F_first_half_kJ_per_mol - result.F_second_half_kJ_per_mol)
    limit = np.fmax(tol_kT * result.kT_kJ_per_mol, 6.0 * result.dF_kJ_per_mol)
    excess = np.where(np.isfinite(d), d - limit, np.nan)
    if not np.isfinite(excess).any() or np.nanmax(excess) <= 0.0:
        return []
    i = int(np.nanargmax(excess))
    return [f"first- and second-half PMFs differ by {d[i]:.3g} kJ/mol "
            f"({d[i] / result.kT_kJ_per_mol:.2f} kT > {limit[i] / result.kT_kJ_per_mol:.2f} kT"
            f" = max({tol_kT:g} kT, 6 dF)) at the CV = "
            f"{result.bin_centers[i]:g}{spaced_unit(result.cv_unit)}: not converged (equilibrate "
            f"longer or extend the windows)"]


def slow_window_warnings(g_frames: Sequence[float] | np.ndarray,
                         windows: Sequence[UmbrellaWindow],
                         cv_unit: str = "") -> list[str]:
    """Windows whose statistical inefficiency stands far above the others'.

    Parameters
    ----------
    g_frames : sequence of float, shape (K,)
        Statistical inefficiency of each window's CV series, in frames.
    windows : sequence of UmbrellaWindow, shape (K,)
    cv_unit : str

    Notes
    -----
    A window that holds two basins separated by a barrier *across* the CV hops between them
    slowly, so its g is large while its neighbours' stay small; its histogram then depends on
    where it started and the PMF shifts by a constant across it. Measured: a bare Na+ at
    d = 0.40 nm, x over a full lattice period, g = 155 and 334 frames in the two windows at
    x ~ 0.1 and 0.33 nm against a median of 1.1, and a barrier 0.05 eV too high.
    """
    g = np.asarray(g_frames, dtype=float)
    if g.size < 3:
        return []
    median = float(np.median(g))
    limit = max(SLOW_WINDOW_MIN_FRAMES, SLOW_WINDOW_RATIO * median)
    msgs = []
    for i in np.flatnonzero(g > limit).tolist():
        c = windows[i].center
        msgs.append(
            f"umbrella window {i} (centre {c:g}{spaced_unit(cv_unit)}) decorrelates slowly: "
            f"statistical inefficiency {g[i]:.0f} frames, {g[i] / median:.0f} x the median "
            f"window's ({median:.3g}): a motion across the CV is slow there (a hidden barrier?)"
            f" and the PMF may shift by a constant across it; sample this window much longer, "
            f"add a flat-bottom wall on the slow coordinate, or choose a path along which the "
            f"CV is a good reaction coordinate")
    return msgs


def all_warnings(result: PMFResult, half_msgs: list[str], tol_kT: float,
                 min_effective_samples: int, default_min_samples: int) -> list[str]:
    """Every warning on ``result``, in the order a user should act on them."""
    low = min_effective_samples < default_min_samples
    return (overlap_warnings(result.overlap_matrix, result.windows, result.cv_unit)
            + empty_bin_warnings(result.counts.sum(axis=0), result.bin_edges, result.cv_unit)
            + slow_window_warnings(result.statistical_inefficiency, result.windows,
                                   result.cv_unit)
            + half_msgs + half_warning(result, tol_kT)
            + [f"min_effective_samples lowered to {min_effective_samples} (default "
               f"{default_min_samples}): sparse windows' uncertainties are unreliable"] * low)
