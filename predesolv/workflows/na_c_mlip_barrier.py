"""0 K migration barrier of one Na⁺ between rigid sheets under a fitted classical Na–C form.

The classical *prediction* of Ren et al.'s Fig. 4e from a term fitted to MLIP energies
(:mod:`predesolv.workflows.na_c_mlip_fit`), on the same carbon as the data
(:func:`predesolv.workflows.na_c_mlip_data.carbon`). Method as ``predesolv barrier-scan``:
an in-plane grid over one rectangular graphene cell (spacing :data:`GRID_NM`, counts multiples
of 6 so sites, bridges and hollows lie on it), the energy minimised over the height at each
point (a :data:`DZ_NM` grid, then the vertex of the parabola through the lowest point and its
two neighbours), and the saddle of the lowest path from a site to its periodic
image found by percolation (:func:`predesolv.workflows.barrier_scan.percolation_saddle`).
Barrier = E(saddle) − E(site) (eV).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from predesolv.systems.closed_pore import lateral_sites
from predesolv.systems.graphene import cell_dimensions

from .barrier_scan import _grid_points, percolation_saddle
from .na_c_mlip_data import FAR_GAP_NM, carbon, images_near
from .na_c_mlip_fit import CUTOFF_NM, FORMS, POWERS, SIGNS, FormFit

#: In-plane grid spacing (nm) and height step (nm) of the scan.
GRID_NM = 0.01
DZ_NM = 0.005
#: Closest approach of the ion to a carbon plane in the scan (nm).
MIN_GAP_NM = 0.15


@dataclass(frozen=True)
class ClassicalBarrier:
    """Site, saddle and barrier of one spacing and stacking.

    Attributes
    ----------
    spacing_nm : float
    stacking : str
    barrier_eV : float
    site_height_nm : float
        Height of the lowest site above the lower plane (nm).
    """

    spacing_nm: float
    stacking: str
    barrier_eV: float
    site_height_nm: float


def energies(fit: FormFit, points_nm: np.ndarray, carbons_nm: np.ndarray,
             chunk: int = 2048) -> np.ndarray:
    """The form's MD energy (eV, no constant) at points ``(N, 3)`` over carbons ``(M, 3)``
    (already the periodic images that matter), cutoff :data:`CUTOFF_NM`."""
    names = [n for n in FORMS[fit.form] if n != "c"]
    rho, lam = fit.rho_nm or 1.0, fit.lam_nm or 1.0
    out = np.empty(len(points_nm))
    for s in range(0, len(points_nm), chunk):
        p = points_nm[s:s + chunk]
        r = np.linalg.norm(p[:, None, :] - carbons_nm[None, :, :], axis=2)
        r = np.where(r < CUTOFF_NM, r, np.inf)
        total = np.zeros(len(p))
        for n in names:
            if n == "A":
                total += fit.coef_eV[n] * np.sum(np.exp(-r / rho), axis=1)
            elif n == "D":
                total -= fit.coef_eV[n] * np.sqrt(np.sum(np.exp(-r / lam), axis=1))
            else:
                total += SIGNS[n] * fit.coef_eV[n] * np.sum(r ** POWERS[n], axis=1)
        out[s:s + chunk] = total
    return out


def classical_barrier(fit: FormFit, spacing_nm: float, stacking: str) -> ClassicalBarrier:
    """Barrier of one Na⁺ hopping between equivalent sites (module docstring)."""
    pore = carbon(spacing_nm, stacking)
    z_lo, z_hi = pore.region("cavity").z_nm
    cell = cell_dimensions("zigzag")
    origin = np.floor(pore.box_nm[:2] / 2 / cell) * cell
    xy, nx, ny = _grid_points(cell, origin, GRID_NM)
    zs = np.arange(z_lo + MIN_GAP_NM, z_hi - MIN_GAP_NM + 1e-9, DZ_NM)
    centre = np.array([*(origin + np.array(cell) / 2), (z_lo + z_hi) / 2])
    near = images_near(pore.positions_nm, pore.box_nm, centre, CUTOFF_NM + 0.6)
    pts = np.column_stack([np.repeat(xy, len(zs), axis=0), np.tile(zs, len(xy))])
    e = energies(fit, pts, near).reshape(len(xy), len(zs))
    k = np.clip(np.argmin(e, axis=1), 1, len(zs) - 2)
    rows = np.arange(len(xy))
    em, e0, ep = e[rows, k - 1], e[rows, k], e[rows, k + 1]
    curv = em - 2 * e0 + ep
    # vertex of the parabola through the three heights around the grid minimum
    e2 = np.where(curv > 0, e0 - (em - ep) ** 2 / (8 * np.where(curv > 0, curv, 1)), e0)
    sx, sy = percolation_saddle(e2.reshape(nx, ny))
    site = int(np.argmin(e2))
    return ClassicalBarrier(spacing_nm, stacking, float(e2[sx * ny + sy] - e2[site]),
                            float(zs[k[site]] - z_lo))


def sheet_well(fit: FormFit, dz_nm: float = 0.001) -> tuple[float, float]:
    """Lowest MD energy of one Na⁺ over a single sheet (eV, the constant left out) and its
    height (nm): hollow, top and bridge sites, heights 0.15–0.80 nm."""
    pore = carbon(FAR_GAP_NM, "-")
    z0 = pore.region("cavity").z_nm[0]
    zs = np.arange(0.15, 0.80 + 1e-9, dz_nm)
    near = images_near(pore.positions_nm, pore.box_nm,
                       np.array([*pore.box_nm[:2] / 2, z0 + 0.4]), CUTOFF_NM + 0.8)
    best = (np.inf, np.nan)
    for xy in lateral_sites(pore).values():
        pts = np.column_stack([np.full((len(zs), 2), xy), z0 + zs])
        e = energies(fit, pts, near)
        k = int(np.argmin(e))
        if e[k] < best[0]:
            best = (float(e[k]), float(zs[k]))
    return best
