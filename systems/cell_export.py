"""Export a constant-charge (or uncharged) cell to GROMACS and AMBER files with ParmEd.

The exported topology carries per-atom LJ types with the force field's **geometric**
combining rule (GROMACS ``comb-rule 3``; AMBER gets ParmEd's full LJ table), the charges of
the built System (ionic scaling and electrode charges included) and the real atomic masses.
The frozen electrode (zero masses, no electrode–electrode interaction in OpenMM) is carried
over as far as each format allows (:mod:`predesolv.systems.export_frozen`): GROMACS gets
electrode atom types of their own with zero mutual LJ (``[ nonbond_params ]``), an index
file and an .mdp fragment with ``freezegrps``; AMBER gets the OpenMM exclusions between close
electrode pairs. A ``ConstantPotentialForce`` cannot be expressed and is refused. Every
export is read back with ParmEd and compared with the OpenMM System (``<name>_check.json``).
The octahedral
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

from predesolv.atomic import atomic_write_json
from predesolv.built import BuiltSystem
from predesolv.errors import BuildError
from predesolv.forcefields.parameterize import load_forcefield
from predesolv.systems import export_frozen as fz
from predesolv.systems.cell import carbon_xml_path
from predesolv.systems.charges import nonbonded_force

FORMATS = ("gromacs", "amber")


def _carbon_xml() -> str:

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


def _plain_system(built: BuiltSystem) -> openmm.System:
    """The cell re-created from the force-field XML with the built System's charges.

    ParmEd needs standard forces (NonbondedForce with per-atom LJ); the built System's LJ
    lives in a CustomNonbondedForce. Charges (ionic scaling, electrode charges) come from
    the built System, 1-4 LJ sigma is recomputed with the geometric rule.
    """
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
    return plain


def _structure(built: BuiltSystem, plain: openmm.System) -> parmed.Structure:
    struct = parmed.openmm.load_topology(built.topology, plain, xyz=built.positions)
    struct.combining_rule = "geometric"
    return struct


def _write_gromacs(built: BuiltSystem, struct: parmed.Structure, out: Path, name: str,
                   frozen: list[int]) -> list[str]:
    """``.top``/``.gro``; with a frozen electrode also ``.ndx`` and ``_frozen.mdp``."""
    top, gro = out / f"{name}.top", out / f"{name}.gro"
    types = fz.separate_electrode_types(struct, frozen)
    struct.save(str(top), overwrite=True)
    struct.save(str(gro), overwrite=True)
    if not frozen:
        return [str(top), str(gro)]
    fz.add_nonbond_params(top, struct, types)
    fz.write_index(out / f"{name}.ndx", len(struct.atoms), frozen)
    fz.write_mdp_fragment(out / f"{name}_frozen.mdp", built.system, f"{name}.ndx", len(frozen))
    return [str(top), str(gro), str(out / f"{name}.ndx"), str(out / f"{name}_frozen.mdp")]


def export_system(built: BuiltSystem, out_dir: str | Path,
                  formats: Sequence[str] = FORMATS, name: str = "system", *,
                  check: bool = True) -> dict[str, list[str]]:
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
    check : bool
        Read the files back with ParmEd and compare energies and forces with the OpenMM
        System (:func:`predesolv.systems.export_frozen.energy_check`); writes
        ``<name>_check.json``.

    Returns
    -------
    dict
        Format -> list of written paths (GROMACS: ``.top``, ``.gro`` and, with a frozen
        electrode, ``.ndx`` and ``_frozen.mdp``); ``"check"`` -> the check report.

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
    plain = _plain_system(built)
    frozen = list(built.frozen_indices())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {}
    if "gromacs" in formats:
        written["gromacs"] = _write_gromacs(built, _structure(built, plain), out, name, frozen)
    if "amber" in formats:  # ParmEd's AMBER conversion alters its input: a Structure of its own
        amb = parmed.amber.AmberParm.from_structure(_structure(built, plain))
        fz.exclude_close_pairs(amb, built.system, frozen)
        amb.remake_parm()  # the exclusions go into EXCLUDED_ATOMS_LIST
        paths = [str(out / f"{name}.prmtop"), str(out / f"{name}.inpcrd")]
        amb.save(paths[0], overwrite=True)
        amb.save(paths[1], format="rst7", overwrite=True)
        written["amber"] = paths
    if check:
        atomic_write_json(out / f"{name}_check.json", fz.energy_check(built, written))
        written["check"] = [str(out / f"{name}_check.json")]
    return written
