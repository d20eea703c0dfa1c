"""Number-density profiles and mean-squared displacements / self-diffusion by region."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import MDAnalysis as mda
import numpy as np
import pandas as pd
from MDAnalysis.lib.distances import minimize_vectors
from tqdm import tqdm

from predesolv.errors import AnalysisError

from .geometry import AXES, Geometry
from .units import A2_PER_PS_IN_M2_PER_S, NM2_PER_A2, angstrom_to_nm, nm_to_angstrom

ALL = "all"


def _frames(universe: mda.Universe, start, stop, step, verbose: bool = False, desc: str = ""):
    """Iterate the sliced trajectory (a tqdm bar when ``verbose``)."""
    frames = universe.trajectory[slice(start, stop, step)]
    return tqdm(frames, desc=desc, disable=not verbose, leave=False)


def density_profiles(
    universe: mda.Universe,
    groups: Mapping[str, mda.AtomGroup],
    axis: str = "z",
    bin_nm: float = 0.02,
    start: int | None = None,
    stop: int | None = None,
    step: int | None = None,
    verbose: bool = False,
) -> pd.DataFrame:
    """Number density of each group along one box axis, averaged over frames.

    Positions are wrapped into ``[0, L)``; the bin volume is ``bin * (box cross-section)``
    of each frame (orthorhombic boxes).

    Returns
    -------
    pandas.DataFrame
        ``<axis>_nm`` (bin centre, nm) and ``rho_<name>_nm-3`` (atoms per nm³) per group.
    """
    if axis not in AXES:
        raise AnalysisError(f"density axis must be x, y or z, got {axis!r}")
    if not bin_nm > 0:
        raise AnalysisError(f"density bin width must be > 0 nm, got {bin_nm}")
    for name, ag in groups.items():
        if ag.n_atoms == 0:
            raise AnalysisError(f"density group {name!r} is empty")
    a = AXES[axis]
    L0 = float(universe.dimensions[a])
    nb = max(1, int(np.ceil(L0 / nm_to_angstrom(bin_nm))))
    hist = {n: np.zeros(nb) for n in groups}
    n_frames = 0
    for ts in _frames(universe, start, stop, step, verbose, f"density {axis}"):
        if ts.dimensions is None:
            raise AnalysisError("density profiles need a periodic box; the trajectory has none")
        L = ts.dimensions[:3].astype(float)
        other = [i for i in range(3) if i != a]
        Lnm = angstrom_to_nm(L)
        vol_bin = Lnm[other[0]] * Lnm[other[1]] * Lnm[a] / nb
        for n, ag in groups.items():
            c = np.mod(ag.positions[:, a], L[a]) / L[a]
            idx = np.minimum((c * nb).astype(np.int64), nb - 1)
            hist[n] += np.bincount(idx, minlength=nb) / vol_bin
        n_frames += 1
    if n_frames == 0:
        raise AnalysisError("no frames selected for the density profile")
    edges = np.linspace(0.0, angstrom_to_nm(L0), nb + 1)
    out = {f"{axis}_nm": 0.5 * (edges[1:] + edges[:-1])}
    for n in groups:
        out[f"rho_{n}_nm-3"] = hist[n] / n_frames
    return pd.DataFrame(out)


def slit_plane_axes(geometry: Geometry) -> tuple[int, int]:
    """Axes spanning the slit plane: all but the narrowest bounded non-insertion axis.

    Without regions the plane is ``xy``.
    """
    best = None
    for reg in geometry.regions:
        for ax, (lo, hi) in reg.bounds_nm.items():
            if ax == geometry.axis:
                continue
            if best is None or hi - lo < best[1]:
                best = (AXES[ax], hi - lo)
        if best is not None:
            break
    normal = 2 if best is None else best[0]
    a, b = (i for i in range(3) if i != normal)
    return a, b


def unwrapped_positions(
    universe: mda.Universe, atoms: mda.AtomGroup, start=None, stop=None, step=None,
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of single atoms made continuous across periodic boundaries.

    Each frame-to-frame displacement is replaced by its minimum image (valid while no atom
    moves more than half a box edge between stored frames; triclinic boxes supported).

    Returns
    -------
    unwrapped : ndarray, shape (n_frames, n_atoms, 3)
        Å.
    wrapped : ndarray, shape (n_frames, n_atoms, 3)
        Positions as read, Å.
    boxes : ndarray, shape (n_frames, 6)
    """
    wrapped, boxes = [], []
    for ts in _frames(universe, start, stop, step, verbose, "MSD positions"):
        wrapped.append(atoms.positions.copy())
        boxes.append(ts.dimensions.copy())
    if not wrapped:
        raise AnalysisError("no frames selected for the MSD")
    w = np.asarray(wrapped, dtype=np.float64)
    out = w.copy()
    for t in range(1, len(w)):
        d = (w[t] - w[t - 1]).astype(np.float32)
        out[t] = out[t - 1] + minimize_vectors(d, boxes[t].astype(np.float32))
    return out, w, np.asarray(boxes)


def _lags(n_frames: int, max_lag: int, n_lags: int = 120) -> np.ndarray:
    if max_lag <= n_lags:
        return np.arange(1, max_lag + 1)
    return np.unique(np.geomspace(1, max_lag, n_lags).astype(np.int64))


