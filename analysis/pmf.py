"""Potential of mean force from umbrella sampling: MBAR through :class:`pymbar.FES` (pymbar >= 4).

Input is one collective-variable (CV) time series per umbrella window plus that window's
harmonic bias (:class:`UmbrellaWindow`). The estimator

1. decorrelates every window with :mod:`pymbar.timeseries` (statistical inefficiency ``g`` per
   window, reported; optional automatic equilibration detection),
2. solves MBAR for the biased states and builds a histogram FES of the *unbiased* state
   through :class:`pymbar.FES` (the unbiased reduced potential is 0: all windows share the
   same temperature and differ only by their bias, so the unknown potential energy cancels),
3. bootstraps the uncertainty (windows resampled with replacement, one MBAR + FES per
   replicate, kept so that barriers propagate through them),
4. reports the overlap matrix and warns, by name, about neighbouring windows overlapping less
   than :data:`MIN_OVERLAP`, empty bins, and first-half/second-half disagreement.

Conventions
-----------
* The CV is treated as **non-periodic** (a distance, a coordination number).
* Bias: ``w(x) = k/2 (x - center)^2`` with ``k`` in kJ/mol per (CV unit)^2.
* ``F(x) = -kT ln p(x)`` with ``p`` the unbiased probability *density* (bin population
  divided by bin width), in kJ/mol, **zero at its minimum** (the lowest populated bin).
* ``dF`` is the bootstrap standard deviation (``ddof=1``) of ``F(x) - F(x_min)`` with
  ``x_min`` the minimum of the full-data estimate, so ``dF(x_min) = 0`` (pymbar's
  ``"from-lowest"`` convention).
* kB is ``openmm.unit.MOLAR_GAS_CONSTANT_R`` (0.00831446261815324 kJ/mol/K);
  1 eV = N_A e x 1 V = 96.48533212 kJ/mol.

Why the bootstrap loop is ours: pymbar 4.0.3's ``FES.generate_fes(n_bootstraps=...)`` re-solves
MBAR per window in every replicate, seeds the global NumPy generator and fails when a replicate
empties a bin; here each replicate is one :class:`pymbar.FES` on the resampled data, seeded locally.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pymbar
from pymbar import timeseries
from pymbar.utils import ParameterError

from predesolv.analysis.pmf_checks import MIN_OVERLAP as MIN_OVERLAP
from predesolv.analysis.pmf_checks import all_warnings
from predesolv.analysis.pmf_checks import overlap_warnings as overlap_warnings
from predesolv.analysis.pmf_checks import spaced_unit as _sp
from predesolv.analysis.pmf_types import DecorrelatedSeries as DecorrelatedSeries
from predesolv.analysis.pmf_types import PMFResult as PMFResult
from predesolv.analysis.pmf_types import UmbrellaWindow as UmbrellaWindow
from predesolv.constants import KB_KJ_PER_MOL_K as KB_KJ_PER_MOL_K
from predesolv.constants import KJ_PER_MOL_PER_EV as KJ_PER_MOL_PER_EV
from predesolv.errors import AnalysisError

log = logging.getLogger("predesolv.analysis")

#: A window with fewer effectively uncorrelated samples than this is an error.
MIN_UNCORRELATED_SAMPLES = 10
#: Default number of bootstrap replicates.
DEFAULT_BOOTSTRAPS = 50


def decorrelate_series(cv_series, *, window_index: int = 0, decorrelate: bool = True,
                detect_equilibration: bool = False) -> DecorrelatedSeries:
    """Statistical inefficiency and uncorrelated subsample of one window's CV series.

    ``cv_series`` (shape (n_frames,)) is in time order; ``window_index`` is for messages.
    ``decorrelate`` subsamples with :func:`pymbar.timeseries.subsample_correlated_data` (else
    all frames are kept; ``g`` is still reported); ``detect_equilibration`` drops the start
    found by :func:`pymbar.timeseries.detect_equilibration`. Raises :class:`AnalysisError`
    for < 2 frames, non-finite values or a constant series.
    """
    x = np.asarray(cv_series, dtype=float).ravel()
    if x.size < 2 or not np.isfinite(x).all():
        raise AnalysisError(f"umbrella window {window_index}: the CV series needs >= 2 finite "
                            f"values, got {x.size} values ({np.isfinite(x).sum()} finite)")
    if np.ptp(x) == 0.0:
        raise AnalysisError(f"umbrella window {window_index}: the CV series is constant "
                            f"({x[0]}); the statistical inefficiency is undefined")
    t0 = 0
    if detect_equilibration:
        t0 = int(timeseries.detect_equilibration(x, fast=True, nskip=max(1, x.size // 200))[0])
    x_eq = x[t0:]
    try:
        g = float(timeseries.statistical_inefficiency(x_eq))
    except ParameterError as exc:
        raise AnalysisError(f"umbrella window {window_index}: {exc}") from exc
    if decorrelate:
        samples = x_eq[np.asarray(timeseries.subsample_correlated_data(x_eq, g=g), dtype=int)]
    else:
        samples = x_eq.copy()
    return DecorrelatedSeries(samples, g, t0, int(x.size))


def _check_inputs(series: Sequence, windows: Sequence[UmbrellaWindow],
                  temperature_K: float, n_bootstraps: int) -> None:
    if n_bootstraps < 0 or n_bootstraps == 1 or int(n_bootstraps) != n_bootstraps:
        raise AnalysisError(f"n_bootstraps must be 0 or an integer >= 2, got {n_bootstraps!r}")
    if len(series) != len(windows) or len(windows) < 1:
        raise AnalysisError(f"umbrella sampling needs one CV series per window: got "
                            f"{len(series)} series and {len(windows)} windows")
    for i, w in enumerate(windows):
        if not isinstance(w, UmbrellaWindow):
            raise AnalysisError(f"umbrella window {i} must be an UmbrellaWindow, got {w!r}")
        if not np.isclose(w.temperature_K, temperature_K, rtol=1e-9, atol=0.0):
            raise AnalysisError(
                f"umbrella window {i} is at {w.temperature_K} K but the PMF is asked at "
                f"{temperature_K} K; MBAR from CV data alone needs one common temperature")


def _check_sample_sizes(dec: list[DecorrelatedSeries], windows, cv_unit: str,
                        minimum: int = MIN_UNCORRELATED_SAMPLES) -> None:
    for i, (d, w) in enumerate(zip(dec, windows, strict=True)):
        if d.n_gate < minimum:
            raise AnalysisError(
                f"umbrella window {i} (centre {w.center:g}{_sp(cv_unit)}): "
                f"{d.n_effective:.1f} effectively uncorrelated samples ({d.n_frames} frames, "
                f"g = {d.statistical_inefficiency:.2f}, {d.samples.size} used) < "
                f"{minimum}; run this window longer")


# --------------------------------------------------------------------------- binning / MBAR
def _bin_edges(bins, x_n: np.ndarray) -> np.ndarray:
    """Validated bin edges: ``bins`` edges as given, or that many equal bins over the data."""
    if np.ndim(bins) == 0:
        n = int(bins)
        if n < 1 or n != bins:
            raise AnalysisError(f"PMF bins must be a positive integer or edges, got {bins!r}")
        lo, hi = float(x_n.min()), float(x_n.max())
        if hi <= lo:
            raise AnalysisError("PMF binning: all CV samples have the same value")
        edges = np.linspace(lo, hi, n + 1)
    else:
        edges = np.asarray(bins, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or not np.isfinite(edges).all() \
                or np.any(np.diff(edges) <= 0):
            raise AnalysisError("PMF bin edges must be >= 2 finite, strictly increasing values")
    inside = (x_n >= edges[0]) & (x_n <= edges[-1])
    if not inside.any():
        raise AnalysisError(
            f"PMF bin range [{edges[0]:g}, {edges[-1]:g}] holds none of the CV samples "
            f"(samples span [{x_n.min():g}, {x_n.max():g}])")
    return edges


def _counts(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Samples per bin with pymbar's right-open ``np.digitize`` convention, shape (n_bins,)."""
    idx = np.digitize(x, edges) - 1
    return np.bincount(idx[(idx >= 0) & (idx < edges.size - 1)], minlength=edges.size - 1)


