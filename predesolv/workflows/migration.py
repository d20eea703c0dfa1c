"""The straight hop of a bare ion between rigid graphene walls, and its exact free energy.

The finite-temperature counterpart of :mod:`predesolv.workflows.barrier_scan`: an umbrella
PMF along one straight hop between neighbouring equivalent sites of an ion slit
(:func:`predesolv.systems.ion_slit.build_ion_slit`, zigzag edge), and the same profile by
direct numerical integration of the same force field, so that the PMF can be checked
against an answer that has no sampling error.

* **AB** stacking: the hop runs along x through a lattice point (a saddle); the
  sites lie near x = ±0.1 nm. y and z are free.
* **AA** stacking: the sites are the hexagon centres of both sheets and the saddle is the
  midpoint of a C–C bond (a bridge). The hop runs along y, perpendicular to an x-oriented
  bond, from hexagon centre to hexagon centre (0.123 nm either side). The plane through the
  saddle perpendicular to the hop also holds hexagon centres 0.213 nm away in x, so a CV on
  y alone would count them: F(y) then shows 0.53 eV at 0.40 nm where the hop costs 1.2 eV
  (default term). A flat-bottom wall keeps the ion within :data:`AA_CHANNEL_NM` in x of the
  bond midpoint; the bond's carbons lie 0.071 nm either side of it, so the wall acts only
  where the ion would climb onto an atom on its way to the next channel. The exact integral
  carries the same wall.

The exact profile is ``F(s) = -kT ln sum exp(-E/kT)`` over the in-plane coordinate the CV
leaves free (one lattice period, plus the wall's energy) and over z (the slit, 0.1 nm from
each wall plane), with ``E`` from :class:`~predesolv.workflows.barrier_scan.IonEnergy`
(fitted to, and checked against, the OpenMM System).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from openmm import unit

from predesolv.analysis.pmf import KB_KJ_PER_MOL_K
from predesolv.errors import PredesolvRuntimeError
from predesolv.workflows.barrier_scan import MIN_WALL_GAP_NM, IonEnergy

#: AA: half-width (nm) of the channel the wall across the hop leaves free.
AA_CHANNEL_NM = 0.06
#: AA: force constant of that wall (kJ/mol/nm²).
AA_WALL_K = 50000.0


@dataclass(frozen=True)
class Hop:
    """One straight hop of an ion slit.

    Attributes
    ----------
    axis : {"x", "y"}
        The CV: the ion's coordinate along this axis, measured from ``origin_nm``.
    origin_nm : float
        The saddle's coordinate on ``axis`` (nm).
    wall : (axis, centre_nm, half_width_nm, k_kJ_per_mol_nm2) or None
        The flat-bottom wall across the hop (AA), or none (AB).
    """

    axis: str
    origin_nm: float
    wall: tuple[str, float, float, float] | None = None

    def pmf_block(self, group: str) -> dict[str, Any]:
        """The ``pmf.cv`` and ``pmf.walls`` entries (YAML form) of this hop for ``group``."""
        cv = {"type": "position", "group": group, "axis": self.axis,
              "origin": f"{self.origin_nm:.6f} nm"}
        if self.wall is None:
            return {"cv": cv, "walls": []}
        axis, centre, width, k = self.wall
        wall = {"cv": {"type": "position", "group": group, "axis": axis,
                       "origin": f"{centre:.6f} nm"},
                "lower": f"{-width} nm", "upper": f"{width} nm", "k": f"{k} kJ/mol/nm**2"}
        return {"cv": cv, "walls": [wall]}


def hop_geometry(built: Any, channel_nm: float = AA_CHANNEL_NM,
                 wall_k: float = AA_WALL_K) -> Hop:
    """The hop of a built ion slit (zigzag edge; see the module doc).

    AB: along x through the lattice point at the start of cell ``n_x // 2`` (the barrier
    scan's origin; the box centre when ``n_x`` is even, as with the default cutoff). AA:
    along y through the midpoint of the x-oriented C–C bond of the lower slit wall nearest
    the box centre, with a wall ``channel_nm`` wide on either side in x (force constant
    ``wall_k``, kJ/mol/nm²).
    """
    geo = built.metadata.ion_slit()
    if geo.edge != "zigzag":
        raise PredesolvRuntimeError(f"migration hop: only the zigzag edge is set up, got "
                                    f"edge {geo.edge!r}")
    box = np.asarray(geo.box_nm, dtype=float)
    if geo.stacking == "AB":
        return Hop("x", (geo.n_cells[0] // 2) * geo.cell_nm[0])
    pos = np.asarray(built.positions.value_in_unit(unit.nanometer))
    carbons = pos[built.metadata.groups.get("electrode")]
    lower = geo.midplane_z_nm - geo.spacing_nm / 2
    sheet = carbons[np.abs(carbons[:, 2] - lower) < 1e-6, :2]
    bond = geo.bond_nm
    d = sheet[None, :, :] - sheet[:, None, :]
    i, j = np.nonzero((np.abs(d[..., 1]) < 1e-6) & (np.abs(d[..., 0] - bond) < 1e-6))
    if not len(i):
        raise PredesolvRuntimeError("migration hop: no x-oriented C-C bond in the lower wall")
    mids = (sheet[i] + sheet[j]) / 2
    m = mids[np.argmin(np.sum((mids - box[:2] / 2) ** 2, axis=1))]
    return Hop("y", float(m[1]), ("x", float(m[0]), channel_nm, wall_k))


def exact_profile(built: Any, hop: Hop, s_nm: np.ndarray, temperature_K: float = 300.0,
                  n_free: int = 60, n_z: int = 41) -> np.ndarray:
    """Exact F along the hop (kJ/mol, minimum 0) for the ion of ``built``.

    Parameters
    ----------
    built : BuiltSystem
        An ion slit with one ion.
    hop : Hop
        From :func:`hop_geometry`.
    s_nm : array (N,)
        CV values from the hop's origin (nm).
    temperature_K : float
    n_free, n_z : int
        Grid points over one lattice period of the free in-plane coordinate, and over z.

    Returns
    -------
    array (N,)
    """
    geo = built.metadata.ion_slit()
    d, mid = geo.spacing_nm, geo.midplane_z_nm
    lo, hi = mid - d / 2 + MIN_WALL_GAP_NM, mid + d / 2 - MIN_WALL_GAP_NM
    model = IonEnergy(built)
    model.fit(np.random.default_rng(0), (lo, hi))
    a, b = (0, 1) if hop.axis == "x" else (1, 0)
    period = geo.cell_nm[b]
    centre = hop.wall[1] if hop.wall else geo.box_nm[b] / 2
    free = centre + period * (np.arange(n_free) / n_free - 0.5)
    wall = np.zeros_like(free)
    if hop.wall:
        wall = 0.5 * hop.wall[3] * np.maximum(0.0, np.abs(free - centre) - hop.wall[2]) ** 2
    zs = np.linspace(lo, hi, n_z)
    kT = KB_KJ_PER_MOL_K * temperature_K
    ff, zz = np.meshgrid(free, zs, indexing="ij")
    out = []
    for s in np.asarray(s_nm, dtype=float):
        pts = np.empty((ff.size, 3))
        pts[:, a], pts[:, b], pts[:, 2] = hop.origin_nm + s, ff.ravel(), zz.ravel()
        e = model.energy(pts) + np.repeat(wall, n_z)
        out.append(-kT * np.log(np.sum(np.exp(-(e - e.min()) / kT))) + e.min())
    f = np.asarray(out)
    return f - f.min()
