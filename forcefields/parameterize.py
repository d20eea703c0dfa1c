"""Parameterise any Topology (bulk electrolyte or electrode composite) with predesolv's XML.

:func:`create_system` is the single entry point builders use: it loads
``predesolv-electrolytes.xml`` plus any extra XML (electrode atom types), creates the System,
scales ionic charges and moves LJ to the force field's combining rule
(:func:`predesolv.forcefields.nonbonded.apply_combining_rule`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

from predesolv.errors import BuildError, ConfigError
from predesolv.forcefields.data import get_data_dir
from predesolv.forcefields.nonbonded import (
    apply_combining_rule,
    atom_type_names,
    nonbonded_force,
)

ELECTROLYTE_XML = "predesolv-electrolytes.xml"
"""File name of the electrolyte force field (found by OpenMM via the entry point)."""

MOLECULE_RESIDUES = ("NA", "PF6", "CLO", "DME", "EC", "DMC", "EMC")
"""Residue names with a template in :data:`ELECTROLYTE_XML` and a PDB in ``molecules/``."""

IONIC_RESIDUES = frozenset({"NA", "PF6", "CLO"})
"""Residues whose charges ``charge_scaling`` multiplies."""


def xml_path() -> Path:
    """Absolute path of :data:`ELECTROLYTE_XML`."""
    return Path(get_data_dir()) / ELECTROLYTE_XML


def molecule_pdb_path(resname: str) -> Path:
    """Path of the shipped PDB geometry of residue ``resname`` (``DME``, ``PF6``, ...).

    Raises
    ------
    ConfigError
        Unknown residue name.
    """
    if resname not in MOLECULE_RESIDUES:
        raise ConfigError(f"no molecule {resname!r}; available: {', '.join(MOLECULE_RESIDUES)}")
    return Path(get_data_dir()) / "molecules" / f"{resname}.pdb"


@cache
def _load(resname: str) -> tuple[app.Topology, np.ndarray]:
    pdb = app.PDBFile(str(molecule_pdb_path(resname)))
    xyz = np.asarray(pdb.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    return pdb.topology, xyz - xyz.mean(axis=0)


def load_molecule(resname: str) -> tuple[app.Topology, np.ndarray]:
    """Topology and centred coordinates (nm, shape (n, 3)) of one shipped molecule.

    Returns fresh objects on every call (callers may rename or extend them).
    """
    top, xyz = _load(resname)
    return copy.deepcopy(top), xyz.copy()


def load_forcefield(extra_xml: Iterable[str] = ()) -> app.ForceField:
    """``ForceField`` with the electrolyte XML followed by ``extra_xml`` files.

    Raises
    ------
    ConfigError
        An extra XML file cannot be read.
    """
    files = [str(xml_path())] + [str(f) for f in extra_xml]
    try:
        return app.ForceField(*files)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"cannot load force-field files {files}: {exc}",
                          "forcefield.files") from None


def scale_ionic_charges(system: openmm.System, topology: app.Topology, scaling: float,
                        ionic_residues: Iterable[str] = IONIC_RESIDUES) -> list[int]:
    """Multiply the charges of atoms in ``ionic_residues`` by ``scaling`` (in place).

    Exceptions (1-4 pairs) that involve scaled atoms get their charge products rescaled
    consistently. Returns the indices of the scaled atoms.
    """
    if not 0 < scaling <= 1:
        raise ConfigError(f"charge_scaling must be in (0, 1], got {scaling}",
                          "forcefield.charge_scaling")
    ionic = set(ionic_residues)
    idx = [a.index for a in topology.atoms() if a.residue.name in ionic]
    if scaling == 1.0 or not idx:
        return idx
    nb = nonbonded_force(system)
    factor = np.ones(system.getNumParticles())
    factor[idx] = scaling
    for i in idx:
        q, s, e = nb.getParticleParameters(i)
        nb.setParticleParameters(i, q * scaling, s, e)
    for k in range(nb.getNumExceptions()):
        i, j, qq, s, e = nb.getExceptionParameters(k)
        if factor[i] != 1.0 or factor[j] != 1.0:
            nb.setExceptionParameters(k, i, j, qq * factor[i] * factor[j], s, e)
    return idx


def create_system(
    topology: app.Topology,
    forcefield_config,
    extra_xml: Sequence[str] = (),
    ionic_residues: Iterable[str] = IONIC_RESIDUES,
    pair_overrides: dict[tuple[str, str], tuple[float, float]] | None = None,
) -> tuple[openmm.System, list[str]]:
    """Parameterise ``topology`` (periodic if it has box vectors).

    Parameters
    ----------
    topology : openmm.app.Topology
        Complete (composite) topology. With periodic box vectors the System uses PME.
    forcefield_config : predesolv.config.forcefield.ForceFieldConfig
        Cutoff, constraints, charge scaling, combining rule, extra files, pair overrides.
    extra_xml : sequence of str
        More ForceField XML files (added to ``forcefield_config.files``).
    ionic_residues : iterable of str
        Residue names whose charges are scaled by ``charge_scaling``.
    pair_overrides : dict, optional
        Extra ``{(type_a, type_b): (sigma_nm, eps_kJmol)}`` merged over the config's.

    Returns
    -------
    system : openmm.System
    atom_types : list of str
        Force-field atom type of every particle.

    Raises
    ------
    BuildError
        Box shorter than twice the cutoff, or unmatched residues.
    """
    cfg = forcefield_config
    files = list(cfg.files) + list(extra_xml)
    ff = load_forcefield(files)
    cutoff = cfg.nonbonded_cutoff.value_in_unit(unit.nanometer)
    method, kwargs = _nonbonded_method(topology, cfg, cutoff)
    constraints = app.HBonds if cfg.constraints == "hbonds" else None
    try:
        system = ff.createSystem(topology, nonbondedMethod=method,
                                 nonbondedCutoff=cutoff * unit.nanometer,
                                 constraints=constraints, rigidWater=False, **kwargs)
    except ValueError as exc:
        raise BuildError(f"cannot parameterise topology: {exc}") from None
    for f in system.getForces():
        if isinstance(f, openmm.NonbondedForce):
            f.setUseDispersionCorrection(bool(cfg.dispersion_correction))
    types = atom_type_names(topology, ff)
    scale_ionic_charges(system, topology, cfg.charge_scaling, ionic_residues)
    overrides, potentials = _pair_terms(cfg, pair_overrides, files, set(types))
    apply_combining_rule(system, types, cfg.combining_rule, overrides, potentials)
    return system, types


def _nonbonded_method(topology: app.Topology, cfg, cutoff_nm: float) -> tuple[object, dict]:
    """PME with the config's Ewald tolerance and switch for a periodic topology, else NoCutoff.

    Raises
    ------
    BuildError
        A box width shorter than twice the cutoff.
    ConfigError
        A switching distance not below the cutoff.
    """
    box = topology.getPeriodicBoxVectors()
    if box is None:
        return app.NoCutoff, {}
    vecs = np.asarray([v.value_in_unit(unit.nanometer) for v in box])
    # perpendicular widths of the (possibly triclinic) cell
    vol = abs(np.linalg.det(vecs))
    widths = [vol / np.linalg.norm(np.cross(vecs[(k + 1) % 3], vecs[(k + 2) % 3]))
              for k in range(3)]
    if min(widths) < 2 * cutoff_nm:
        raise BuildError(
            f"box is too small for forcefield.nonbonded_cutoff = {cutoff_nm:g} nm: the "
            f"shortest box width is {min(widths):.3f} nm but must be >= 2 x cutoff = "
            f"{2 * cutoff_nm:g} nm; enlarge the box (box_length / n_solvent) or reduce "
            "the cutoff")
    kwargs: dict = {"ewaldErrorTolerance": cfg.ewald_error_tolerance}
    if cfg.switch_distance is not None:
        sw = cfg.switch_distance.value_in_unit(unit.nanometer)
        if sw >= cutoff_nm:
            raise ConfigError(f"switch_distance {sw:g} nm must be < nonbonded_cutoff "
                              f"{cutoff_nm:g} nm", "forcefield.switch_distance")
        kwargs["switchDistance"] = sw * unit.nanometer
    return app.PME, kwargs


def _pair_terms(cfg, extra: dict[tuple[str, str], tuple[float, float]] | None,
                files: Sequence[str], present: set[str]
                ) -> tuple[dict[tuple[str, str], tuple[float, float]],
                           dict[tuple[str, str], tuple[float, float, float, float]]]:
    """The config's LJ pair overrides (merged with ``extra``; sigma nm, epsilon kJ/mol) and
    Born–Mayer pair potentials (A kJ/mol, rho nm, C4, C6), each checked against the atom types
    declared in the loaded files and restricted to the types ``present`` in this topology (a
    term for absent types, e.g. Na-C in a bulk box, does not apply)."""
    overrides = {(o.type1, o.type2): (o.sigma.value_in_unit(unit.nanometer),
                                      o.epsilon.value_in_unit(unit.kilojoule_per_mole))
                 for o in cfg.pair_overrides}
    overrides.update(extra or {})
    potentials = {(o.type1, o.type2): o.parameters() for o in cfg.pair_potentials}
    known = declared_atom_types(files)
    for terms, what in ((overrides, "override"), (potentials, "potential")):
        for pair in terms:
            bad = [t for t in pair if t not in known]
            if bad:
                raise ConfigError(f"pair {what} {pair}: atom type(s) {bad} are not defined in "
                                  "the loaded force-field files; use type names from "
                                  f"forcefields/PARAMETERS.md", f"forcefield.pair_{what}s")
    return ({k: v for k, v in overrides.items() if set(k) <= present},
            {k: v for k, v in potentials.items() if set(k) <= present})


def _resolve_xml(name: str) -> Path | None:
    """Path of a force-field file named as ``app.ForceField`` would find it, or None."""
    for candidate in (Path(name), Path(get_data_dir()) / name,
                      Path(app.__file__).parent / "data" / name):
        if candidate.is_file():
            return candidate
    return None


def declared_atom_types(extra_xml: Iterable[str] = ()) -> set[str]:
    """Atom type names declared (``<AtomTypes><Type name=...>``) by the electrolyte XML and
    ``extra_xml`` files, read from the files themselves (OpenMM's ForceField keeps its type
    table private)."""
    import xml.etree.ElementTree as ET

    names: set[str] = set()
    for f in [str(xml_path()), *[str(x) for x in extra_xml]]:
        path = _resolve_xml(f)
        if path is None:
            continue
        root = ET.parse(path).getroot()
        names.update(t.get("name", "") for t in root.iter("Type") if t.get("name"))
    return names