def _fes_bins(u_kn: np.ndarray, N_k: np.ndarray, x_n: np.ndarray, edges: np.ndarray,
              initial_f_k: np.ndarray | None = None):
    """Reduced PMF per bin (``-ln p`` density, zero at its minimum, NaN where empty) and MBAR.

    Samples outside ``edges`` go to two padding bins so that every sample has a proper bin
    (pymbar labels out-of-grid samples with a pseudo-bin otherwise); those are dropped.
    """
    span = edges[-1] - edges[0]
    pad_lo = min(edges[0], x_n.min()) - 1e-6 * span - 1e-12
    pad_hi = max(edges[-1], x_n.max()) + 1e-6 * span + 1e-12
    full = np.concatenate([[pad_lo], edges, [pad_hi]])
    # pymbar.FES assigns bins with np.digitize (right-open); mirror it for the query points
    idx = np.digitize(x_n, full) - 1
    populated = np.unique(idx[(idx >= 1) & (idx <= edges.size - 1)]) - 1
    # "robust" (L-BFGS-B, then adaptive): pymbar's default hybr + adaptive was measured to
    # run > 10 min on 26 stiff windows with two poorly sampled ones; robust solved it in 5 s
    opts: dict = {"solver_protocol": "robust"}
    if initial_f_k is not None:
        opts["initial_f_k"] = initial_f_k
    fes = pymbar.FES(u_kn, N_k, mbar_options=opts)
    fes.generate_fes(np.zeros(x_n.size), x_n, fes_type="histogram",
                     histogram_parameters={"bin_edges": [full]})
    f = np.full(edges.size - 1, np.nan)
    if populated.size:
        centres = 0.5 * (edges[populated] + edges[populated + 1])
        f[populated] = fes.get_fes(centres, reference_point="from-lowest")["f_i"]
        f += np.log(np.diff(edges))  # bin free energy -> density free energy
        f -= np.nanmin(f)
    return f, fes.get_mbar()


