"""Bulk electrolyte builder: NaPF6 / NaClO4 in DME, EC, DMC, EMC (and mixtures).

Pieces meant for reuse by the electrode/cell builder:

* :func:`compute_composition` - molecule counts from an :class:`ElectrolyteConfig`, for the
  config's own box or for any given free volume (``volume_nm3``);
* :func:`pack_electrolyte` (= :func:`electrolyte_species` +
  :func:`predesolv.systems.packing.pack_molecules`) - pack them into regions of a box around
  fixed atoms;
* :func:`add_molecules` - append packed molecules to a (possibly non-empty) Topology;
* :func:`electrolyte_groups` - metadata groups (``cation``, ``anion``, ``solvent_O:EC``, ...)
  for any Topology containing electrolyte residues;
* :func:`predesolv.forcefields.parameterize.create_system` - parameterise the composite.

Initial densities come from experimental pure-solvent densities (:data:`SOLVENT_DATA`,
linear in T; sources in ``docs/validation.md``) and the salt's crystal molar volume
(:data:`SALT_DATA`); an NPT run fixes the density afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import openmm
from openmm import app, unit

from predesolv.built import BuiltSystem
from predesolv.config.electrolyte import SALTS, SOLVENTS, ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.constants import AVOGADRO_PER_MOL
from predesolv.errors import BuildError, ConfigError
from predesolv.forcefields.parameterize import (
    ELECTROLYTE_XML,
    create_system,
    load_molecule,
)
from predesolv.metadata import Groups, Metadata
from predesolv.metadata import Species as SpeciesInfo
from predesolv.systems.packing import Species, pack_molecules
from predesolv.version import __version__

AVOGADRO = AVOGADRO_PER_MOL  # 1/mol, from predesolv.constants
NM3_PER_CM3 = 1e21

SOLVENT_DATA: dict[str, dict[str, float | str]] = {
    # rho(T) = rho_ref + drho_dT * (T - T_ref), g/cm^3
    "DME": {"rho_ref": 0.8637, "T_ref": 298.15, "drho_dT": -0.00107,
            "source": "1,2-dimethoxyethane, 0.8637 g/cm3 at 25 C (CRC Handbook; "
                      "literature range 0.862-0.868)"},
    "EC": {"rho_ref": 1.3214, "T_ref": 313.15, "drho_dT": -0.00110,
           "source": "ethylene carbonate liquid 1.3214 g/cm3 at 40 C (literature "
                     "~1.32); below 309.5 K extrapolated (supercooled/mixture use)"},
    "DMC": {"rho_ref": 1.0636, "T_ref": 298.15, "drho_dT": -0.00128,
            "source": "dimethyl carbonate 1.0636 g/cm3 at 25 C (literature ~1.063)"},
    "EMC": {"rho_ref": 1.0060, "T_ref": 298.15, "drho_dT": -0.00120,
            "source": "ethyl methyl carbonate 1.006 g/cm3 at 25 C (supplier data sheets)"},
}
"""Experimental liquid densities used only to size the initial box."""

SALT_DATA: dict[str, dict[str, float | str]] = {
    "NaPF6": {"cation": "NA", "anion": "PF6", "molar_volume_cm3": 70.9,
              "source": "crystal molar volume M/rho = 167.95/2.369 g/cm3"},
    "NaClO4": {"cation": "NA", "anion": "CLO", "molar_volume_cm3": 49.0,
               "source": "crystal molar volume M/rho = 122.44/2.499 g/cm3"},
}
"""Salt residues and the volume one mole of salt is assumed to add to the solution."""

COORDINATING_O = {"DME": ("O1", "O2"), "EC": ("O",), "DMC": ("O",), "EMC": ("O",)}
"""Coordinating oxygens: ether O of DME, carbonyl O of the carbonates."""

ALL_O = {"DME": ("O1", "O2"), "EC": ("O", "OS1", "OS2"), "DMC": ("O", "OS1", "OS2"),
         "EMC": ("O", "OS1", "OS2")}
ANION_COORD = {"PF6": ("F1", "F2", "F3", "F4", "F5", "F6"), "CLO": ("O1", "O2", "O3", "O4")}
ANION_SPECIES = {"PF6": "PF6", "CLO": "ClO4"}


@dataclass
class Composition:
    """Molecule counts and box of an electrolyte.

    Attributes
    ----------
    n_salt : int
        Ion pairs.
    n_solvent : dict of str to int
        Molecules per solvent (insertion order = packing order).
    volume_nm3 : float
        Volume the counts were computed for (nm^3).
    density_g_cm3 : float
        Mass density implied by counts and volume.
    """

    n_salt: int
    n_solvent: dict[str, int]
    volume_nm3: float
    density_g_cm3: float

    @property
    def box_length_nm(self) -> float:
        """Edge of a cube of :attr:`volume_nm3`."""
        return self.volume_nm3 ** (1.0 / 3.0)


def molar_mass(resname: str) -> float:
    """Molar mass (g/mol) of a shipped molecule, from its element masses."""
    top, _ = load_molecule(resname)
    return sum(a.element.mass.value_in_unit(unit.dalton) for a in top.atoms())


def solvent_density(name: str, temperature_K: float) -> float:
    """Experimental density (g/cm^3) of pure solvent ``name`` at ``temperature_K``."""
    if name not in SOLVENT_DATA:
        raise ConfigError(f"unknown solvent {name!r}; allowed: {', '.join(SOLVENTS)}",
                          "electrolyte.solvents")
    d = SOLVENT_DATA[name]
    return float(d["rho_ref"]) + float(d["drho_dT"]) * (temperature_K - float(d["T_ref"]))


def _check(electrolyte: ElectrolyteConfig) -> None:
    """Re-check what pydantic checks, for configs built with ``model_construct``."""
    if electrolyte.salt not in SALTS:
        raise ConfigError(f"unknown salt {electrolyte.salt!r}; allowed: {', '.join(SALTS)}",
                          "electrolyte.salt")
    for name, frac in electrolyte.solvents.items():
        if name not in SOLVENTS:
            raise ConfigError(f"unknown solvent {name!r}; allowed: {', '.join(SOLVENTS)}",
                              "electrolyte.solvents")
        if not frac >= 0:
            raise ConfigError(f"fraction of {name} is {frac}; must be >= 0",
                              "electrolyte.solvents")
    total = sum(electrolyte.solvents.values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"solvent fractions sum to {total:g}; they must sum to 1",
                          "electrolyte.solvents")
    for fld in ("n_salt", "n_solvent"):
        v = getattr(electrolyte, fld)
        if v is not None and v < 0:
            raise ConfigError(f"{v} is negative; give a count >= 0", f"electrolyte.{fld}")


def compute_composition(electrolyte: ElectrolyteConfig,
                        volume_nm3: float | None = None) -> Composition:
    """Molecule counts for ``electrolyte``.

    Parameters
    ----------
    electrolyte : ElectrolyteConfig
        Composition. Its ``box_length`` / ``n_solvent`` decide the size unless
        ``volume_nm3`` is given.
    volume_nm3 : float, optional
        Free volume (nm^3) to fill (e.g. the electrolyte part of an electrode cell); overrides
        ``box_length`` and ``n_solvent``.

    Returns
    -------
    Composition

    Raises
    ------
    ConfigError, BuildError
        Invalid fractions or counts; salt volume exceeding the box; a requested solvent
        that rounds to zero molecules.
    """
    _check(electrolyte)
    mix = _solvent_mix(electrolyte)
    salt = SALT_DATA[electrolyte.salt]
    v_salt = float(salt["molar_volume_cm3"]) / AVOGADRO * NM3_PER_CM3
    conc = (None if electrolyte.concentration is None else
            electrolyte.concentration.value_in_unit(unit.mole / unit.liter))
    per_nm3 = None if conc is None else conc * AVOGADRO * 1e-24   # ion pairs per nm^3

    if volume_nm3 is None and electrolyte.box_length is not None:
        volume_nm3 = electrolyte.box_length.value_in_unit(unit.nanometer) ** 3
    if volume_nm3 is not None:
        n_salt, counts = _fill_volume(electrolyte, mix, volume_nm3, v_salt, per_nm3)
    else:
        n_salt, counts, volume_nm3 = _from_solvent_count(electrolyte, mix, v_salt, per_nm3)
    names, frac, mm = mix["names"], mix["frac"], mix["mm"]
    for n, c, f in zip(names, counts, frac, strict=False):
        if f > 0 and c == 0:
            raise BuildError(f"solvent {n} (fraction {f:g}) rounds to 0 molecules in "
                             f"{volume_nm3:.1f} nm^3; enlarge the box or n_solvent")
    if counts.sum() == 0 and n_salt == 0:
        raise BuildError("the electrolyte would contain no molecules; enlarge the box or "
                         "give n_solvent > 0")
    mass = float((counts * mm).sum()) + n_salt * (molar_mass(str(salt["cation"]))
                                                  + molar_mass(str(salt["anion"])))
    density = mass / AVOGADRO / (volume_nm3 / NM3_PER_CM3)
    n_solvent = {n: int(c) for n, c in zip(names, counts, strict=True)}
    return Composition(n_salt=int(n_salt), n_solvent=n_solvent,
                       volume_nm3=float(volume_nm3), density_g_cm3=density)


def _solvent_mix(electrolyte: ElectrolyteConfig) -> dict[str, Any]:
    """Solvent names, requested fractions, molar masses (g/mol), molecular volumes of the pure
    solvents (``vmol``, nm^3), mole fractions ``x`` and the ideal-mixing volume per solvent
    molecule (``v_per_mol``, nm^3)."""
    temp = electrolyte.temperature.value_in_unit(unit.kelvin)
    names = [n for n, f in electrolyte.solvents.items() if f > 0]
    frac = np.array([electrolyte.solvents[n] for n in names], float)
    mm = np.array([molar_mass(n) for n in names])
    rho = np.array([solvent_density(n, temp) for n in names])
    vmol = mm / rho / AVOGADRO * NM3_PER_CM3          # nm^3 per molecule of pure solvent
    if electrolyte.fraction_basis == "volume":
        x = frac / vmol                               # molecules per unit solvent volume
        x = x / x.sum()
    else:
        x = frac / frac.sum()
    return {"names": names, "frac": frac, "mm": mm, "vmol": vmol, "x": x,
            "v_per_mol": float((x * vmol).sum())}


def _required(value: int | None, name: str) -> int:
    """A count the config validator guarantees in this branch (ElectrolyteConfig)."""
    if value is None:
        raise ConfigError(f"system.electrolyte.{name}: required here; give {name}",
                          f"system.electrolyte.{name}")
    return int(value)


def _fill_volume(electrolyte: ElectrolyteConfig, mix: dict[str, Any], volume_nm3: float,
                 v_salt: float, per_nm3: float | None) -> tuple[int, np.ndarray]:
    """Salt and solvent counts that fill ``volume_nm3`` (nm^3) at the pure densities."""
    n_salt = (round(per_nm3 * volume_nm3) if per_nm3 is not None
              else _required(electrolyte.n_salt, "n_salt"))
    v_solv = volume_nm3 - n_salt * v_salt
    if v_solv <= 0:
        raise BuildError(f"{n_salt} ion pairs of {electrolyte.salt} occupy "
                         f"{n_salt * v_salt:.2f} nm^3, more than the box volume "
                         f"{volume_nm3:.2f} nm^3; lower electrolyte.concentration / "
                         "n_salt or enlarge the box")
    n_tot = v_solv / mix["v_per_mol"]
    return n_salt, np.round(mix["x"] * n_tot).astype(int)


def _from_solvent_count(electrolyte: ElectrolyteConfig, mix: dict[str, Any], v_salt: float,
                        per_nm3: float | None) -> tuple[int, np.ndarray, float]:
    """Counts and volume (nm^3) from ``electrolyte.n_solvent`` solvent molecules in total."""
    x, n_total = mix["x"], _required(electrolyte.n_solvent, "n_solvent")
    counts = np.round(x * n_total).astype(int)
    while counts.sum() != n_total:          # fix rounding so the total is exact
        short = counts.sum() < n_total
        k = int(np.argmax(x * n_total - counts)) if short else int(np.argmin(x * n_total - counts))
        counts[k] += 1 if short else -1
    v_solv = float((counts * mix["vmol"]).sum())
    if per_nm3 is not None:
        if per_nm3 * v_salt >= 1.0:
            conc = per_nm3 / (AVOGADRO * 1e-24)
            raise BuildError(f"electrolyte.concentration = {conc:g} M cannot fit: the salt "
                             f"alone would fill the volume; allowed < "
                             f"{1.0 / (v_salt * AVOGADRO * 1e-24):.1f} M")
        n_salt = round(per_nm3 * v_solv / (1.0 - per_nm3 * v_salt))
    else:
        n_salt = _required(electrolyte.n_salt, "n_salt")
    return n_salt, counts, v_solv + n_salt * v_salt


def electrolyte_species(comp: Composition, salt: str,
                        regions: list | None = None, anions: bool = True) -> list[Species]:
    """Packing species (cations, anions unless ``anions`` is False, then solvents)."""
    sd = SALT_DATA[salt]
    out = []
    for res, n in [(str(sd["cation"]), comp.n_salt),
                   (str(sd["anion"]), comp.n_salt if anions else 0),
                   *comp.n_solvent.items()]:
        top, xyz = load_molecule(res)
        out.append(Species(res, xyz, [a.element.symbol for a in top.atoms()], int(n),
                           list(regions or [])))
    return out


def pack_electrolyte(comp: Composition, salt: str, box_nm: list[float], seed: int,
                     regions: list | None = None, fixed_nm: np.ndarray | None = None,
                     tolerance_nm: float = 0.2, packer: str = "packmol",
                     anions: bool = True) -> tuple[list[Species], np.ndarray]:
    """Pack the molecules of ``comp`` into ``regions`` of a periodic box around fixed atoms.

    Parameters
    ----------
    comp : Composition
        Counts, e.g. from :func:`compute_composition` with ``volume_nm3`` = free volume.
    salt : str
        ``NaPF6`` or ``NaClO4``.
    box_nm : list of 3 float
        Orthorhombic box edges (nm).
    seed : int
        Packing seed.
    regions : list, optional
        ``[((xlo, ylo, zlo), (xhi, yhi, zhi)), ...]`` in nm; molecules are split over the
        regions in proportion to their volumes. Default: whole box.
    fixed_nm : numpy.ndarray, optional
        Atoms to avoid (e.g. electrode carbons), shape (n, 3), nm.
    tolerance_nm : float
        Minimum distance between atoms of different molecules / fixed atoms.
    packer : {"packmol", "random"}
        Packing engine.

    Returns
    -------
    species : list of Species
        Pass to :func:`add_molecules` to append the matching residues to a Topology.
    xyz : numpy.ndarray
        Coordinates (nm) in the same order.
    """
    species = electrolyte_species(comp, salt, regions, anions)
    xyz = pack_molecules(species, box_nm, seed=seed, tolerance=tolerance_nm, fixed=fixed_nm,
                         packer=packer)
    return species, xyz


def add_molecules(topology: app.Topology, species: list[Species]) -> None:
    """Append ``count`` copies of every species (one chain per species) to ``topology``."""
    for sp in species:
        if sp.count == 0:
            continue
        tmpl, _ = load_molecule(sp.name)
        chain = topology.addChain()
        for _ in range(sp.count):
            res = topology.addResidue(sp.name, chain)
            atoms = [topology.addAtom(a.name, a.element, res) for a in tmpl.atoms()]
            for b in tmpl.bonds():
                topology.addBond(atoms[b[0].index], atoms[b[1].index])


def electrolyte_groups(topology: app.Topology) -> dict[str, list[int]]:
    """Metadata groups of the electrolyte residues present in ``topology``.

    Returns ``cation``, ``anion``, ``anion_coord``, and per solvent ``solvent:<NAME>``,
    ``solvent_O:<NAME>`` (coordinating O) and ``solvent_Oall:<NAME>``; sorted indices.
    """
    groups: dict[str, list[int]] = {"cation": [], "anion": [], "anion_coord": []}
    for atom in topology.atoms():
        rn = atom.residue.name
        if rn == "NA":
            groups["cation"].append(atom.index)
        elif rn in ANION_COORD:
            groups["anion"].append(atom.index)
            if atom.name in ANION_COORD[rn]:
                groups["anion_coord"].append(atom.index)
        elif rn in COORDINATING_O:
            groups.setdefault(f"solvent:{rn}", []).append(atom.index)
            groups.setdefault(f"solvent_O:{rn}", [])
            groups.setdefault(f"solvent_Oall:{rn}", [])
            if atom.name in COORDINATING_O[rn]:
                groups[f"solvent_O:{rn}"].append(atom.index)
            if atom.name in ALL_O[rn]:
                groups[f"solvent_Oall:{rn}"].append(atom.index)
    return {k: sorted(v) for k, v in groups.items()}


def _net_charge(system) -> float:
    import openmm

    nb = [f for f in system.getForces() if isinstance(f, openmm.NonbondedForce)][0]
    return sum(nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
               for i in range(system.getNumParticles()))


def build_electrolyte(electrolyte: ElectrolyteConfig, forcefield: ForceFieldConfig,
                      seed: int, packer: str = "packmol") -> BuiltSystem:
    """Build a periodic cubic box of bulk electrolyte.

    Parameters
    ----------
    electrolyte : ElectrolyteConfig
        Salt, solvents, concentration, size.
    forcefield : ForceFieldConfig
        Cutoff, constraints, charge scaling, combining rule.
    seed : int
        Packing seed (same seed, same coordinates).
    packer : {"packmol", "random"}
        Packing engine (see :mod:`predesolv.systems.packing`).

    Returns
    -------
    BuiltSystem
        PME System (LJ with the force field's combining rule), topology with box,
        positions (nm) and metadata (groups, species, composition, provenance).

    Raises
    ------
    ConfigError, BuildError
        Bad composition, box smaller than twice the cutoff, packing failure.
    """
    comp = compute_composition(electrolyte)
    L = comp.box_length_nm
    cutoff = forcefield.nonbonded_cutoff.value_in_unit(unit.nanometer)
    if L < 2 * cutoff:
        field = "box_length" if electrolyte.box_length is not None else "n_solvent"
        raise BuildError(f"the box ({L:.3f} nm) is shorter than 2 x nonbonded_cutoff "
                         f"({2 * cutoff:g} nm); increase electrolyte.{field} or reduce "
                         "forcefield.nonbonded_cutoff")
    tol = electrolyte.packing_tolerance.value_in_unit(unit.nanometer)
    species, xyz = pack_electrolyte(comp, electrolyte.salt, [L, L, L], seed,
                                    tolerance_nm=tol, packer=packer,
                                    anions=not electrolyte.anion_free)
    top = app.Topology()
    add_molecules(top, species)
    top.setPeriodicBoxVectors(np.eye(3) * L * unit.nanometer)
    system, types = create_system(top, forcefield)
    q = _net_charge(system)
    q_want = comp.n_salt * forcefield.charge_scaling if electrolyte.anion_free else 0.0
    if abs(q - q_want) > 1e-6:
        raise BuildError(f"internal error: built electrolyte has net charge {q:.6f} e "
                         f"(expected {q_want:g})")
    sd = SALT_DATA[electrolyte.salt]
    metadata = Metadata(
        species=SpeciesInfo("Na", ANION_SPECIES[str(sd["anion"])], tuple(comp.n_solvent)),
        groups=Groups(electrolyte_groups(top)),
        composition={"n_salt": comp.n_salt, "n_solvent": comp.n_solvent,
                     "box_length_nm": L, "initial_density_g_cm3": _density(system, L),
                     "molarity_M": comp.n_salt / AVOGADRO / (comp.volume_nm3 * 1e-24),
                     "anion_free": electrolyte.anion_free, "net_charge_e": q},
        forcefield={"charge_scaling": forcefield.charge_scaling,
                    "combining_rule": forcefield.combining_rule,
                    "atom_types": sorted(set(types))},
        provenance={"builder": "predesolv.systems.electrolyte.build_electrolyte",
                    "version": __version__, "seed": int(seed), "packer": packer,
                    "forcefield_files": [ELECTROLYTE_XML, *forcefield.files]},
    )
    return BuiltSystem(system=system, topology=top, positions=xyz * unit.nanometer,
                       metadata=metadata)


def _density(system: openmm.System, box_nm: float) -> float:
    """Mass density (g/cm3) of the System's particles in a cubic box of edge ``box_nm``."""
    mass = sum(system.getParticleMass(i).value_in_unit(unit.dalton)
               for i in range(system.getNumParticles()))
    return mass / AVOGADRO / (box_nm**3 / NM3_PER_CM3)


def count_summary(built: BuiltSystem) -> Mapping[str, int]:
    """Residue counts of a built system (``{"NA": 10, "DME": 90, ...}``)."""
    out: dict[str, int] = {}
    for r in built.topology.residues():
        out[r.name] = out.get(r.name, 0) + 1
    return out

