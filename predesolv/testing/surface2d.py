"""An analytic test system for two-CV free energies: one particle on a tilted double well.

``U = h ((x - x0)^2 / a^2 - 1)^2 + (k_y / 2) ((y - y0) - b (x - x0))^2 + (k_z / 2) (z - z0)^2``
(``CustomExternalForce``) in a periodic cubic box centred on ``(x0, y0, z0)``. With
``s1 = x - x0`` and ``s2 = y - y0`` the exact free-energy surface is
``F(s1, s2) = h (s1^2/a^2 - 1)^2 + (k_y/2) (s2 - b s1)^2`` (up to a constant): two minima at
``(±a, ±b a)`` joined over a saddle of height ``h`` at the origin, along a valley tilted by
``b`` — so neither CV alone describes the path. Written as ``from_files`` inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from openmm import app

from predesolv.testing.double_well import write_one_particle


@dataclass(frozen=True)
class Surface2D:
    """Files and parameters of a written two-CV test surface (energies kJ/mol, lengths nm).

    Attributes
    ----------
    system_xml, pdb : Path
    height_kj_per_mol, a_nm, k_y_kj_per_nm2, tilt : float
        ``h``, ``a``, ``k_y`` and ``b`` of the module docstring.
    center_nm : float
        ``x0 = y0 = z0``: the box centre.
    """

    system_xml: Path
    pdb: Path
    height_kj_per_mol: float
    a_nm: float
    k_y_kj_per_nm2: float
    tilt: float
    center_nm: float

    def exact_kj(self, s1_nm: np.ndarray, s2_nm: np.ndarray) -> np.ndarray:
        """Exact F(s1, s2) in kJ/mol (0 at the minima), broadcasting."""
        s1, s2 = np.asarray(s1_nm, float), np.asarray(s2_nm, float)
        return (self.height_kj_per_mol * (s1**2 / self.a_nm**2 - 1.0) ** 2
                + 0.5 * self.k_y_kj_per_nm2 * (s2 - self.tilt * s1) ** 2)


def write_surface_2d(folder: str | Path, height_kj_per_mol: float = 6.0, a_nm: float = 0.4,
                     k_y_kj_per_nm2: float = 100.0, tilt: float = 0.5, mass_amu: float = 2.0,
                     box_nm: float = 6.0, k_z_kj_per_nm2: float = 500.0) -> Surface2D:
    """Write ``surface2d.xml`` and ``surface2d.pdb`` (one particle at the left minimum)."""
    c = box_nm / 2
    xml, pdb = write_one_particle(
        folder, "surface2d", f"{height_kj_per_mol!r}*((x-{c!r})^2/{a_nm!r}^2-1)^2"
        f"+0.5*{k_y_kj_per_nm2!r}*((y-{c!r})-{tilt!r}*(x-{c!r}))^2"
        f"+0.5*{k_z_kj_per_nm2!r}*(z-{c!r})^2", mass_amu, box_nm,
        (c - a_nm, c - tilt * a_nm, c), ("S2D", "He", app.element.helium))
    return Surface2D(xml, pdb, height_kj_per_mol, a_nm, k_y_kj_per_nm2, tilt, c)


__all__ = ["Surface2D", "write_surface_2d"]