def msd_by_region(
    universe: mda.Universe,
    atoms: mda.AtomGroup,
    geometry: Geometry | None = None,
    dt_ps: float = 1.0,
    max_lag: int | None = None,
    fit_range: tuple[float, float] = (0.1, 0.5),
    plane_axes: Sequence[int] | None = None,
    start=None,
    stop=None,
    step=None,
    verbose: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Windowed MSD per region and self-diffusion coefficients.

    A (atom, origin, lag) sample counts for a region only if the atom stays in that region
    for every frame from the origin to origin + lag (``"all"``: no condition, the usual MSD).
    Both the 3D MSD and the 2D MSD in the slit plane are computed for every region; use
    ``D_3d`` in bulk and ``D_2d`` inside the slit.

    Parameters
    ----------
    atoms : AtomGroup
        Single-atom particles (ions or one atom per molecule).
    dt_ps : float
        Time between analysed frames (ps).
    max_lag : int, optional
        Largest lag (analysed frames); default half the frames.
    fit_range : (float, float)
        Fraction of the largest lag time between which MSD = a + 2 d D t is fitted.
    plane_axes : pair of int, optional
        Axes of the 2D MSD; default :func:`slit_plane_axes`.

    Returns
    -------
    msd : pandas.DataFrame
        ``region``, ``lag_ps``, ``msd_3d_nm2``, ``msd_2d_nm2``, ``n_samples``.
    diffusion : pandas.DataFrame
        ``region``, ``D_3d_m2_s``, ``D_2d_m2_s`` (m²/s), ``fit_start_ps``, ``fit_end_ps``,
        ``n_samples`` (samples in the fit window).
    """
    geometry = geometry if geometry is not None else Geometry()
    if atoms.n_atoms == 0:
        raise AnalysisError("MSD atom selection is empty")
    if not 0 <= fit_range[0] < fit_range[1] <= 1:
        raise AnalysisError(f"fit_range must satisfy 0 <= lo < hi <= 1, got {fit_range}")
    X, W, boxes = unwrapped_positions(universe, atoms, start, stop, step, verbose)
    n = len(X)
    if n < 3:
        raise AnalysisError("MSD needs at least 3 frames")
    max_lag = n // 2 if max_lag is None else min(int(max_lag), n - 1)
    pa = list(plane_axes) if plane_axes is not None else list(slit_plane_axes(geometry))
    codes = np.stack([geometry.assign(W[t], boxes[t]) for t in range(n)])
    lags = _lags(n, max(1, max_lag))
    names = [(ALL, None)] + [(nm, i) for i, nm in enumerate(geometry.region_names)]
    rows, drows = [], []
    for name, code in names:
        if code is not None and not (codes == code).any():
            continue
        m3, m2, ns = _windowed_msd(X, _stay_lengths(codes, code), lags, pa)
        t = lags * dt_ps
        rows.append(pd.DataFrame({"region": name, "lag_ps": t, "msd_3d_nm2": m3 * NM2_PER_A2,
                                  "msd_2d_nm2": m2 * NM2_PER_A2, "n_samples": ns}))
        drows.append({"region": name, **_fit_diffusion(t, m3, m2, ns, fit_range)})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(drows)


def _stay_lengths(codes: np.ndarray, code: int | None) -> np.ndarray:
    """Frames (shape like ``codes``) each atom stays in region ``code`` from each origin
    on, counting the origin; larger than any lag for ``None`` (no condition)."""
    n = len(codes)
    if code is None:
        return np.full(codes.shape, n + 1)
    inside = codes == code
    stay = np.zeros(codes.shape, dtype=np.int64)
    stay[-1] = inside[-1]
    for t in range(n - 2, -1, -1):
        stay[t] = (stay[t + 1] + 1) * inside[t]
    return stay


def _windowed_msd(X: np.ndarray, stay: np.ndarray, lags: np.ndarray, plane: list[int]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3D and in-plane MSD (Å²) and sample counts per lag over (atom, origin) samples that
    stay in the region for the whole lag."""
    m3, m2, ns = [], [], []
    for k in lags:
        d = X[k:] - X[:-k]
        ok = stay[:-k] > k
        cnt = int(ok.sum())
        sq = d * d
        m3.append(sq.sum(-1)[ok].mean() if cnt else np.nan)
        m2.append(sq[..., plane].sum(-1)[ok].mean() if cnt else np.nan)
        ns.append(cnt)
    return np.array(m3), np.array(m2), np.array(ns)


def _fit_diffusion(t: np.ndarray, m3: np.ndarray, m2: np.ndarray, ns: np.ndarray,
                   fit_range: tuple[float, float]) -> dict[str, float]:
    """D from MSD = a + 2 d D t over the fit window (fractions of the largest lag)."""
    good = ns > 0
    if good.sum() < 2:
        return {"D_3d_m2_s": np.nan, "D_2d_m2_s": np.nan, "fit_start_ps": np.nan,
                "fit_end_ps": np.nan, "n_samples": 0}
    tmax = t[good].max()
    win = good & (t >= fit_range[0] * tmax) & (t <= fit_range[1] * tmax)
    if win.sum() < 2:
        win = good
    return {"D_3d_m2_s": np.polyfit(t[win], m3[win], 1)[0] / 6.0 * A2_PER_PS_IN_M2_PER_S,
            "D_2d_m2_s": np.polyfit(t[win], m2[win], 1)[0] / 4.0 * A2_PER_PS_IN_M2_PER_S,
            "fit_start_ps": float(t[win].min()), "fit_end_ps": float(t[win].max()),
            "n_samples": int(ns[win].sum())}


