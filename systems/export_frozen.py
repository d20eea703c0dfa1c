"""The frozen electrode in exported GROMACS/AMBER files, and an energy check of the export.

OpenMM cells hold the electrode still with zero masses and remove the huge constant
electrode–electrode interaction (pairs closer than 0.3 nm excluded; about 1e8 kJ/mol of LJ
for bonded C–C neighbours otherwise). Neither survives a plain ParmEd conversion: masses
become real and ParmEd drops exclusions between atoms that are not bonded. This module puts
the equivalent into the other engine's files:

* GROMACS: the electrode atoms get atom types of their own (``<type>_E``) and a
  ``[ nonbond_params ]`` section sets the LJ between two of them to zero; ``<name>.ndx``
  holds the groups ``System``, ``Electrode``, ``Electrolyte``; ``<name>_frozen.mdp`` is an
  .mdp fragment (``freezegrps``, ``comm-grps``, the cutoffs and the dispersion correction of
  the OpenMM System) to merge into the user's own .mdp. GROMACS still computes the Coulomb
  between electrode atoms: a constant for fixed charges on frozen atoms.
* AMBER: the close electrode pairs excluded in OpenMM are excluded in the prmtop too
  (``EXCLUDED_ATOMS_LIST`` takes any pair); freeze the electrode with the mask in the
  .mdp fragment's comment (``ibelly``/``bellymask`` or restraints).

:func:`energy_check` reads the written files back with ParmEd, builds an OpenMM System from
them and compares energies and forces with the predesolv System at the same coordinates
(Reference platform), at the built positions and after moving the electrolyte.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import openmm
import parmed
from openmm import app, unit

from predesolv.atomic import atomic_write_text
from predesolv.built import BuiltSystem
from predesolv.systems.charges import lj_force, nonbonded_force

ELECTRODE_SUFFIX = "_E"


def separate_electrode_types(struct: parmed.Structure, frozen: Sequence[int]) -> list[str]:
    """Give every frozen atom a copy of its atom type named ``<type>_E``; returns the names.

    Pair terms (``[ nonbond_params ]``) then touch the electrode alone, even where an
    electrolyte atom has the same LJ parameters.
    """
    clones: dict[str, parmed.AtomType] = {}
    for i in frozen:
        atom = struct.atoms[int(i)]
        old = atom.atom_type
        if old.name not in clones:
            new = parmed.AtomType(f"{old.name}{ELECTRODE_SUFFIX}", None, old.mass,
                                  old.atomic_number, charge=old.charge)
            new.set_lj_params(old.epsilon, old.rmin, old.epsilon_14, old.rmin_14)
            clones[old.name] = new
        atom.atom_type = clones[old.name]
        atom.type = clones[old.name].name
    return sorted(c.name for c in clones.values())


def exclude_close_pairs(struct: parmed.Structure, system: openmm.System,
                        frozen: Sequence[int]) -> int:
    """Copy the System's zero exceptions between two frozen atoms into ParmEd exclusions."""
    fz = set(int(i) for i in frozen)
    nb = nonbonded_force(system)
    n = 0
    for k in range(nb.getNumExceptions()):
        i, j, qq, _, eps = nb.getExceptionParameters(k)
        if i in fz and j in fz and qq.value_in_unit(unit.elementary_charge**2) == 0.0 \
                and eps.value_in_unit(unit.kilojoule_per_mole) == 0.0:
            struct.atoms[i].exclude(struct.atoms[j])
            n += 1
    return n


def add_nonbond_params(top_path: Path, struct: parmed.Structure, types: Sequence[str]) -> None:
    """Insert ``[ nonbond_params ]`` with zero LJ between every pair of electrode types."""
    by_name = {a.atom_type.name: a.atom_type for a in struct.atoms}
    lines = ["[ nonbond_params ]",
             "; electrode-electrode LJ off, as in the predesolv OpenMM System (frozen atoms)",
             ";  i        j        func  sigma (nm)    epsilon (kJ/mol)"]
    for a, name_a in enumerate(types):
        for name_b in types[a:]:
            sa, sb = by_name[name_a].sigma / 10.0, by_name[name_b].sigma / 10.0  # A -> nm
            lines.append(f"{name_a:<8s} {name_b:<8s} 1     {np.sqrt(sa * sb):.6f}      0.0")
    text = top_path.read_text()
    at = text.index("[ moleculetype ]")
    atomic_write_text(top_path, text[:at] + "\n".join(lines) + "\n\n" + text[at:])


