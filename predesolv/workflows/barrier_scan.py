"""0 K migration barrier of a bare ion between rigid graphene walls (``predesolv barrier-scan``).

The classical analogue of the DFT migration barriers of Ren et al., Nano-Micro Lett. 18:382
(2026), Fig. 4e. For each spacing and stacking, :func:`scan_one` builds the slit with only
the ion (:func:`predesolv.systems.ion_slit.build_ion_slit`) and

1. reads the ion's potential energy off the OpenMM System: with frozen neutral walls it is
   ``E(r) = A T12(r) - B T6(r) + C`` where ``T12 = sum_j S(r_j) r_j^-12``,
   ``T6 = sum_j S(r_j) r_j^-6`` over the carbons within the cutoff (minimum image, ``S`` the
   switching function if the force field uses one) and ``A``, ``B``, ``C`` are fitted by
   least squares to OpenMM energies at 12 ion positions (so pair overrides, combining rule
   and charge scaling are whatever the System holds; the ion's own Ewald energy is the
   position-independent part of ``C``); the fit residual is checked (< 0.01 kJ/mol);
2. minimises over the ion's height z at every point of an in-plane grid over one lattice
   cell: ``E2(x, y) = min_z E``;
3. finds the lowest site and the saddle of the minimum-energy path between equivalent
   sites: the energy at which the set ``{E2 <= E}`` first percolates across the periodic
   cell (union-find with winding numbers, 8-connected grid), i.e. the smallest possible
   highest point of any path from a site to its periodic image;
4. re-evaluates both points with OpenMM (Reference platform) and records the difference.

Barrier = E(saddle) - E(site), in kJ/mol and eV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import openmm
from openmm import unit

from predesolv.analysis.pmf import KJ_PER_MOL_PER_EV
from predesolv.errors import PredesolvRuntimeError, RunDirectoryError
from predesolv.forcefields.nonbonded import PAIR_POTENTIAL_FORCE_NAME
from predesolv.systems.ion_slit import build_ion_slit

from .barrier_output import write_barrier_files

#: Seed DFT barriers (eV) by spacing (nm): Ren et al. 2026, Fig. 4e (≈ 0 read as 0).
SEED_BARRIERS_EV = {0.40: 0.55, 0.45: 0.25, 0.50: 0.0, 0.55: 0.0}
#: Largest allowed misfit of the NumPy energy model against OpenMM (kJ/mol, 1e-4 eV). The
#: single-ion slit has no Coulomb term (measured misfit 1e-10 kJ/mol); with PME the grid error of a
#: lone ion's image energy is ~2e-3 kJ/mol at the default Ewald tolerance.
MAX_FIT_RESIDUAL_KJ = 1e-2
#: Closest approach of the ion to a wall plane considered (nm).
MIN_WALL_GAP_NM = 0.1


@dataclass
class ScanResult:
    """One spacing × stacking: site, saddle, barrier and the checks."""

    spacing_nm: float
    stacking: str
    site_xyz_nm: tuple[float, float, float]
    saddle_xyz_nm: tuple[float, float, float]
    E_site_kJ_per_mol: float
    E_saddle_kJ_per_mol: float
    openmm_check_kJ_per_mol: float
    fit_residual_kJ_per_mol: float
    surface: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))

    @property
    def barrier_kJ_per_mol(self) -> float:
        return self.E_saddle_kJ_per_mol - self.E_site_kJ_per_mol

    @property
    def barrier_eV(self) -> float:
        return self.barrier_kJ_per_mol / KJ_PER_MOL_PER_EV


class IonEnergy:
    """The ion's energy in a frozen neutral slit as ``A T12 - B T6 + C`` (see module doc).

    Parameters
    ----------
    built : BuiltSystem
        From :func:`~predesolv.systems.ion_slit.build_ion_slit` (one ion).
    """

    def __init__(self, built: Any):
        self.built = built
        pos = np.asarray(built.positions.value_in_unit(unit.nanometer))
        self.ion = int(built.metadata.groups["cation"][0])
        self.carbons = pos[np.asarray(built.metadata.groups["electrode"])]
        self.base = pos.copy()
        self.box = np.asarray(built.metadata.ion_slit().box_nm, dtype=float)
        if any(f.getName() == PAIR_POTENTIAL_FORCE_NAME for f in built.system.getForces()):
            raise PredesolvRuntimeError(
                "barrier scan: the force field has a Born-Mayer pair potential "
                "(forcefield.pair_potentials); this scan models 12-6 terms only. Use "
                "predesolv.workflows.na_c_mlip_barrier.classical_barrier for such terms")
        lj = next(f for f in built.system.getForces()
                  if isinstance(f, openmm.CustomNonbondedForce))
        self.cutoff = lj.getCutoffDistance().value_in_unit(unit.nanometer)
        self.switch = (lj.getSwitchingDistance().value_in_unit(unit.nanometer)
                       if lj.getUseSwitchingFunction() else None)
        self.context = openmm.Context(built.system, openmm.VerletIntegrator(0.001),
                                      openmm.Platform.getPlatformByName("Reference"))
        self.coef = np.zeros(3)
        self.fit_residual = float("nan")

    def openmm_energy(self, xyz_nm: np.ndarray) -> float:
        """Total potential energy (kJ/mol) with the ion at ``xyz_nm`` (OpenMM, Reference)."""
        pos = self.base.copy()
        pos[self.ion] = xyz_nm
        self.context.setPositions(pos * unit.nanometer)
        e = self.context.getState(getEnergy=True).getPotentialEnergy()
        return float(e.value_in_unit(unit.kilojoule_per_mole))

    def terms(self, points_nm: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """``(T12, T6)`` at ion positions ``(N, 3)`` → array ``(N, 2)`` (minimum image)."""
        pts = np.atleast_2d(points_nm)
        centre = pts.mean(axis=0)
        spread = float(np.max(np.linalg.norm(pts - centre, axis=1)))
        near = self.carbons
        if self.cutoff + 2 * spread < 0.5 * float(self.box.min()):
            # clustered points: one image per carbon, chosen around their centre
            d0 = self.carbons - centre
            d0 -= self.box * np.round(d0 / self.box)
            near = centre + d0[np.linalg.norm(d0, axis=1) < self.cutoff + spread + 0.01]
        clustered = near is not self.carbons
        c2 = np.sum(near**2, axis=1)
        rc2 = self.cutoff**2
        out = np.empty((len(pts), 2))
        for s in range(0, len(pts), chunk):
            p = pts[s:s + chunk]
            if clustered:  # r^2 = |p|^2 + |c|^2 - 2 p.c (one matrix product, no images)
                r2 = np.maximum(np.sum(p**2, axis=1)[:, None] + c2[None, :] - 2 * p @ near.T,
                                1e-12)
            else:
                d = near[None, :, :] - p[:, None, :]
                d -= self.box * np.round(d / self.box)
                r2 = np.sum(d * d, axis=2)
            w = (r2 < rc2).astype(float)
            if self.switch is not None:
                x = np.clip((np.sqrt(r2) - self.switch) / (self.cutoff - self.switch), 0.0, 1.0)
                w *= 1 - 6 * x**5 + 15 * x**4 - 10 * x**3
            ir6 = w / (r2 * r2 * r2)
            out[s:s + chunk, 0] = np.sum(ir6 / (r2 * r2 * r2), axis=1)
            out[s:s + chunk, 1] = np.sum(ir6, axis=1)
        return out

    def fit(self, rng: np.random.Generator, z_range: tuple[float, float]) -> None:
        """Fit ``A, B, C`` to OpenMM energies at 12 random positions in the slit."""
        lo, hi = z_range
        pts = np.column_stack([rng.uniform(0, self.box[0], 12), rng.uniform(0, self.box[1], 12),
                               rng.uniform(lo, hi, 12)])
        e = np.array([self.openmm_energy(p) for p in pts])
        t = self.terms(pts)
        design = np.column_stack([t[:, 0], -t[:, 1], np.ones(len(pts))])
        self.coef, *_ = np.linalg.lstsq(design, e, rcond=None)
        self.fit_residual = float(np.max(np.abs(design @ self.coef - e)))
        if self.fit_residual > MAX_FIT_RESIDUAL_KJ:
            raise PredesolvRuntimeError(
                f"barrier scan: the ion's energy is not of the form A/r^12 - B/r^6 over the "
                f"carbons (misfit {self.fit_residual:.3g} kJ/mol); the walls must be neutral "
                f"and frozen")

    def plane(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """In-plane squared distances ``(N, M)`` from points ``(N, 2)`` to the carbon images
        (minimum image along x and y) within the cutoff of any point, and their heights
        ``(M,)`` (the box along z is long enough that no z image is within the cutoff)."""
        d = self.carbons[None, :, :2] - xy[:, None, :]
        d -= self.box[:2] * np.round(d / self.box[:2])
        rho2 = np.sum(d * d, axis=2)
        keep = np.any(rho2 < self.cutoff**2, axis=0)
        return rho2[:, keep], self.carbons[keep, 2]

    def energy_at(self, rho2: np.ndarray, zc: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Model energy (kJ/mol) at heights ``z`` ``(N,)`` over the points of ``rho2``."""
        r2 = rho2 + (z[:, None] - zc[None, :]) ** 2
        w = (r2 < self.cutoff**2).astype(float)
        if self.switch is not None:
            x = np.clip((np.sqrt(r2) - self.switch) / (self.cutoff - self.switch), 0.0, 1.0)
            w *= 1 - 6 * x**5 + 15 * x**4 - 10 * x**3
        ir6 = w / (r2 * r2 * r2)
        return (self.coef[0] * np.sum(ir6 / (r2 * r2 * r2), axis=1)
                - self.coef[1] * np.sum(ir6, axis=1) + self.coef[2])

    def energy(self, points_nm: np.ndarray) -> np.ndarray:
        """Model energy (kJ/mol) at ``(N, 3)`` points, same zero as OpenMM's total energy."""
        t = self.terms(points_nm)
        return self.coef[0] * t[:, 0] - self.coef[1] * t[:, 1] + self.coef[2]


