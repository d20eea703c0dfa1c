"""An analytic test system for free-energy code: one particle in a 1D double well.

``U(x, y, z) = h ((x - x0)^2 / a^2 - 1)^2 + (k_perp / 2) ((y - y0)^2 + (z - z0)^2)``
(``CustomExternalForce``), in a periodic cubic box with the well at its centre. The exact
PMF along ``s = x - x0`` is ``h (s^2/a^2 - 1)^2`` (up to a constant): minima at ``s = ±a``,
barrier ``h`` at ``s = 0``. Written as the ``from_files`` inputs a user would bring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openmm
from openmm import app, unit


@dataclass(frozen=True)
class DoubleWell:
    """Files and parameters of a written double well.

    Attributes
    ----------
    system_xml, pdb : Path
    height_kj_per_mol : float
        Barrier ``h`` (kJ/mol).
    a_nm : float
        Half distance between the minima (nm).
    center_nm : float
        ``x0 = y0 = z0``: the box centre (nm).
    """

    system_xml: Path
    pdb: Path
    height_kj_per_mol: float
    a_nm: float
    center_nm: float

    def exact_pmf_kj(self, s_nm: np.ndarray) -> np.ndarray:
        """Exact PMF (kJ/mol, 0 at the minima) at ``s = x - x0`` (nm)."""
        s = np.asarray(s_nm, dtype=float)
        return self.height_kj_per_mol * (s**2 / self.a_nm**2 - 1.0) ** 2


def write_one_particle(folder: str | Path, stem: str, energy: str, mass_amu: float,
                       box_nm: float, start_nm: tuple[float, float, float],
                       names: tuple[str, str, Any]) -> tuple[Path, Path]:
    """Write ``<stem>.xml`` (one particle of ``mass_amu`` in a cubic periodic box of
    ``box_nm``, moved only by the ``CustomExternalForce`` ``energy`` in x, y, z: nm and
    kJ/mol) and ``<stem>.pdb`` (the particle at ``start_nm``; ``names``: residue name, atom
    name, element) into ``folder``; returns both paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    system = openmm.System()
    system.addParticle(mass_amu)
    vecs = [openmm.Vec3(box_nm, 0, 0), openmm.Vec3(0, box_nm, 0), openmm.Vec3(0, 0, box_nm)]
    system.setDefaultPeriodicBoxVectors(*vecs)
    force = openmm.CustomExternalForce(energy)
    force.addParticle(0, [])
    system.addForce(force)
    xml = out / f"{stem}.xml"
    xml.write_text(openmm.XmlSerializer.serialize(system))
    top = app.Topology()
    residue, atom, element = names
    top.addAtom(atom, element, top.addResidue(residue, top.addChain()))
    top.setPeriodicBoxVectors(vecs * unit.nanometer)
    pdb = out / f"{stem}.pdb"
    with open(pdb, "w") as fh:
        app.PDBFile.writeFile(top, [openmm.Vec3(*start_nm)] * unit.nanometer, fh)
    return xml, pdb


def write_double_well(folder: str | Path, height_kj_per_mol: float = 10.0, a_nm: float = 0.5,
                      mass_amu: float = 40.0, box_nm: float = 6.0,
                      k_perp_kj_per_nm2: float = 500.0, start_s_nm: float | None = None
                      ) -> DoubleWell:
    """Write ``double_well.xml`` and ``double_well.pdb`` (one argon-like atom) into ``folder``.

    Parameters
    ----------
    start_s_nm : float, optional
        Initial ``x - x0`` (default ``-a``: the left minimum).
    """
    c = box_nm / 2
    s0 = -a_nm if start_s_nm is None else start_s_nm
    xml, pdb = write_one_particle(
        folder, "double_well", f"{height_kj_per_mol!r}*((x-{c!r})^2/{a_nm!r}^2-1)^2"
        f"+0.5*{k_perp_kj_per_nm2!r}*((y-{c!r})^2+(z-{c!r})^2)", mass_amu, box_nm,
        (c + s0, c, c), ("DW", "Ar", app.element.argon))
    return DoubleWell(xml, pdb, height_kj_per_mol, a_nm, c)