def write_index(path: Path, n_atoms: int, frozen: Sequence[int]) -> None:
    """GROMACS index file with System, Electrode and Electrolyte (1-based atom numbers)."""
    fz = set(int(i) for i in frozen)
    groups = {"System": range(n_atoms), "Electrode": sorted(fz),
              "Electrolyte": [i for i in range(n_atoms) if i not in fz]}
    out = []
    for name, idx in groups.items():
        nums = [str(i + 1) for i in idx]
        out.append(f"[ {name} ]")
        out.extend(" ".join(nums[k:k + 15]) for k in range(0, len(nums), 15))
    atomic_write_text(path, "\n".join(out) + "\n")


def _lj_settings(system: openmm.System) -> tuple[float, float | None, bool]:
    """(cutoff nm, switching distance nm or None, long-range correction) of the LJ."""
    nb = nonbonded_force(system)
    lj = lj_force(system)
    src = lj if lj is not None else nb
    cut = src.getCutoffDistance().value_in_unit(unit.nanometer)
    switch = (src.getSwitchingDistance().value_in_unit(unit.nanometer)
              if src.getUseSwitchingFunction() else None)
    lrc = lj.getUseLongRangeCorrection() if lj is not None else nb.getUseDispersionCorrection()
    return cut, switch, bool(lrc)


def write_mdp_fragment(path: Path, system: openmm.System, ndx_name: str, n_frozen: int) -> None:
    """An .mdp fragment that makes GROMACS treat the electrode and the cutoffs as OpenMM does."""
    cut, switch, lrc = _lj_settings(system)
    lines = [
        "; predesolv export: merge into your own .mdp and run grompp with -n " + ndx_name,
        f"; the Electrode group ({n_frozen} atoms) has zero masses in OpenMM: freeze it here",
        "freezegrps     = Electrode",
        "freezedim      = Y Y Y",
        "comm-mode      = Linear",
        "comm-grps      = Electrolyte",
        "cutoff-scheme  = Verlet",
        "coulombtype    = PME",
        f"rcoulomb       = {cut:g}",
        f"rvdw           = {cut:g}",
        (f"vdw-modifier   = Potential-switch\nrvdw-switch    = {switch:g}" if switch is not None
         else "vdw-modifier   = None        ; OpenMM: plain LJ cut at rvdw, no shift"),
        f"DispCorr       = {'EnerPres' if lrc else 'no'}",
        "; electrode-electrode LJ is zero through [ nonbond_params ] in the .top; the",
        "; Coulomb between electrode atoms is computed but constant (fixed charges, frozen)",
        "; AMBER (pmemd/sander): freeze the same atoms, e.g. ibelly=1 with bellymask listing",
        "; the Electrolyte atoms, or strong positional restraints on the Electrode",
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _energies_forces(system: openmm.System, positions: Sequence[np.ndarray]
                     ) -> list[tuple[float, np.ndarray]]:
    """Potential energy (kJ/mol) and forces (kJ/mol/nm) at each of ``positions`` (Reference)."""
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    out = []
    for pos in positions:
        ctx.setPositions(pos)
        st = ctx.getState(getEnergy=True, getForces=True)
        out.append((float(st.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)),
                    np.asarray(st.getForces(asNumpy=True).value_in_unit(
                        unit.kilojoule_per_mole / unit.nanometer))))
    del ctx
    return out


def _read_back(fmt: str, top: str, coords: str) -> parmed.Structure:
    """ParmEd's reading of the files, without ``[ nonbond_params ]`` for GROMACS.

    ParmEd (4.3) turns ``[ nonbond_params ]`` under the geometric rule into a second LJ
    force on top of the first (measured: the electrolyte LJ counted twice), so the section is
    left out here and its meaning, zero LJ between two electrode atoms, is applied by
    :func:`_zero_electrode_pair_lj`.
    """
    if fmt != "gromacs":
        return parmed.load_file(top, xyz=coords)
    text = Path(top).read_text()
    if "[ nonbond_params ]" in text:
        a = text.index("[ nonbond_params ]")
        text = text[:a] + text[text.index("[ moleculetype ]", a):]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(top).name
        path.write_text(text)
        return parmed.load_file(str(path), xyz=coords)