def min_over_z(model: IonEnergy, xy: np.ndarray, z_lo: float, z_hi: float,
               dz: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """``min_z E`` at in-plane points ``(N, 2)``: a z grid, then parabolic refinement.

    The in-plane part of every ion–carbon distance is computed once per point
    (:meth:`IonEnergy.plane`), so each trial height costs one pass over the carbons.

    Returns
    -------
    (E, z) : arrays (N,)
    """
    zs = np.linspace(z_lo, z_hi, max(3, int(math.ceil((z_hi - z_lo) / dz)) + 1))
    out_e, out_z = np.empty(len(xy)), np.empty(len(xy))
    for s in range(0, len(xy), 512):
        rho2, zc = model.plane(xy[s:s + 512])
        e = np.stack([model.energy_at(rho2, zc, np.full(len(rho2), z0)) for z0 in zs], axis=1)
        k = np.clip(np.argmin(e, axis=1), 1, len(zs) - 2)
        h, z = zs[1] - zs[0], zs[k]
        for _ in range(6):  # three-point parabola through (z - h, z, z + h), h shrinking
            em, e0, ep = (model.energy_at(rho2, zc, z + t * h) for t in (-1, 0, 1))
            curv = em - 2 * e0 + ep
            step = np.where(curv > 0, 0.5 * h * (em - ep) / np.where(curv > 0, curv, 1), 0.0)
            z = np.clip(z + np.clip(step, -h, h), z_lo, z_hi)
            h /= 4
        out_e[s:s + 512], out_z[s:s + 512] = model.energy_at(rho2, zc, z), z
    return out_e, out_z


def percolation_saddle(surface: np.ndarray) -> tuple[int, int]:
    """Grid index of the saddle of the lowest path from a minimum to its periodic image.

    ``surface`` (nx, ny) is periodic in both directions. Nodes are added in order of
    energy (union-find, 8 neighbours, each node's offset to its root counted in periods);
    the node whose addition closes a loop that winds around the cell is the saddle.
    """
    nx, ny = surface.shape
    parent = np.arange(nx * ny)
    offset = np.zeros((nx * ny, 2), dtype=int)
    added = np.zeros(nx * ny, dtype=bool)

    def find(i: int) -> tuple[int, np.ndarray]:
        off = np.zeros(2, dtype=int)
        while parent[i] != i:
            off += offset[i]
            i = parent[i]
        return i, off

    for node in np.argsort(surface, axis=None):
        added[node] = True
        ix, iy = divmod(int(node), ny)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                if not (dx or dy):
                    continue
                jx, jy = ix + dx, iy + dy
                shift = np.array([jx // nx, jy // ny])
                other = (jx % nx) * ny + jy % ny
                if not added[other]:
                    continue
                ra, oa = find(int(node))  # node's base image sits at period oa of ra
                rb, ob = find(other)
                want = oa + shift  # period of the touching image of `other` in ra's frame
                if ra == rb:
                    if np.any(want != ob):
                        return ix, iy  # a loop that winds around the cell
                    continue
                parent[rb] = ra
                offset[rb] = want - ob
    raise PredesolvRuntimeError("barrier scan: no percolating path found")


def _grid_points(cell: tuple[float, float], origin: np.ndarray, grid_nm: float
                 ) -> tuple[np.ndarray, int, int]:
    """In-plane grid over one lattice cell; counts are multiples of 6 (so the honeycomb's
    high-symmetry points — sites, bridges, hollows — lie on it)."""
    nx = 6 * max(1, round(cell[0] / grid_nm / 6))
    ny = 6 * max(1, round(cell[1] / grid_nm / 6))
    gx = origin[0] + np.arange(nx) * cell[0] / nx
    gy = origin[1] + np.arange(ny) * cell[1] / ny
    xy = np.column_stack([np.repeat(gx, ny), np.tile(gy, nx)])
    return xy, nx, ny


def scan_one(spacing_nm: float, stacking: str, *, edge: str = "zigzag",
             layers_per_wall: int = 1, forcefield: Any = None, grid_nm: float = 0.005,
             seed: int = 0) -> ScanResult:
    """Site, saddle and barrier of one bare Na+ at one spacing and stacking (see module)."""

    built = build_ion_slit(spacing_nm, ("Na",), stacking=stacking, edge=edge,
                           layers_per_wall=layers_per_wall, forcefield=forcefield)
    geo = built.metadata.ion_slit()
    mid = geo.midplane_z_nm
    z_lo, z_hi = mid - spacing_nm / 2 + MIN_WALL_GAP_NM, mid + spacing_nm / 2 - MIN_WALL_GAP_NM
    model = IonEnergy(built)
    model.fit(np.random.default_rng(seed), (z_lo, z_hi))
    cell = geo.cell_nm
    origin = np.array([(geo.n_cells[0] // 2) * cell[0], (geo.n_cells[1] // 2) * cell[1]])
    xy, nx, ny = _grid_points(cell, origin, grid_nm)
    e2, z = min_over_z(model, xy, z_lo, z_hi)
    surface = e2.reshape(nx, ny)
    site = int(np.argmin(e2))
    sx, sy = percolation_saddle(surface)
    saddle = sx * ny + sy
    p_site = np.array([*xy[site], z[site]])
    p_saddle = np.array([*xy[saddle], z[saddle]])
    check = max(abs(model.openmm_energy(p) - float(model.energy(p[None])[0]))
                for p in (p_site, p_saddle))
    lower_wall = mid - spacing_nm / 2
    return ScanResult(
        spacing_nm, stacking,
        (float(p_site[0] - origin[0]), float(p_site[1] - origin[1]), float(z[site] - lower_wall)),
        (float(p_saddle[0] - origin[0]), float(p_saddle[1] - origin[1]),
         float(z[saddle] - lower_wall)),
        float(e2[site]), float(e2[saddle]), float(check), model.fit_residual,
        surface - e2[site])


def pair_parameters(model: IonEnergy) -> tuple[float, float]:
    """Effective Na–C Lennard-Jones (sigma nm, epsilon kJ/mol) of the fitted ``A``, ``B``
    (``A = 4 eps sigma^12``, ``B = 4 eps sigma^6``)."""
    a, b = float(model.coef[0]), float(model.coef[1])
    return (a / b) ** (1 / 6), b * b / (4 * a)


@dataclass
class BarrierTable:
    """Every case of one ``barrier-scan`` call and the files written."""

    results: list[ScanResult]
    forcefield: dict[str, Any]
    files: dict[str, Any]

    def rows(self) -> list[dict[str, Any]]:
        """One row per spacing × stacking (the columns of ``barriers.csv``)."""
        out = []
        for r in self.results:
            seed = SEED_BARRIERS_EV.get(round(r.spacing_nm, 3))
            out.append({
                "spacing_nm": r.spacing_nm, "stacking": r.stacking,
                "barrier_eV": r.barrier_eV, "barrier_kJ_per_mol": r.barrier_kJ_per_mol,
                "seed_barrier_eV": float("nan") if seed is None else seed,
                "site_x_nm": r.site_xyz_nm[0], "site_y_nm": r.site_xyz_nm[1],
                "site_height_nm": r.site_xyz_nm[2], "saddle_x_nm": r.saddle_xyz_nm[0],
                "saddle_y_nm": r.saddle_xyz_nm[1], "saddle_height_nm": r.saddle_xyz_nm[2],
                "openmm_check_kJ_per_mol": r.openmm_check_kJ_per_mol,
                "fit_residual_kJ_per_mol": r.fit_residual_kJ_per_mol})
        return out


def effective_pair(forcefield: Any = None, edge: str = "zigzag", spacing_nm: float = 0.5
                   ) -> tuple[float, float]:
    """The Na–C Lennard-Jones pair (sigma nm, epsilon kJ/mol) a force field gives: ``A`` and
    ``B`` fitted to OpenMM energies of a lone Na+ near the mid-plane of a rigid slit."""

    model = IonEnergy(build_ion_slit(spacing_nm, ("Na",), forcefield=forcefield,
                                     stacking="AA", edge=edge))
    mid = model.built.metadata.ion_slit().midplane_z_nm
    model.fit(np.random.default_rng(1), (mid - 0.1, mid + 0.1))
    return pair_parameters(model)


def forcefield_summary(cfg: Any, spacing_nm: float = 0.5) -> dict[str, Any]:
    """What the scan's energies come from: the effective Na–C pair and the settings."""
    sigma, eps = effective_pair(cfg.forcefield, cfg.barrier_scan.edge, spacing_nm)
    ff = cfg.forcefield
    return {
        "ion_type": "NA_Na (predesolv-electrolytes.xml)",
        "carbon_type": "CAR_C (predesolv-carbon.xml: Cheng & Steele 1990 graphite LJ)",
        "na_c_sigma_nm": sigma, "na_c_epsilon_kJ_per_mol": eps,
        "combining_rule": ff.combining_rule,
        "pair_overrides": [o.model_dump(mode="json") for o in ff.pair_overrides],
        "nonbonded_cutoff_nm": ff.nonbonded_cutoff.value_in_unit(unit.nanometer),
        "switch_distance_nm": None if ff.switch_distance is None
        else ff.switch_distance.value_in_unit(unit.nanometer),
        "walls": "rigid neutral graphene, periodic in x and y, C-C 0.142 nm",
        "edge_orientation": cfg.barrier_scan.edge,
        "layers_per_wall": cfg.barrier_scan.layers_per_wall,
    }


def run_barrier_scan(cfg: Any, out: Any = None, overwrite: bool = False,
                     progress: bool = True) -> BarrierTable:
    """Every spacing × stacking of a :class:`~predesolv.config.barrier.BarrierScanConfig`;
    writes ``barriers.csv``, ``barriers.json`` and ``barriers.png`` into the output folder.

    Raises
    ------
    RunDirectoryError
        The folder already holds a scan and ``overwrite`` is False.
    """
    import sys
    from pathlib import Path


    folder = Path(out or cfg.output.directory).absolute()
    if (folder / "barriers.csv").exists() and not overwrite:
        raise RunDirectoryError(f"--out: {folder} already holds a barrier scan; use "
                                f"--overwrite to replace it or choose another --out")
    s = cfg.barrier_scan
    results = []
    for d in s.spacings:
        for st in s.stackings:
            r = scan_one(d.value_in_unit(unit.nanometer), st, edge=s.edge,
                         layers_per_wall=s.layers_per_wall, forcefield=cfg.forcefield,
                         grid_nm=s.grid.value_in_unit(unit.nanometer))
            results.append(r)
            if progress:
                sys.stderr.write(f"predesolv: d = {r.spacing_nm:.3f} nm {st}: barrier "
                                 f"{r.barrier_eV:.4f} eV\n")
    table = BarrierTable(results, forcefield_summary(cfg), {})

    table.files = write_barrier_files(table, folder)
    return table
