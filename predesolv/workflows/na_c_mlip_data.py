"""Configurations and reference energies for fitting a classical Na–C term to an MLIP.

One Na atom over graphene (a single sheet) or between two sheets (a slit), carbon rigid,
nothing relaxed: the reference is the Na–carbon interaction energy of a machine-learned
potential (+ D3),

    E_int = E(carbon + Na) - E(carbon) - E_far,

with ``E_far`` the same difference for Na on the mid-plane of a 2.4 nm gap (1.2 nm from every
carbon: beyond the MLIP's 0.5 nm graph cutoff and the classical 1.0 nm cutoff). Every
configuration is labelled *train* or *held out* by a rule fixed before any fit
(:func:`configurations`): AB slits at 0.40, 0.50, 0.60, 0.70 nm and the single sheet are
trained on; AB at 0.45 and 0.55 nm (spacings left out) and every AA slit (the stacking left
out) are held out.

Geometry: :func:`predesolv.systems.closed_pore.bilayer_cavity`, zigzag, 3 × 5 rectangular
cells (1.278 × 1.230 nm, 60 carbons per sheet): Na and its periodic images are ≥ 1.23 nm
apart, so the data describe one dilute Na.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from predesolv.mlip.structures import add_atoms
from predesolv.systems.closed_pore import PoreCarbon, bilayer_cavity, lateral_sites

from .pore_filling import framework_atoms

#: Sheet size of every configuration (rectangular zigzag cells along x, y).
N_CELLS = (3, 5)
#: Gap used for the single sheet and for the far (non-interacting) reference (nm).
FAR_GAP_NM = 2.4
#: Na heights over the single sheet (nm above the carbon plane).
SHEET_HEIGHTS_NM = (0.18, 0.20, 0.22, 0.24, 0.26, 0.28, 0.30, 0.34, 0.40, 0.50, 0.60)
#: Slits trained on (AB) and left out (AB spacings 0.45, 0.55 and all AA), nm.
TRAIN_SPACINGS_NM = (0.40, 0.50, 0.60, 0.70)
HELD_OUT_SPACINGS_NM = (0.45, 0.55)
ALL_SPACINGS_NM = (0.40, 0.45, 0.50, 0.55, 0.60, 0.70)
#: Closest Na–plane distance in a slit configuration (nm).
MIN_PLANE_GAP_NM = 0.17
#: Random in-plane positions per slit besides the three high-symmetry sites.
N_RANDOM_LATERAL = 3


@dataclass(frozen=True)
class NaCarbonConfig:
    """One Na position over rigid carbon.

    Attributes
    ----------
    group : str
        ``"sheet"``, ``"AB 0.40 nm"``, ``"AA 0.45 nm"``, ...
    stacking : str
        ``"AB"`` / ``"AA"`` (``"-"`` for the single sheet).
    spacing_nm : float
        Plane-to-plane gap (nm); :data:`FAR_GAP_NM` for the single sheet.
    site : str
        ``"hollow"``, ``"top"``, ``"bridge"`` (of the lower sheet) or ``"random"``.
    height_nm : float
        Na height above the lower carbon plane (nm).
    xyz_nm : tuple of float
        Na position in the box (nm).
    held_out : bool
        Left out of the fit by the rule in the module docstring.
    """

    group: str
    stacking: str
    spacing_nm: float
    site: str
    height_nm: float
    xyz_nm: tuple[float, float, float]
    held_out: bool


def carbon(spacing_nm: float, stacking: str) -> PoreCarbon:
    """The rigid carbon of a configuration (AB for the single sheet)."""
    return bilayer_cavity(spacing_nm, N_CELLS, stacking="AB" if stacking == "-" else stacking)


def _slit_heights(spacing_nm: float) -> list[float]:
    half = spacing_nm / 2
    step = min(0.06, half - MIN_PLANE_GAP_NM)
    return sorted({round(half + k * step, 6) for k in (-1.0, -0.5, 0.0, 0.5, 1.0)})


def configurations(seed: int = 0) -> list[NaCarbonConfig]:
    """Every configuration of the data set: the single sheet (3 sites × 11 heights) and each
    slit (3 high-symmetry + :data:`N_RANDOM_LATERAL` random in-plane points × up to 5 heights
    at least :data:`MIN_PLANE_GAP_NM` from both planes), AB and AA at every spacing."""
    rng = np.random.default_rng(seed)
    out: list[NaCarbonConfig] = []
    sheet = carbon(FAR_GAP_NM, "-")
    z0 = sheet.region("cavity").z_nm[0]
    for site, xy in lateral_sites(sheet).items():
        for h in SHEET_HEIGHTS_NM:
            out.append(NaCarbonConfig("sheet", "-", FAR_GAP_NM, site, h,
                                      (float(xy[0]), float(xy[1]), z0 + h), False))
    for stacking in ("AB", "AA"):
        for d in ALL_SPACINGS_NM:
            pore = carbon(d, stacking)
            z0 = pore.region("cavity").z_nm[0]
            points = dict(lateral_sites(pore))
            for k in range(N_RANDOM_LATERAL):
                points[f"random{k}"] = rng.uniform((0.0, 0.0), pore.box_nm[:2])
            held = stacking == "AA" or d in HELD_OUT_SPACINGS_NM
            for site, xy in points.items():
                for h in _slit_heights(d):
                    out.append(NaCarbonConfig(f"{stacking} {d:.2f} nm", stacking, d,
                                              site.rstrip("0123456789"), h,
                                              (float(xy[0]), float(xy[1]), z0 + h), held))
    return out


def _energy(atoms: Any, calc: Any) -> float:
    atoms.calc = calc
    return float(atoms.get_potential_energy())


def interaction_energies(configs: Sequence[NaCarbonConfig], calc: Any,
                         progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """``E_int`` (eV, shape (n,)) of every configuration with one ASE calculator.

    The carbon-only energy is computed once per (stacking, spacing); ``E_far`` once.
    """
    framework: dict[tuple[str, float], tuple[Any, float]] = {}

    def base(stacking: str, d: float) -> tuple[Any, float]:
        key = (stacking, d)
        if key not in framework:
            atoms = framework_atoms(carbon(d, stacking))
            framework[key] = (atoms, _energy(atoms.copy(), calc))
        return framework[key]

    far_atoms, far_c = base("-", FAR_GAP_NM)
    far_pore = carbon(FAR_GAP_NM, "-")
    mid = float(np.mean(far_pore.region("cavity").z_nm))
    e_far = _energy(add_atoms(far_atoms, "Na", [[*far_pore.box_nm[:2] / 2, mid]]), calc) - far_c
    out = np.empty(len(configs))
    for k, c in enumerate(configs):
        atoms, e_c = base(c.stacking, c.spacing_nm)
        out[k] = _energy(add_atoms(atoms, "Na", [c.xyz_nm]), calc) - e_c - e_far
        if progress is not None:
            progress(k + 1, len(configs))
    return out


def images_near(positions_nm: np.ndarray, box_nm: np.ndarray, centre: np.ndarray,
                reach_nm: float) -> np.ndarray:
    """Positions (nm, shape (m, 3)) of every periodic image of ``positions_nm`` closer than
    ``reach_nm`` to ``centre`` (any number of cells away)."""
    d = positions_nm - centre
    d -= box_nm * np.round(d / box_nm)
    n = np.ceil(reach_nm / box_nm).astype(int)
    shifts = np.array([(i, j, k) for i in range(-n[0], n[0] + 1) for j in range(-n[1], n[1] + 1)
                       for k in range(-n[2], n[2] + 1)], dtype=float) * box_nm
    allpos = (d[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    return centre + allpos[np.linalg.norm(allpos, axis=1) < reach_nm]


def carbon_distances(c: NaCarbonConfig, cutoff_nm: float) -> np.ndarray:
    """Na–carbon distances (nm) within ``cutoff_nm``, periodic images included (any cell)."""
    pore = carbon(c.spacing_nm, c.stacking)
    na = np.asarray(c.xyz_nm)
    near = images_near(pore.positions_nm, pore.box_nm, na, cutoff_nm)
    return np.sort(np.linalg.norm(near - na, axis=1))
