"""Fit an explicit Na+–graphene-carbon LJ pair term to DFT targets (``predesolv fit-na-c``).

Targets (see ``docs/free_energy.md``, "Fitted Na–C term"):

* the 0 K migration barriers of a bare Na+ between rigid graphene sheets at d = 0.40, 0.45,
  0.50, 0.55 nm of Ren et al., Nano-Micro Lett. 18:382 (2026), Fig. 4e (0.55, 0.25, ≈0, ≈0 eV;
  :data:`~predesolv.workflows.barrier_scan.SEED_BARRIERS_EV`);
* the height of Na+ above one graphene sheet from DFT (B3LYP, graphene cluster),
  ≈ 0.225 nm (:data:`TARGET_HEIGHT_NM`).

Method. With neutral frozen walls the ion's energy is the Na–C pair sum only, so for a
12-6 term ``E = 4 eps [sigma^12 T12 - sigma^6 T6]`` (``T12``, ``T6`` as in
:mod:`~predesolv.workflows.barrier_scan`) the whole barrier surface scales with ``eps`` at
fixed ``sigma``. For each ``sigma`` on a grid the scan (min over the height, percolation
saddle) is done once with ``eps = 1``; the best ``eps`` for the barriers is then a one-line
least-squares solution, and the objective

    sum_d ((eps b_d(sigma) - B_d) / tol_B)^2 + ((h(sigma) - h0) / tol_h)^2

(``tol_B`` = 0.05 eV, ``tol_h`` = 0.01 nm) is minimised over ``sigma`` (grid, then a finer
grid around the best point). The result is checked through OpenMM: full ``barrier-scan``
cases with the fitted pair override, AA and AB.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from predesolv.analysis.pipeline import strict_json
from predesolv.analysis.pmf import KJ_PER_MOL_PER_EV
from predesolv.atomic import atomic_write_json
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.forcefields.parameter_sets import write_set
from predesolv.systems.ion_slit import build_ion_slit
from predesolv.version import __version__
from predesolv.workflows.barrier_scan import (
    MIN_WALL_GAP_NM,
    SEED_BARRIERS_EV,
    IonEnergy,
    _grid_points,
    effective_pair,
    min_over_z,
    percolation_saddle,
    scan_one,
)

from .na_c_fit_plot import plot_fit

#: DFT height of Na+ above a graphene sheet (nm): B3LYP on a graphene cluster, 0.224–0.226 nm.
TARGET_HEIGHT_NM = 0.225
#: Tolerances that weight the objective (eV for barriers, nm for the height).
BARRIER_TOL_EV = 0.05
HEIGHT_TOL_NM = 0.01
#: Atom types of the fitted pair: the Na+ of predesolv-electrolytes.xml and basal-plane
#: graphene carbon of predesolv-carbon.xml (edge, H-bearing and doped carbons keep the default).
ION_TYPE, CARBON_TYPE = "NA_Na", "CAR_C"
#: Spacing of the one-sheet case (nm): the far sheet is beyond the 1.0 nm cutoff.
ONE_SHEET_SPACING_NM = 1.6


@dataclass
class SlitScan:
    """One rigid slit with its scan grid; energies for eps = 1 at any sigma."""

    model: IonEnergy
    xy: np.ndarray
    shape: tuple[int, int]
    z_range: tuple[float, float]
    wall_z: float

    @classmethod
    def build(cls, spacing_nm: float, stacking: str, grid_nm: float,
              z_above_wall: float | None = None) -> SlitScan:

        built = build_ion_slit(spacing_nm, ("Na",), stacking=stacking, edge="zigzag",
                               layers_per_wall=1)
        geo = built.metadata.ion_slit()
        mid, cell = geo.midplane_z_nm, geo.cell_nm
        origin = np.array([(geo.n_cells[0] // 2) * cell[0], (geo.n_cells[1] // 2) * cell[1]])
        xy, nx, ny = _grid_points(cell, origin, grid_nm)
        wall = mid - spacing_nm / 2
        hi = (mid + spacing_nm / 2 - MIN_WALL_GAP_NM if z_above_wall is None
              else wall + z_above_wall)
        return cls(IonEnergy(built), xy, (nx, ny), (wall + MIN_WALL_GAP_NM, hi), wall)

    def surface(self, sigma_nm: float) -> tuple[np.ndarray, np.ndarray]:
        """``min_z E`` (kJ/mol at eps = 1 kJ/mol) and its height, over the grid."""
        self.model.coef = np.array([4 * sigma_nm**12, 4 * sigma_nm**6, 0.0])
        return min_over_z(self.model, self.xy, *self.z_range, dz=0.005)

    def barrier(self, sigma_nm: float) -> float:
        """Migration barrier at eps = 1 kJ/mol (kJ/mol)."""
        e2, _ = self.surface(sigma_nm)
        s = e2.reshape(self.shape)
        i, j = percolation_saddle(s)
        return float(s[i, j] - s.min())

    def adsorption(self, sigma_nm: float) -> tuple[float, float]:
        """(height above the sheet in nm, energy at eps = 1 kJ/mol) of the lowest site."""
        e2, z = self.surface(sigma_nm)
        k = int(np.argmin(e2))
        return float(z[k] - self.wall_z), float(e2[k])


@dataclass
class FitPoint:
    """One sigma of the fit: best eps for it, predicted barriers, height, objective."""

    sigma_nm: float
    epsilon_kJ_per_mol: float
    barriers_eV: list[float]
    height_nm: float
    adsorption_eV: float
    objective: float


@dataclass
class NaCFit:
    """Result of :func:`fit_na_c`."""

    stacking: str
    spacings_nm: list[float]
    targets_eV: list[float]
    target_height_nm: float
    best: FitPoint
    scan: list[FitPoint] = field(default_factory=list)

    @property
    def residuals_eV(self) -> list[float]:
        return [b - t for b, t in zip(self.best.barriers_eV, self.targets_eV, strict=True)]

    def pair_override(self) -> dict[str, str]:
        """The fitted term as a ``forcefield.pair_overrides`` entry."""
        return {"type1": ION_TYPE, "type2": CARBON_TYPE, "sigma": f"{self.best.sigma_nm:.5f} nm",
                "epsilon": f"{self.best.epsilon_kJ_per_mol:.5f} kJ/mol"}


def _point(sigma: float, cases: dict[float, SlitScan], one: SlitScan, targets: np.ndarray,
           target_height: float) -> FitPoint:
    b = np.array([c.barrier(sigma) for c in cases.values()]) / KJ_PER_MOL_PER_EV  # eV per eps
    eps = float(b @ targets / (b @ b)) if b @ b > 0 else 0.0
    h, e1 = one.adsorption(sigma)
    obj = float(np.sum(((eps * b - targets) / BARRIER_TOL_EV) ** 2)
                + ((h - target_height) / HEIGHT_TOL_NM) ** 2)
    return FitPoint(sigma, eps, (eps * b).tolist(), h, eps * e1 / KJ_PER_MOL_PER_EV, obj)


def fit_na_c(stacking: str = "AB", targets_eV: dict[float, float] | None = None,
             target_height_nm: float = TARGET_HEIGHT_NM,
             sigma_range_nm: tuple[float, float] = (0.20, 0.34), sigma_step_nm: float = 0.005,
             grid_nm: float = 0.01) -> NaCFit:
    """Fit the Na–C 12-6 pair (sigma, eps) to the barrier table and the adsorption height.

    Parameters
    ----------
    stacking : {"AB", "AA"}
        Stacking of the two walls of the fitted slits.
    targets_eV : dict of float to float, optional
        Spacing (nm) to barrier (eV); default the seed's table.
    target_height_nm : float
        Na+ height above one sheet (nm).
    sigma_range_nm, sigma_step_nm : float
        Coarse sigma grid (nm); a 10x finer grid follows around the best point.
    grid_nm : float
        In-plane scan grid (nm).
    """
    targets = dict(SEED_BARRIERS_EV if targets_eV is None else targets_eV)
    cases = {d: SlitScan.build(d, stacking, grid_nm) for d in targets}
    one = SlitScan.build(ONE_SHEET_SPACING_NM, stacking, grid_nm, z_above_wall=0.6)
    y = np.array(list(targets.values()))
    lo, hi = sigma_range_nm
    coarse = [_point(float(s), cases, one, y, target_height_nm)
              for s in np.arange(lo, hi + 1e-9, sigma_step_nm)]
    best = min(coarse, key=lambda p: p.objective)
    fine = [_point(float(s), cases, one, y, target_height_nm)
            for s in np.linspace(best.sigma_nm - sigma_step_nm, best.sigma_nm + sigma_step_nm, 11)
            if lo <= s <= hi]
    best = min(fine + [best], key=lambda p: p.objective)
    return NaCFit(stacking, list(targets), y.tolist(), target_height_nm, best,
                  sorted(coarse + fine, key=lambda p: p.sigma_nm))


def verify(fit: NaCFit, stackings: tuple[str, ...] = ("AA", "AB"),
           grid_nm: float = 0.005) -> list[dict[str, Any]]:
    """Full ``barrier-scan`` cases (OpenMM energies) with the default force field and with
    the fitted pair override, for every stacking: one row per case."""

    variants = {"default": ForceFieldConfig(),
                "fitted": ForceFieldConfig(pair_overrides=[fit.pair_override()])}
    rows = []
    for label, ff in variants.items():
        for st in stackings:
            for d, target in zip(fit.spacings_nm, fit.targets_eV, strict=True):
                r = scan_one(d, st, forcefield=ff, grid_nm=grid_nm)
                rows.append({"forcefield": label, "stacking": st, "spacing_nm": d,
                             "barrier_eV": r.barrier_eV, "seed_barrier_eV": target,
                             "residual_eV": r.barrier_eV - target,
                             "openmm_check_kJ_per_mol": r.openmm_check_kJ_per_mol})
    return rows


def adsorption_check(fit: NaCFit, grid_nm: float = 0.01) -> dict[str, float]:
    """Na+ on one sheet with the default and with the fitted term: height (nm) and energy
    (eV) of the lowest site. The fitted values are the fit's own (same one-sheet scan); the
    default pair is read off the OpenMM System
    (:func:`~predesolv.workflows.barrier_scan.effective_pair`)."""

    sigma0, eps0 = effective_pair()
    one = SlitScan.build(ONE_SHEET_SPACING_NM, fit.stacking, grid_nm, z_above_wall=0.6)
    h0, e0 = one.adsorption(sigma0)
    return {"default_sigma_nm": sigma0, "default_epsilon_kJ_per_mol": eps0,
            "default_height_nm": h0, "default_adsorption_eV": eps0 * e0 / KJ_PER_MOL_PER_EV,
            "fitted_height_nm": fit.best.height_nm,
            "fitted_adsorption_eV": fit.best.adsorption_eV,
            "target_height_nm": fit.target_height_nm}


def provenance(fit: NaCFit, rows: list[dict[str, Any]], command: str) -> dict[str, Any]:
    """What a parameter set file records about the fit."""

    fitted = [r for r in rows if r["forcefield"] == "fitted"]
    return {
        "method": "12-6 LJ for the NA_Na–CAR_C pair (override of the geometric mix); eps by "
                  "least squares on the 0 K barriers at each sigma, sigma by minimising "
                  f"sum((dB/{BARRIER_TOL_EV} eV)^2) + ((dh/{HEIGHT_TOL_NM} nm)^2); rigid "
                  f"neutral graphene, {fit.stacking} stacking, zigzag, one layer per wall",
        "targets": {"barriers_eV": dict(zip(map(str, fit.spacings_nm), fit.targets_eV,
                                            strict=True)),
                    "barrier_source": "Ren et al., Nano-Micro Lett. 18:382 (2026), Fig. 4e, "
                                      "doi:10.1007/s40820-026-02223-7 (DFT, 0 K)",
                    "height_nm": fit.target_height_nm,
                    "height_source": "DFT (B3LYP) Na+ above a graphene cluster, 0.224-0.226 nm"},
        "fitted_sigma_nm": fit.best.sigma_nm, "fitted_epsilon_kJ_per_mol":
            fit.best.epsilon_kJ_per_mol,
        "residuals_eV": {f"{r['stacking']} {r['spacing_nm']:.2f} nm": r["residual_eV"]
                         for r in fitted},
        "height_nm": fit.best.height_nm,
        "all_within_0.05_eV": bool(all(abs(r["residual_eV"]) <= 0.05 for r in fitted
                                       if r["stacking"] == fit.stacking)),
        "command": command, "predesolv_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def write_fit(fit: NaCFit, rows: list[dict[str, Any]], adsorption: dict[str, float],
              folder: Path, set_path: Path, command: str) -> dict[str, Path]:
    """fit.json, fit_scan.csv, barriers.csv, fit.png in ``folder``; the parameter set file."""
    import pandas as pd



    folder.mkdir(parents=True, exist_ok=True)
    prov = provenance(fit, rows, command)
    files = {"fit.json": folder / "fit.json", "fit_scan.csv": folder / "fit_scan.csv",
             "barriers.csv": folder / "barriers.csv", "fit.png": folder / "fit.png"}
    summary = {"fit": asdict(fit.best), "residuals_eV": fit.residuals_eV,
               "stacking": fit.stacking, "adsorption": adsorption, "provenance": prov}
    atomic_write_json(files["fit.json"], strict_json(summary))
    scan = pd.DataFrame([{k: v for k, v in asdict(p).items() if k != "barriers_eV"}
                         | {f"barrier_{d:.2f}nm_eV": b
                            for d, b in zip(fit.spacings_nm, p.barriers_eV, strict=True)}
                         for p in fit.scan])
    scan.to_csv(files["fit_scan.csv"], index=False, float_format="%.6g")
    pd.DataFrame(rows).to_csv(files["barriers.csv"], index=False, float_format="%.6g")
    plot_fit(rows).savefig(files["fit.png"], dpi=120, bbox_inches="tight")
    files["parameter_set"] = write_set(
        set_path, set_path.stem,
        "Na+ - basal graphene carbon (NA_Na-CAR_C) 12-6 LJ fitted to DFT 0 K migration "
        "barriers in 0.40-0.55 nm slits and the Na+ height above graphene; see provenance. "
        "Edge, H-bearing and N-doped carbons keep the default mixing.",
        prov, [fit.pair_override()])
    return files