def _u_kn(windows: Sequence[UmbrellaWindow], x_n: np.ndarray) -> np.ndarray:
    return np.stack([w.reduced_bias(x_n) for w in windows])


def _bootstrap(samples: list[np.ndarray], windows, edges, f_k, ref_bin: int,
               n_bootstraps: int, rng: np.random.Generator) -> np.ndarray:
    """Reduced PMFs of ``n_bootstraps`` replicates, each referenced to ``ref_bin``."""
    N_k = np.array([s.size for s in samples])
    out = np.full((n_bootstraps, edges.size - 1), np.nan)
    for b in range(n_bootstraps):
        x_b = np.concatenate([s[rng.integers(0, s.size, s.size)] for s in samples])
        f_b, _ = _fes_bins(_u_kn(windows, x_b), N_k, x_b, edges, initial_f_k=f_k)
        out[b] = f_b - f_b[ref_bin]
    return out


def _halves(series, dec: list[DecorrelatedSeries], decorrelate_: bool, windows, edges,
            kT: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """PMFs (kJ/mol) from the first and the second half of every window's equilibrated data."""
    out = []
    for part in (0, 1):
        samples = []
        for s, d in zip(series, dec, strict=True):
            x = np.asarray(s, dtype=float).ravel()[d.equilibration_start:]
            half = x[: x.size // 2] if part == 0 else x[x.size // 2:]
            if decorrelate_ and half.size > 1:
                half = half[np.asarray(timeseries.subsample_correlated_data(
                    half, g=d.statistical_inefficiency), dtype=int)]
            samples.append(half)
        if min(s.size for s in samples) < 2:
            nan = np.full(edges.size - 1, np.nan)
            return nan, nan, ["half-split convergence check skipped: a window has fewer "
                              "than 2 uncorrelated samples in one half"]
        x_n = np.concatenate(samples)
        f, _ = _fes_bins(_u_kn(windows, x_n), np.array([s.size for s in samples]), x_n, edges)
        out.append(f * kT)
    return out[0], out[1], []


# --------------------------------------------------------------------------- estimator
def estimate_pmf(series: Sequence, windows: Sequence[UmbrellaWindow], bins, *,
                 temperature_K: float, n_bootstraps: int = DEFAULT_BOOTSTRAPS,
                 decorrelate: bool = True, detect_equilibration: bool = False, seed: int = 0,
                 cv_unit: str = "", convergence_tol_kT: float = 1.0, half_split: bool = True,
                 min_effective_samples: int = MIN_UNCORRELATED_SAMPLES) -> PMFResult:
    """PMF along a non-periodic CV from umbrella windows (MBAR via :class:`pymbar.FES`).

    Parameters
    ----------
    series : sequence of array_like, each shape (n_frames_k,)
        CV time series of window k (equally spaced frames, CV units).
    windows : sequence of UmbrellaWindow, length K
        Bias of each window, same order as ``series``; all at ``temperature_K``.
    bins : int or array_like
        Number of equal bins over the analysed samples, or bin edges (CV units, increasing).
    temperature_K : float
        Temperature of the unbiased state, K (must equal every window's).
    n_bootstraps : int
        Bootstrap replicates for ``dF`` and barrier uncertainties (0, or >= 2; default 50).
    decorrelate : bool
        Subsample every window at its statistical inefficiency (recommended).
    detect_equilibration : bool
        Drop each window's initial transient (:func:`pymbar.timeseries.detect_equilibration`).
    seed : int
        Seed of the bootstrap generator.
    cv_unit : str
        CV unit for messages (``"nm"``; ``""`` for a dimensionless CV).
    convergence_tol_kT : float
        Warn when the half-split PMFs differ by more than this (and 6 dF) anywhere (kT).
    half_split : bool
        Compute the first-half / second-half PMFs (two more FES solves; NaN when False).
    min_effective_samples : int
        Fewest effectively uncorrelated samples a window may have (default 10; a lower
        value is reported among the warnings).

    Returns
    -------
    PMFResult
        Raises :class:`AnalysisError` for mismatched inputs, a window with too few effectively
        uncorrelated samples, bad bins or a bin range without samples.
    """
    windows = tuple(windows)
    series = list(series)
    _check_inputs(series, windows, temperature_K, n_bootstraps)
    dec = [decorrelate_series(s, window_index=i, decorrelate=decorrelate,
                              detect_equilibration=detect_equilibration)
           for i, s in enumerate(series)]
    _check_sample_sizes(dec, windows, cv_unit, int(min_effective_samples))
    samples = [d.samples for d in dec]
    x_n = np.concatenate(samples)
    N_k = np.array([s.size for s in samples])
    edges = _bin_edges(bins, x_n)
    kT = KB_KJ_PER_MOL_K * temperature_K
    f, mbar = _fes_bins(_u_kn(windows, x_n), N_k, x_n, edges)
    ref = int(np.nanargmin(f))
    boot = _bootstrap(samples, windows, edges, mbar.f_k, ref, int(n_bootstraps),
                      np.random.default_rng(seed)) * kT
    dF = _nanstd(boot)
    diff = mbar.compute_free_energy_differences()
    first, second, half_msgs = (_halves(series, dec, decorrelate, windows, edges, kT)
                                if half_split else (np.full_like(f, np.nan),) * 2 + ([],))
    result = PMFResult(
        bin_edges=edges, F_kJ_per_mol=f * kT, dF_kJ_per_mol=dF, temperature_K=temperature_K,
        windows=windows,
        statistical_inefficiency=np.array([d.statistical_inefficiency for d in dec]),
        n_frames=np.array([d.n_frames for d in dec]), n_used=N_k,
        n_effective=np.array([d.n_effective for d in dec]),
        equilibration_start=np.array([d.equilibration_start for d in dec]),
        window_f_kJ_per_mol=diff["Delta_f"][0] * kT,
        window_df_kJ_per_mol=diff["dDelta_f"][0] * kT,
        overlap_matrix=np.asarray(mbar.compute_overlap()["matrix"]),
        counts=np.stack([_counts(s, edges) for s in samples]),
        bootstrap_F_kJ_per_mol=boot, F_first_half_kJ_per_mol=first,
        F_second_half_kJ_per_mol=second, cv_unit=cv_unit)
    result.warnings = all_warnings(result, half_msgs, convergence_tol_kT, min_effective_samples,
                                   MIN_UNCORRELATED_SAMPLES)
    for msg in result.warnings:
        log.warning(msg)
    return result


def _nanstd(a: np.ndarray) -> np.ndarray:
    """Standard deviation (ddof=1) over axis 0 ignoring NaN; NaN where < 2 finite values."""
    n = np.isfinite(a).sum(axis=0)
    out = np.full(a.shape[1:], np.nan)
    ok = n >= 2
    if np.any(ok):
        out[ok] = np.nanstd(a[:, ok], axis=0, ddof=1)
    return out


# --------------------------------------------------------------------------- barriers
def _range_mask(result: PMFResult, cv_range, what: str) -> np.ndarray:
    lo, hi = (float(v) for v in cv_range)
    if not lo < hi:
        raise AnalysisError(f"{what}: CV range must be (low, high) with low < high, got "
                            f"({lo:g}, {hi:g})")
    c = result.bin_centers
    mask = (c >= lo) & (c <= hi) & np.isfinite(result.F_kJ_per_mol)
    if not mask.any():
        raise AnalysisError(
            f"{what}: no PMF bin with samples has its centre in [{lo:g}, {hi:g}]"
            f"{_sp(result.cv_unit)} (PMF spans [{result.bin_edges[0]:g}, "
            f"{result.bin_edges[-1]:g}])")
    return mask


def _state_G(F: np.ndarray, width: np.ndarray, mask: np.ndarray, kT: float) -> np.ndarray:
    """-kT ln sum_{bins in mask} exp(-F/kT) dx for F of shape (..., n_bins); NaN bins skipped."""
    a = np.where(mask & np.isfinite(F), -F / kT + np.log(width), -np.inf)
    amax = np.max(a, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        lse = np.squeeze(amax, -1) + np.log(np.sum(np.exp(a - amax), axis=-1))
    return np.where(np.isfinite(lse), -kT * lse, np.nan)


def free_energy_difference(result: PMFResult, from_range, to_range) -> tuple[float, float]:
    """ΔF = G(to) - G(from) between two CV ranges (states), kJ/mol, with bootstrap sigma.

    ``G(A) = -kT ln sum_{i in A} exp(-F_i / kT) dx_i`` over the populated bins whose centre
    lies in ``A``; sigma is the standard deviation of the same ΔF over the bootstrap PMFs
    (NaN without bootstraps).
    """
    a = _range_mask(result, from_range, "state 'from'")
    b = _range_mask(result, to_range, "state 'to'")
    w, kT = np.diff(result.bin_edges), result.kT_kJ_per_mol
    value = _state_G(result.F_kJ_per_mol, w, b, kT) - _state_G(result.F_kJ_per_mol, w, a, kT)
    boot = result.bootstrap_F_kJ_per_mol
    reps = _state_G(boot, w, b, kT) - _state_G(boot, w, a, kT)
    return float(value), float(_nanstd(reps[:, None])[0])


def min_to_max(result: PMFResult, cv_range) -> dict:
    """Barrier ``max F - min F`` over the bins with centre in ``cv_range`` (kJ/mol).

    Returns a dict with ``dF_kJ_per_mol``, ``sigma_kJ_per_mol`` (bootstrap: the same
    max - min of every replicate PMF), and the CV of the minimum and the maximum.
    """
    mask = _range_mask(result, cv_range, "barrier range")
    F = np.where(mask, result.F_kJ_per_mol, np.nan)
    i_min, i_max = int(np.nanargmin(F)), int(np.nanargmax(F))
    boot = np.where(mask, result.bootstrap_F_kJ_per_mol, np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(boot).any(axis=1)
        reps = np.full(boot.shape[0], np.nan)
        reps[ok] = np.nanmax(boot[ok], axis=1) - np.nanmin(boot[ok], axis=1)
    c = result.bin_centers
    return {"dF_kJ_per_mol": float(F[i_max] - F[i_min]),
            "sigma_kJ_per_mol": float(_nanstd(reps[:, None])[0]),
            "cv_min": float(c[i_min]), "cv_max": float(c[i_max])}


def barriers(result: PMFResult, states: dict | None = None, ranges: dict | None = None) -> dict:
    """JSON-ready summary: ΔF between consecutive named states and min->max over ranges.

    Parameters
    ----------
    states : dict of name -> (low, high), optional
        Named CV ranges; ΔF is reported for every ordered pair (first -> later) in the
        given order.
    ranges : dict of name -> (low, high), optional
        Ranges for min->max barriers (neither given: the whole binned range, named "full").

    Returns
    -------
    dict
        Values in kJ/mol, kT and eV; NaN where undefined (see :func:`write_outputs`).
    """
    kT = result.kT_kJ_per_mol
    states = dict(states or {})
    if not states and not ranges:
        ranges = {"full": (result.bin_edges[0], result.bin_edges[-1])}
    out: dict = {"temperature_K": result.temperature_K, "kT_kJ_per_mol": kT,
                 "n_bootstraps": result.n_bootstraps, "cv_unit": result.cv_unit,
                 "state_differences": [], "barriers": []}
    names = list(states)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            v, s = free_energy_difference(result, states[a], states[b])
            out["state_differences"].append(
                {"from": a, "to": b, "from_range": list(map(float, states[a])),
                 "to_range": list(map(float, states[b])), **_energies(v, s, kT)})
    for name, rng in (ranges or {}).items():
        mm = min_to_max(result, rng)
        out["barriers"].append(
            {"name": name, "range": list(map(float, rng)), "cv_min": mm["cv_min"],
             "cv_max": mm["cv_max"], **_energies(mm["dF_kJ_per_mol"], mm["sigma_kJ_per_mol"],
                                                 kT)})
    return out


def _energies(v: float, s: float, kT: float) -> dict:
    return {"dF_kJ_per_mol": v, "sigma_kJ_per_mol": s, "dF_kT": v / kT, "sigma_kT": s / kT,
            "dF_eV": v / KJ_PER_MOL_PER_EV, "sigma_eV": s / KJ_PER_MOL_PER_EV}
