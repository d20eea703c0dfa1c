"""A slit that holds only the ions you name: rigid graphene walls, no electrolyte.

Used by the 0 K barrier scan (:mod:`predesolv.workflows.barrier_scan`) and for bare-ion
PMFs. Sheets are periodic along x **and** y (the box holds whole unit cells in both, so the
lattice has no edge anywhere), stacked along z: ``layers_per_wall`` sheets below the slit
and as many above, carbon plane to carbon plane ``spacing_nm`` across the slit and the
graphite spacing (0.335 nm) inside each wall. AB stacking shifts every other sheet by one
C–C bond counted from the lower slit wall (so the two slit walls are in AB registry); AA
stacks them on top of each other. Above the stack the box adds twice the nonbonded cutoff
of empty space, so no atom feels the stack's periodic image along z through LJ.

With a single ion the System skips what cannot change an energy difference (Coulomb of a
lone ion between neutral walls, carbon–carbon LJ of frozen sheets): energies differ from the
full PME System by a constant only, and dynamics are identical.

Parameters come from the package force field (``predesolv-carbon.xml`` sheet carbon
``CAR_C``, the ion from ``predesolv-electrolytes.xml``), with the config's combining rule,
cutoff, charge scaling and pair overrides (:func:`predesolv.forcefields.parameterize.
create_system`). Sheets are frozen (mass 0) and neutral; sheet–sheet pairs closer than
0.3 nm are excluded as in every predesolv cell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import openmm
from openmm import app, unit

from predesolv.built import BuiltSystem
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.errors import BuildError
from predesolv.forcefields.parameterize import create_system
from predesolv.metadata import IonSlitGeometry, Metadata

from .cell import carbon_xml_path, treat_frozen_pairs
from .graphene import CC_BOND_NM, cell_dimensions, ribbon, stacking_shift

#: Interlayer spacing inside each wall (graphite), nm.
GRAPHITE_NM = 0.335
#: Ion residue names of the electrolyte force field by the names users write.
ION_RESIDUES = {"Na": "NA", "NA": "NA"}


def lattice_cells(edge: str, cutoff_nm: float, margin_nm: float = 1.2) -> tuple[int, int]:
    """Unit cells along x and y so that each box edge exceeds ``2 cutoff + margin``."""
    lx, ly = cell_dimensions(edge)
    need = 2 * cutoff_nm + margin_nm
    return max(2, math.ceil(need / lx)), max(2, math.ceil(need / ly))


def sheet_heights(spacing_nm: float, layers_per_wall: int) -> tuple[list[float], float]:
    """Heights (nm) of every sheet, lowest first, and the slit mid-plane height."""
    lower = [(layers_per_wall - 1 - j) * GRAPHITE_NM for j in range(layers_per_wall)][::-1]
    top_low = lower[-1]
    upper = [top_low + spacing_nm + j * GRAPHITE_NM for j in range(layers_per_wall)]
    return sorted(lower) + upper, top_low + spacing_nm / 2


def build_ion_slit(spacing_nm: float, ions: Sequence[str] = ("Na",), *, stacking: str = "AB",
                   edge: str = "zigzag", layers_per_wall: int = 1, forcefield: object = None,
                   n_cells: tuple[int, int] | None = None) -> BuiltSystem:
    """Two rigid graphene walls ``spacing_nm`` apart with only ``ions`` in the slit.

    Parameters
    ----------
    spacing_nm : float
        Carbon plane to carbon plane across the slit (nm), >= 0.3.
    ions : sequence of str
        Ion names (``"Na"``), placed on the mid-plane, spread along y.
    stacking : {"AB", "AA"}
    edge : {"zigzag", "armchair"}
        Lattice orientation: which direction of the honeycomb lies along x.
    layers_per_wall : int
        Sheets on each side.
    forcefield : ForceFieldConfig, optional
        Default: the package defaults.
    n_cells : (int, int), optional
        Unit cells along x and y (default: each box edge > 2 cutoffs + 1.2 nm).

    Returns
    -------
    BuiltSystem
        Groups ``cation`` (the ions), ``electrode`` and ``frozen`` (the carbons);
        ``geometry.extra``: ``midplane_z_nm``, ``sheet_z_nm``, ``cell_nm`` (lattice cell).
    """

    ff = forcefield if forcefield is not None else ForceFieldConfig()
    if not spacing_nm >= 0.3 or layers_per_wall < 1 or not ions:
        raise BuildError(f"ion slit: need spacing >= 0.3 nm, layers_per_wall >= 1 and at "
                         f"least one ion (got {spacing_nm}, {layers_per_wall}, {list(ions)})")
    bad = [i for i in ions if i not in ION_RESIDUES]
    if bad:
        raise BuildError(f"ion slit: unknown ion {bad[0]!r}; choose from {sorted(ION_RESIDUES)}")
    cutoff = ff.nonbonded_cutoff.value_in_unit(unit.nanometer)  # type: ignore[attr-defined]
    n_x, n_y = n_cells or lattice_cells(edge, cutoff)
    lx, ly = cell_dimensions(edge)
    heights, mid = sheet_heights(spacing_nm, layers_per_wall)
    box = np.array([n_x * lx, n_y * ly, heights[-1] + 2 * cutoff + GRAPHITE_NM])
    carbons = []
    for k, z in enumerate(heights):
        layer = k - (layers_per_wall - 1)  # 0: lower slit wall, 1: upper slit wall
        sheet = ribbon(n_x, n_y, edge, z=z, shift=stacking_shift(edge, stacking, layer % 2))
        carbons.append(sheet.positions)
    pos_c = np.concatenate(carbons) % box  # whole cells: wrapping joins the ribbon ends
    pos_ion = np.array([[box[0] / 2, (j + 0.5) * box[1] / len(ions), mid]
                        for j in range(len(ions))])
    top = _topology(len(pos_c), [ION_RESIDUES[i] for i in ions], box)
    system, _ = create_system(top, ff, extra_xml=[carbon_xml_path()])
    frozen = list(range(len(pos_c)))
    for i in frozen:
        system.setParticleMass(i, 0.0)
    # the walls are frozen, so the mobile ions' momentum is not conserved anyway; a
    # CMMotionRemover would take away all motion of a lone ion
    for k in reversed(range(system.getNumForces())):
        if isinstance(system.getForce(k), openmm.CMMotionRemover):
            system.removeForce(k)
    positions = np.concatenate([pos_c, pos_ion])
    treat_frozen_pairs(system, frozen, positions, box, constant_potential=False)
    electrostatics = "PME"
    if len(ions) == 1:
        electrostatics = _lone_ion_shortcuts(system, len(pos_c))
    metadata = Metadata.from_dict({
        "groups": {"cation": list(range(len(pos_c), len(positions))), "electrode": frozen,
                   "frozen": frozen},
        "geometry": IonSlitGeometry(
            spacing_nm=float(spacing_nm), midplane_z_nm=float(mid),
            sheet_z_nm=tuple(float(z) for z in heights), stacking=stacking, edge=edge,
            cell_nm=(float(lx), float(ly)), n_cells=(int(n_x), int(n_y)), bond_nm=CC_BOND_NM,
            box_nm=(float(box[0]), float(box[1]), float(box[2])),
            electrostatics=electrostatics).to_dict(),
    }, "ion slit")
    return BuiltSystem(system, top, positions * unit.nanometer, metadata)


def _lone_ion_shortcuts(system: openmm.System, n_carbon: int) -> str:
    """With one ion and neutral frozen walls, drop the work that cannot change any energy
    difference or force. The NonbondedForce is removed: every wall charge and every LJ
    epsilon in it is zero (checked; the LJ lives in the combining-rule
    CustomNonbondedForce), so all it held was the lone ion's interaction with its own
    periodic images and PME's neutralising background, a constant in the ion's position
    (it cost 90 % of a step on the CPU platform). The LJ force keeps only ion–carbon pairs
    (an interaction group), with its cutoff and long-range correction. Potential energies
    of this system therefore differ from the full model by a constant.
    """
    for k in reversed(range(system.getNumForces())):
        force = system.getForce(k)
        if isinstance(force, openmm.NonbondedForce):
            params = [force.getParticleParameters(i) for i in range(force.getNumParticles())]
            if any(p[0].value_in_unit(unit.elementary_charge) for p in params[:n_carbon]):
                raise BuildError("ion slit: wall atoms carry charges; Coulomb is needed")
            if any(p[2].value_in_unit(unit.kilojoule_per_mole) for p in params):
                raise BuildError("ion slit: LJ terms found in the NonbondedForce; the "
                                 "lone-ion shortcut expects them in the CustomNonbondedForce")
            system.removeForce(k)
        elif isinstance(force, openmm.CustomNonbondedForce) \
                and force.getNumInteractionGroups() == 0:
            # a pair-override force already has its own group (ion type x carbon type); a
            # second group would count its pairs twice
            force.addInteractionGroup([n_carbon], list(range(n_carbon)))
    return ("no Coulomb term: one ion between neutral walls (its electrostatic energy is "
            "position independent, so energies differ from the full model by a constant); "
            "LJ evaluated for ion-carbon pairs only")


def _topology(n_carbon: int, ion_residues: list[str], box: np.ndarray) -> app.Topology:
    top = app.Topology()
    chain = top.addChain()
    carbon = app.Element.getBySymbol("C")
    for _ in range(n_carbon):
        top.addAtom("C", carbon, top.addResidue("GRA", chain))
    ions = top.addChain()
    for name in ion_residues:
        top.addAtom(name, app.Element.getBySymbol("Na"), top.addResidue(name, ions))
    top.setPeriodicBoxVectors([openmm.Vec3(box[0], 0, 0), openmm.Vec3(0, box[1], 0),
                               openmm.Vec3(0, 0, box[2])] * unit.nanometer)
    return top