def _zero_electrode_pair_lj(system: openmm.System, mobile: np.ndarray) -> None:
    """Restrict every LJ force to pairs with a mobile atom: electrode-electrode LJ is 0."""
    n = system.getNumParticles()
    for f in system.getForces():
        if isinstance(f, openmm.CustomNonbondedForce):  # the geometric-rule LJ of ParmEd
            f.addInteractionGroup([int(i) for i in mobile], list(range(n)))


def _exported_system(built: BuiltSystem, fmt: str, top: str, coords: str,
                     mobile: np.ndarray) -> openmm.System:
    """OpenMM System of the exported files, with the predesolv System's LJ settings."""
    cut, switch, lrc = _lj_settings(built.system)
    # constrained X-H bonds carry no bond term in the predesolv System: leave them out here too
    hbonds = built.system.getNumConstraints() > 0
    kwargs = {"nonbondedMethod": app.PME, "nonbondedCutoff": cut * unit.nanometer,
              "constraints": app.HBonds if hbonds else None, "flexibleConstraints": False,
              "rigidWater": False}
    if switch is not None:
        kwargs["switchDistance"] = switch * unit.nanometer
    other = _read_back(fmt, top, coords).createSystem(**kwargs)
    for f in other.getForces():
        if isinstance(f, openmm.NonbondedForce):
            f.setUseDispersionCorrection(lrc)
        elif isinstance(f, openmm.CustomNonbondedForce):
            f.setUseLongRangeCorrection(lrc)
    other.setDefaultPeriodicBoxVectors(*built.system.getDefaultPeriodicBoxVectors())
    if fmt == "gromacs" and mobile.size < other.getNumParticles():
        _zero_electrode_pair_lj(other, mobile)
    return other


def energy_check(built: BuiltSystem, exports: Mapping[str, Sequence[str]], *,
                 seed: int = 0) -> dict[str, dict[str, float]]:
    """Compare exported topologies (read back with ParmEd) with the predesolv System.

    Parameters
    ----------
    built : BuiltSystem
    exports : dict of str -> sequence of str
        Format (``"gromacs"``, ``"amber"``) -> paths whose first two are the topology and the
        coordinates (``.top``/``.gro`` or ``.prmtop``/``.inpcrd``).
    seed : int
        Seed of the random displacement (up to 0.002 nm) of the electrolyte atoms.

    Returns
    -------
    dict
        Per format: ``offset_kJ_per_mol`` (export minus OpenMM at the built positions),
        ``offset_change_kJ_per_mol`` (how much that offset moves when the electrolyte moves;
        ~0 when the export is the same model), ``max_force_diff_kJ_per_mol_nm`` over the
        electrolyte atoms, ``rms_force_kJ_per_mol_nm`` for scale.
    """
    pos0 = np.asarray(built.positions.value_in_unit(unit.nanometer))
    mobile = np.setdiff1d(np.arange(len(pos0)), np.asarray(built.frozen_indices(), dtype=int))
    pos1 = pos0.copy()
    pos1[mobile] += np.random.default_rng(seed).uniform(-0.002, 0.002, (mobile.size, 3))
    ref = _energies_forces(built.system, (pos0, pos1))  # once, shared by every format
    scale = max(float(np.sqrt(np.mean(f[mobile] ** 2))) for _, f in ref)
    report = {}
    for fmt, paths in exports.items():
        other = _exported_system(built, fmt, paths[0], paths[1], mobile)
        got = _energies_forces(other, (pos0, pos1))
        offsets = [e_exp - e_ref for (e_exp, _), (e_ref, _) in zip(got, ref, strict=True)]
        worst = max(float(np.abs(f_exp[mobile] - f_ref[mobile]).max())
                    for (_, f_exp), (_, f_ref) in zip(got, ref, strict=True))
        report[fmt] = {"offset_kJ_per_mol": offsets[0],
                       "offset_change_kJ_per_mol": offsets[1] - offsets[0],
                       "max_force_diff_kJ_per_mol_nm": worst, "rms_force_kJ_per_mol_nm": scale}
    return report
