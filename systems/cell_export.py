"""Export a constant-charge (or uncharged) cell to GROMACS and AMBER files with ParmEd.

The exported topology carries per-atom LJ types with the force field's **geometric**
combining rule (GROMACS ``comb-rule 3``; AMBER gets ParmEd's full LJ table), the charges of
the built System (ionic scaling and electrode charges included) and the real atomic masses.
Not carried over, because the formats cannot express them: zero masses of the frozen
electrode (freeze the ``frozen`` group of metadata.json in the other engine, e.g. GROMACS
``freezegrps``), the zero electrode-electrode LJ (the other engine's energies contain a
constant frozen C–C term), and a ``ConstantPotentialForce`` (refused). The octahedral
``sin(2 theta)^2`` F–P–F angle of PF6 is written as harmonic angles of the same curvature
about 90 or 180 degrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import openmm
import parmed
from openmm import app, unit

from predesolv.built import BuiltSystem
from predesolv.errors import BuildError
from predesolv.forcefields.parameterize import load_forcefield
from predesolv.systems.charges import nonbonded_force

FORMATS = ("gromacs", "amber")


def _carbon_xml() -> str:
    from predesolv.systems.cell import carbon_xml_path

    return carbon_xml_path()


def _harmonise_custom_angles(system: openmm.System, positions: unit.Quantity) -> int:
    """Replace ``0.125*k*sin(2*theta)^2`` angles (octahedral PF6) by harmonic ones.

    Each angle becomes a harmonic term with the same curvature (k) about the nearest of
    90 or 180 degrees in the built geometry; ParmEd cannot write custom angle forms.
    Returns the number of converted angles.
    """
    pos = np.asarray(positions.value_in_unit(unit.nanometer))
    harm = next((f for f in system.getForces() if isinstance(f, openmm.HarmonicAngleForce)), None)
    n = 0
    for k in reversed(range(system.getNumForces())):
        f = system.getForce(k)
        if not isinstance(f, openmm.CustomAngleForce):
            continue
        if f.getEnergyFunction().replace(" ", "") != "0.125*k*sin(2*theta)^2":
            raise BuildError(f"export_system: cannot convert custom angle form "
                             f"{f.getEnergyFunction()!r}")
        if harm is None:
            harm = openmm.HarmonicAngleForce()
            system.addForce(harm)
        for a in range(f.getNumAngles()):
            i, j, m, (kk,) = f.getAngleParameters(a)
            u, v = pos[i] - pos[j], pos[m] - pos[j]
            theta = np.degrees(np.arccos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v),
                                                 -1, 1)))
            theta0 = 180.0 if theta > 135.0 else 90.0
            harm.addAngle(i, j, m, np.radians(theta0), kk)
            n += 1
        system.removeForce(k)
    return n


def export_system(built: BuiltSystem, out_dir: str | Path,
                  formats: Sequence[str] = FORMATS, name: str = "system") -> dict[str, list[str]]:
    """Write GROMACS (``.top``/``.gro``) and/or AMBER (``.prmtop``/``.inpcrd``) files.

    Parameters
    ----------
    built : BuiltSystem
        A cell or bulk electrolyte from predesolv builders (constant charge or uncharged).
    out_dir : str or Path
        Directory (created if missing).
    formats : sequence of {"gromacs", "amber"}
        Which engines to write for.
    name : str
        File stem.

    Returns
    -------
    dict
        Format -> list of written paths.

    Raises
    ------
    BuildError
        Unknown format, or a System with a ``ConstantPotentialForce``.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise BuildError(f"export formats {bad} are not allowed; choose from {FORMATS}")
    if any(isinstance(f, openmm.ConstantPotentialForce) for f in built.system.getForces()):
        raise BuildError("export_system: constant-potential systems cannot be exported "
                         "(GROMACS/AMBER files have no ConstantPotentialForce); build with "
                         "charge.mode constant_charge")
    top = built.topology
    has_carbon = any(r.name.startswith(("GR", "GN")) for r in top.residues())
    ff = load_forcefield([_carbon_xml()] if has_carbon else [])
    plain = ff.createSystem(top, nonbondedMethod=app.PME, nonbondedCutoff=1.0 * unit.nanometer,
                            constraints=None, rigidWater=False)
    nb_plain = nonbonded_force(plain)
    nb_built = nonbonded_force(built.system)
    for i in range(plain.getNumParticles()):
        q = nb_built.getParticleParameters(i)[0]
        _, s, e = nb_plain.getParticleParameters(i)
        nb_plain.setParticleParameters(i, q, s, e)
    scale = 0.5  # OPLS 1-4 Coulomb scale used by both XML files
    for k in range(nb_plain.getNumExceptions()):
        i, j, qq, s, e = nb_plain.getExceptionParameters(k)
        if e.value_in_unit(unit.kilojoule_per_mole) != 0.0:
            # 1-4 LJ with the geometric rule (ForceField wrote Lorentz-Berthelot sigma)
            si = nb_plain.getParticleParameters(i)[1].value_in_unit(unit.nanometer)
            sj = nb_plain.getParticleParameters(j)[1].value_in_unit(unit.nanometer)
            s = float(np.sqrt(si * sj))
        if qq.value_in_unit(unit.elementary_charge**2) != 0.0:
            q0i = nb_built.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
            q0j = nb_built.getParticleParameters(j)[0].value_in_unit(unit.elementary_charge)
            qq = scale * q0i * q0j
        nb_plain.setExceptionParameters(k, i, j, qq, s, e)
    _harmonise_custom_angles(plain, built.positions)
    struct = parmed.openmm.load_topology(top, plain, xyz=built.positions)
    struct.combining_rule = "geometric"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {}
    if "gromacs" in formats:
        paths = [str(out / f"{name}.top"), str(out / f"{name}.gro")]
        struct.save(paths[0], overwrite=True)
        struct.save(paths[1], overwrite=True)
        written["gromacs"] = paths
    if "amber" in formats:
        paths = [str(out / f"{name}.prmtop"), str(out / f"{name}.inpcrd")]
        amb = parmed.amber.AmberParm.from_structure(struct)
        amb.save(paths[0], overwrite=True)
        amb.save(paths[1], format="rst7", overwrite=True)
        written["amber"] = paths
    return written
