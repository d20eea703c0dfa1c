"""Electrode + electrolyte cells: :func:`build_cell`.

Layout along x (the insertion axis; y and z are periodic along the carbon lattice)::

    no counter electrode:   | reservoir | working electrode (mouth at x_m, +x) | -> wrap
    with counter electrode: | counter | reservoir A | working electrode | reservoir B | -> wrap

Without a counter electrode the working electrode's back faces the reservoir through the
periodic boundary (a plain slit is then open at both ends; a stage-wise pore is closed by its
cap). With a counter electrode the electrolyte is split into two equal reservoirs so both
electrodes are immersed on both faces: two electrodes facing each other across a thin vacuum
gap would form a second, much larger capacitor through the periodic boundary (measured:
with a 0.335 nm back gap, most of the constant-potential charge sat on the back faces).
The reservoirs' packing regions hold the electrolyte volume the ``electrolyte`` block asks
for (its ``box_length`` or ``n_solvent``) at the experimental solvent densities; atoms are
packed at least ``clearance`` away from the carbon faces. The cell runs at fixed box (NVT):
``metadata.geometry.fixed_axes`` is ``["x", "y", "z"]``.

Parameterisation: ``predesolv-electrolytes.xml`` + ``predesolv-carbon.xml`` through
:func:`predesolv.forcefields.parameterize.create_system` (combining rule applied once on the
whole composite System). Then: electrode masses 0, electrode constraints removed, LJ
between two electrode atoms switched off (:func:`charges.zero_frozen_pair_lj`), charges
applied
(constant charge) or moved into a ``ConstantPotentialForce`` (constant potential).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from openmm import app, unit

from predesolv.built import BuiltSystem
from predesolv.config.electrode import (
    ConstantChargeConfig,
    ConstantPotentialConfig,
    ElectrodeConfig,
    charge_mode,
    register_charge_mode,
)
from predesolv.config.electrode_kinds import electrode_kind
from predesolv.config.units import to_nm
from predesolv.errors import BuildError, ConfigError
from predesolv.forcefields.data import get_data_dir
from predesolv.forcefields.parameterize import ELECTROLYTE_XML, create_system
from predesolv.metadata import (
    ELECTRODE,
    FROZEN,
    Charges,
    Geometry,
    Groups,
    Insertion,
    Metadata,
    Region,
    Requires,
    Species,
    electrode_group,
)
from predesolv.systems import charges as ch
from predesolv.systems.constant_potential import (
    cp_settings,
    strip_pair_exclusions,
    to_constant_potential,
)
from predesolv.systems.dopants import ElectrodeResidues, electrode_residues
from predesolv.systems.electrolyte import (
    ANION_SPECIES,
    SALT_DATA,
    add_molecules,
    compute_composition,
    electrolyte_groups,
    electrolyte_species,
)
from predesolv.systems.packing import pack_molecules
from predesolv.systems.slit import (
    ElectrodeGeometry,
    build_counter_geometry,
    build_electrode_geometry,
)
from predesolv.version import __version__

CARBON_XML = "predesolv-carbon.xml"
MOUTH_DEPTH_NM = 0.8
"""Extent (nm) of the ``mouth`` region in front of the slit entrance."""


def carbon_xml_path() -> str:
    """Absolute path of :data:`CARBON_XML`."""
    return str(Path(get_data_dir()) / CARBON_XML)


FROZEN_EXCLUSION_NM = 0.3
"""Electrode atom pairs closer than this are excluded (constant charge / uncharged)."""


def treat_frozen_pairs(system: Any, frozen: list[int], pos: np.ndarray, box: np.ndarray,
                       constant_potential: bool, within_nm: float = FROZEN_EXCLUSION_NM) -> str:
    """Remove the huge constant interaction energy between frozen electrode atoms.

    Constant charge / uncharged: exclude (Coulomb + LJ) electrode pairs closer than
    ``within_nm`` (default :data:`FROZEN_EXCLUSION_NM`; ``electrode.frozen_pairs: all``
    passes the nonbonded cutoff, so no frozen pair is evaluated) in every nonbonded force.
    Forces on mobile atoms do not change; the energy changes by a constant (the excluded
    pairs' interaction), so energies compare only between runs with the same treatment.
    Constant potential (no exception
    may touch an electrode particle): switch electrode-electrode LJ off with a per-particle
    flag (:func:`charges.zero_frozen_pair_lj`). Both keep mixed-precision energies within
    0.01 kJ/mol of double precision; exclusions cost 4 %, the switch 11 % (measured,
    docs/electrodes.md).

    Returns
    -------
    str
        Description recorded in ``metadata.geometry.electrode_pair_treatment``.
    """
    if constant_potential:
        ch.zero_frozen_pair_lj(system, frozen)
        return "LJ switched off between electrode atoms (per-particle flag fz)"
    pairs = ch.close_pairs(pos, frozen, box, within_nm)
    ch.exclude_pairs(system, pairs)
    return f"{len(pairs)} electrode pairs closer than {within_nm:g} nm excluded"


#: Reservoirs thinner than this (nm, along x) have no bulk-like middle for a solvated Na+.
MIN_RESERVOIR_NM = 2.0


def reservoir_warnings(metadata: Metadata) -> list[str]:
    """One line per electrolyte reservoir thinner than :data:`MIN_RESERVOIR_NM`."""
    geo = metadata.geometry
    spans = [] if geo is None else geo.extra.get("reservoir_x_nm") or []
    return [f"reservoir {k} is {hi - lo:.2f} nm thick along x (< {MIN_RESERVOIR_NM:g} nm): no "
            f"bulk-like region for a solvated Na+; raise system.electrolyte.n_solvent (or "
            f"box_length) for >= 2.5 nm reservoirs"
            for k, (lo, hi) in enumerate(spans) if hi - lo < MIN_RESERVOIR_NM]


def conductor_atoms(system: Any, top: app.Topology, electrode: list[int]) -> list[int]:
    """The conductor of a constant-potential electrode: its sheet carbons, i.e. the carbons
    without a force-field charge. Dopant atoms (N, O, H), edge H and the carbons bonded to
    them carry force-field charges and keep them as fixed charges."""
    nb = ch.nonbonded_force(system)
    atoms = list(top.atoms())
    out = []
    for i in electrode:
        q = nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
        if atoms[i].element is not None and atoms[i].element.symbol == "C" and q == 0.0:
            out.append(i)
    return out



def _add_electrode(top: app.Topology, res: ElectrodeResidues) -> None:
    """Append the electrode's residues (one chain) in residue order."""
    chain = top.addChain()
    for rname, idx in res.residues:
        r = top.addResidue(rname, chain)
        atoms = [top.addAtom(res.names[i], app.Element.getBySymbol(res.elements[i]), r)
                 for i in idx]
        for a in atoms[1:]:
            top.addBond(atoms[0], a)


def _ordered_positions(res: ElectrodeResidues) -> np.ndarray:
    order = [i for _, idx in res.residues for i in idx]
    return res.positions[order]


def _ordered(res: ElectrodeResidues, values: list) -> list:
    order = [i for _, idx in res.residues for i in idx]
    return [values[i] for i in order]


def _charged_atoms(res_order_part: list[str], res_order_el: list[str], apply_to: str) -> list[int]:
    return [k for k, (p, el) in enumerate(zip(res_order_part, res_order_el, strict=True))
            if el == "C" and (apply_to == "all" or p == "slit_walls")]


@dataclass
class _Layout:
    """Where everything goes along x (nm, cell frame) and how much electrolyte it holds."""

    geom: ElectrodeGeometry
    work: ElectrodeResidues
    counter_geom: ElectrodeGeometry | None
    counter: ElectrodeResidues | None
    comp: Any
    x_m: float
    box: np.ndarray
    reservoirs: list[tuple[float, float]]
    r_pack: float
    pack_regions: list[Any]
    slit_pack: list[Any]


@dataclass
class _Assembly:
    """The parameterised cell before its electrodes are charged."""

    system: Any
    top: app.Topology
    types: list[str]
    pos: np.ndarray
    w_idx: list[int]
    c_idx: list[int]
    pair_treatment: str = ""

    @property
    def frozen(self) -> list[int]:
        return self.w_idx + self.c_idx


@dataclass
class _ChargeResult:
    """What charging the electrodes recorded."""

    charges: dict[str, Any] = field(default_factory=lambda: {"mode": "none"})
    requires: dict[str, Any] = field(default_factory=lambda: {"fixed_box": False})
    groups: dict[str, list[int]] = field(default_factory=dict)
    area_nm2: float = 0.0


def build_cell(electrolyte: Any, electrode: ElectrodeConfig, forcefield: Any,
               seed: int) -> BuiltSystem:
    """Build an electrode/electrolyte cell.

    Parameters
    ----------
    electrolyte : predesolv.config.electrolyte.ElectrolyteConfig
        Composition; its size (``box_length`` or ``n_solvent``) sets the reservoir volume.
    electrode : predesolv.config.electrode.ElectrodeConfig
        Geometry, charges, dopants.
    forcefield : predesolv.config.forcefield.ForceFieldConfig
        Cutoff, combining rule, charge scaling, extra XML.
    seed : int
        Packing and dopant-placement seed.

    Returns
    -------
    BuiltSystem
        Frozen electrodes (mass 0), metadata with groups, geometry, charges, requirements.

    Raises
    ------
    BuildError
        Box narrower than twice the cutoff, non-neutral cell, packing failure, impossible
        dopant count.
    """
    if electrolyte.anion_free:
        raise ConfigError("electrolyte.anion_free: true is for bulk boxes; an electrode "
                          "cell must be neutral (remove anion_free or the electrode)",
                          "electrolyte.anion_free")
    lay = _layout(electrolyte, electrode, forcefield, seed)
    species = electrolyte_species(lay.comp, electrolyte.salt, lay.pack_regions)
    q_req, q_work = _requested_charge(electrode, forcefield, lay.geom, species)
    asm = _assemble(electrode, forcefield, lay, species, electrolyte, seed)
    result = _charge_electrodes(electrode, lay, asm, q_req, q_work)
    md = _metadata(electrolyte, electrode, forcefield, seed, lay, asm, result)
    return BuiltSystem(system=asm.system, topology=asm.top, positions=asm.pos * unit.nanometer,
                       metadata=md)


def _layout(electrolyte: Any, electrode: ElectrodeConfig, forcefield: Any,
            seed: int) -> _Layout:
    """Electrode geometry, dopant placement, electrolyte amount and the x layout."""
    cutoff = to_nm(forcefield.nonbonded_cutoff)
    clear = to_nm(electrode.clearance)
    geom = build_electrode_geometry(electrode)
    ly, lz = geom.box_y, geom.box_z
    if min(ly, lz) < 2 * cutoff:
        need = int(np.ceil((2 * cutoff - lz) / (2 * to_nm(electrode.layer_spacing))))
        raise BuildError(
            f"electrode box is {ly:.3f} nm (y) x {lz:.3f} nm (z) but must be >= 2 x "
            f"nonbonded_cutoff = {2 * cutoff:g} nm in both; increase electrode.width"
            + (f" / electrode.layers_per_wall (by >= {need})" if lz < 2 * cutoff else "")
            + " or reduce forcefield.nonbonded_cutoff")
    work = electrode_residues(geom, electrode.dopants, seed)
    counter_geom = (build_counter_geometry(electrode, ly, lz)
                    if electrode.counter_electrode is not None else None)
    counter = electrode_residues(counter_geom) if counter_geom is not None else None
    comp = compute_composition(electrolyte)
    r_pack = comp.volume_nm3 / (ly * lz)
    if counter_geom is None:
        x_m = r_pack + clear
        box_x = x_m + geom.x_extent + clear
        reservoirs = [(0.0, r_pack)]
    else:  # two reservoirs: counter | A | working | B | (counter image)
        res_lo = counter_geom.x_extent + clear
        x_m = res_lo + 0.5 * r_pack + clear
        b_lo = x_m + geom.x_extent + clear
        box_x = b_lo + 0.5 * r_pack + clear
        reservoirs = [(res_lo, res_lo + 0.5 * r_pack), (b_lo, b_lo + 0.5 * r_pack)]
    regions: list[Any] = [((lo, 0.0, 0.0), (hi, ly, lz)) for lo, hi in reservoirs]
    slit_pack = _slit_pack_regions(electrode, geom, x_m, clear)
    if slit_pack:
        v_slit = sum(np.prod(np.subtract(hi, lo)) for lo, hi in slit_pack)
        comp = compute_composition(electrolyte, volume_nm3=comp.volume_nm3 + v_slit)
        regions += slit_pack
    return _Layout(geom, work, counter_geom, counter, comp, x_m, np.array([box_x, ly, lz]),
                   reservoirs, r_pack, regions, slit_pack)


def _slit_pack_regions(electrode: ElectrodeConfig, geom: ElectrodeGeometry, x_m: float,
                       clear: float) -> list[Any]:
    """Packing boxes inside the slits (``fill_slit``), or none."""
    out: list[Any] = []
    if not electrode.fill_slit:
        return out
    for seg in geom.segments:
        if seg.get("z_nm") is None:
            continue
        z0, z1 = seg["z_nm"][0] + clear, seg["z_nm"][1] - clear
        x0, x1 = x_m + seg["x_nm"][0] + 0.1, x_m + seg["x_nm"][1] - 0.1
        if z1 - z0 < 0.05 or x1 <= x0:
            raise BuildError(
                f"electrode.fill_slit: slit {seg['name']} (d = {seg['spacing_nm']:.3f} nm) "
                f"leaves no room for atoms with clearance {clear:g} nm; lower "
                "electrode.clearance or leave the slit empty")
        out.append(((x0, 0.0, z0), (x1, geom.box_y, z1)))
    return out


def _requested_charge(electrode: ElectrodeConfig, forcefield: Any, geom: ElectrodeGeometry,
                      species: list[Any]) -> tuple[float | None, float | None]:
    """Constant charge: (requested, realised) working-electrode charge in e; neutralising
    with the electrolyte removes ions from ``species`` (whole scaled ions)."""
    charge_cfg = electrode.charge
    if not isinstance(charge_cfg, ConstantChargeConfig):
        return None, None
    area = _charge_area(electrode, geom)
    total = charge_cfg.total  # the config requires sigma or total
    q_req = (ch.sigma_to_charge(float(charge_cfg.sigma.value_in_unit(
        unit.coulomb / unit.meter**2)), area) if charge_cfg.sigma is not None
        else float(total.value_in_unit(unit.elementary_charge)) if total is not None
        else 0.0)
    if charge_cfg.neutralize != "electrolyte":
        return q_req, q_req
    q_ion = float(forcefield.charge_scaling)
    k = int(round(abs(q_req) / q_ion))
    if k == 0 and q_req != 0.0:
        raise BuildError(
            f"electrode.charge: requested {q_req:.4f} e is smaller than half an ion "
            f"charge ({q_ion:g} e), so the electrolyte cannot neutralise it; allowed: "
            f"|charge| >= {q_ion / 2:g} e, or neutralize: counter_electrode")
    victim = 1 if q_req < 0 else 0  # remove anions for a negative electrode
    if species[victim].count < k:
        raise BuildError(
            f"electrode.charge: neutralising {q_req:+.3f} e needs removing {k} "
            f"{species[victim].name} but the electrolyte has {species[victim].count}; "
            "lower sigma/total or add salt")
    species[victim].count -= k
    return q_req, float(np.sign(q_req)) * k * q_ion


def _assemble(electrode: ElectrodeConfig, forcefield: Any, lay: _Layout, species: list[Any],
              electrolyte: Any, seed: int) -> _Assembly:
    """Pack the electrolyte, build the topology, parameterise, freeze the electrodes."""
    tol = float(electrolyte.packing_tolerance.value_in_unit(unit.nanometer))
    fixed = None
    if lay.slit_pack:
        fixed = np.vstack([lay.work.positions + [lay.x_m, 0, 0]]
                          + ([lay.counter.positions] if lay.counter is not None else []))
    xyz = pack_molecules(species, lay.box, seed=seed, tolerance=tol, fixed=fixed)
    top = app.Topology()
    add_molecules(top, species)
    n_el = top.getNumAtoms()
    _add_electrode(top, lay.work)
    w_idx = list(range(n_el, top.getNumAtoms()))
    c_idx: list[int] = []
    parts = [xyz, _ordered_positions(lay.work) + [lay.x_m, 0.0, 0.0]]
    if lay.counter is not None:
        _add_electrode(top, lay.counter)
        c_idx = list(range(n_el + lay.work.n_atoms, top.getNumAtoms()))
        parts.append(_ordered_positions(lay.counter))
    top.setPeriodicBoxVectors(np.diag(lay.box) * unit.nanometer)
    system, types = create_system(top, forcefield, extra_xml=[carbon_xml_path()])
    asm = _Assembly(system, top, types, np.vstack(parts), w_idx, c_idx)
    if electrode.flexible is None:
        ch.freeze(system, asm.frozen)
        ch.add_rigid_body_bonds(system, [w_idx] + ([c_idx] if c_idx else []))
    else:
        ch.restrain(system, asm.frozen, asm.pos, electrode.flexible.restraint_k)
    cp = electrode.charge is not None and electrode.charge.constant_potential
    within = (float(forcefield.nonbonded_cutoff.value_in_unit(unit.nanometer))
              if electrode.frozen_pairs == "all" else FROZEN_EXCLUSION_NM)
    asm.pair_treatment = treat_frozen_pairs(system, asm.frozen, asm.pos, lay.box, cp, within)
    return asm


def _charge_electrodes(electrode: ElectrodeConfig, lay: _Layout, asm: _Assembly,
                       q_req: float | None, q_work: float | None) -> _ChargeResult:
    """Charge the electrodes with the registered charge mode's ``apply`` (none: check that
    the cell is neutral)."""
    cfg = electrode.charge
    out = _ChargeResult(area_nm2=_charge_area(electrode, lay.geom))
    if cfg is not None:
        apply = charge_mode(cfg.mode).apply
        if apply is None:
            raise BuildError(f"electrode.charge.mode {cfg.mode!r} has no builder registered "
                             f"(register_charge_mode(name, model, apply))")
        return apply(cfg, lay, asm, q_req, q_work, out)
    if abs(ch.total_charge(asm.system)) > 1e-6:
        raise BuildError("the cell is not neutral; check the electrolyte composition")
    return out


def _apply_constant_charge(cfg: ConstantChargeConfig, lay: _Layout, asm: _Assembly,
                           q_req: float | None, q_work: float | None,
                           out: _ChargeResult) -> _ChargeResult:
    """Charge mode ``constant_charge``: fixed charges (see :func:`_constant_charge`)."""
    assert q_req is not None and q_work is not None
    out.charges = _constant_charge(cfg, lay, asm, q_req, q_work, out.area_nm2)
    return out


def _apply_constant_potential(cfg: ConstantPotentialConfig, lay: _Layout, asm: _Assembly,
                              q_req: float | None, q_work: float | None,
                              out: _ChargeResult) -> _ChargeResult:
    """Charge mode ``constant_potential``: the charges move into a ConstantPotentialForce
    whose conductors are the sheet carbons of both electrodes."""
    settings = cp_settings(cfg)
    w_cond = conductor_atoms(asm.system, asm.top, asm.w_idx)
    c_cond = conductor_atoms(asm.system, asm.top, asm.c_idx)
    strip_pair_exclusions(asm.system, asm.frozen, conductors=w_cond + c_cond)
    to_constant_potential(
        asm.system, w_cond, c_cond, settings["delta_v_V"], float(lay.box[0]),
        method=cfg.method, gaussian_width=settings["gaussian_width_nm"],
        thomas_fermi_scale=settings["thomas_fermi_scale_per_nm"],
        cg_tolerance=settings["cg_tolerance_kJ_mol_e"], finite_field=cfg.finite_field)
    out.charges = {"mode": "constant_potential", **settings,
                   "electrodes": {"working": "conductor:working",
                                  "counter": "conductor:counter"},
                   "n_conductor_atoms": len(w_cond) + len(c_cond),
                   "n_fixed_charge_electrode_atoms":
                       len(asm.frozen) - len(w_cond) - len(c_cond)}
    out.groups = {"conductor:working": w_cond, "conductor:counter": c_cond}
    out.requires = {"fixed_box": True}
    return out


def _constant_charge(cfg: ConstantChargeConfig, lay: _Layout, asm: _Assembly, q_req: float,
                     q_work: float, area: float) -> dict[str, Any]:
    """Spread ``q_work`` over the chosen carbons (and its opposite over the counter)."""
    w_part, w_el = _ordered(lay.work, lay.work.part), _ordered(lay.work, lay.work.elements)
    # the charge goes on the conductor, as under constant potential: sheet carbons without a
    # force-field charge (dopant groups and edge C-H keep exactly their own charges)
    sheet = set(conductor_atoms(asm.system, asm.top, asm.w_idx))
    sel = [i for i in (asm.w_idx[k] for k in _charged_atoms(w_part, w_el, cfg.apply_to))
           if i in sheet]
    dq = ch.spread_charge(asm.system, sel, q_work)
    md = {"mode": "constant_charge", "apply_to": cfg.apply_to, "neutralize": cfg.neutralize,
          "area_nm2": area, "requested_total_e": q_req, "realised_total_e": q_work,
          "realised_sigma_C_m2": ch.charge_to_sigma(q_work, area),
          "charge_per_atom_e": dq, "n_charged_atoms": len(sel)}
    if cfg.neutralize == "counter_electrode":
        assert lay.counter is not None
        c_sel = conductor_atoms(asm.system, asm.top, asm.c_idx)
        ch.spread_charge(asm.system, c_sel, -q_work)
        md["counter_total_e"] = -q_work
    q_tot = ch.total_charge(asm.system)
    if abs(q_tot) > 1e-6:
        raise BuildError(
            f"electrode.charge: the cell is not neutral (net {q_tot:+.6f} e); allowed: "
            "a neutral cell (use neutralize: counter_electrode, or a charge the "
            "electrolyte's ions can balance)")
    md["working_total_e"] = ch.total_charge(asm.system, asm.w_idx)
    md["cell_total_e"] = q_tot
    return md


def _restraint_k(electrode: ElectrodeConfig) -> float:
    assert electrode.flexible is not None  # called for flexible electrodes only
    return float(electrode.flexible.restraint_k.value_in_unit(
        unit.kilojoule_per_mole / unit.nanometer**2))


def _charge_area(electrode: ElectrodeConfig, geom: ElectrodeGeometry) -> float:
    """Area (nm^2) that sigma refers to: the electrode surface the charge sits on.

    ``slit_walls``: both walls of every slit, 2 x (lattice length of the slit: cells x cell
    length along x) x box y. ``all``: every surface the electrolyte touches: the two edge
    faces (front, and back through the reservoir or the periodic image), 2 x box y x box z,
    plus both walls of every slit.
    """
    ch_cfg = electrode.charge
    apply_to = getattr(ch_cfg, "apply_to", "all")
    walls = float(sum(2.0 * s["length_nm"] * geom.box_y
                      for s in geom.segments if s.get("z_nm") is not None))
    if apply_to == "slit_walls":
        return walls
    return 2.0 * geom.box_y * geom.box_z + walls


def _metadata(electrolyte: Any, electrode: ElectrodeConfig, forcefield: Any, seed: int,
              lay: _Layout, asm: _Assembly, result: _ChargeResult) -> Metadata:
    """Typed metadata of the cell: groups, geometry, charges, requirements, records."""
    sd = SALT_DATA[electrolyte.salt]
    md = Metadata(
        species=Species("Na", ANION_SPECIES[str(sd["anion"])], tuple(lay.comp.n_solvent)),
        groups=_groups(lay, asm),
        geometry=_geometry(electrode, lay, asm, result.area_nm2),
        charges=Charges(result.charges["mode"],
                        {k: v for k, v in result.charges.items() if k != "mode"}),
        requires=Requires(bool(result.requires.get("fixed_box", False))),
        composition={"n_salt": lay.comp.n_salt, "n_solvent": lay.comp.n_solvent,
                     "reservoir_volume_nm3": float(lay.r_pack * lay.box[1] * lay.box[2]),
                     "initial_density_g_cm3": lay.comp.density_g_cm3},
        forcefield={"charge_scaling": forcefield.charge_scaling,
                    "combining_rule": forcefield.combining_rule,
                    "atom_types": sorted(set(asm.types))},
        provenance={"builder": "predesolv.systems.cell.build_cell", "version": __version__,
                    "seed": int(seed),
                    "forcefield_files": [ELECTROLYTE_XML, CARBON_XML, *forcefield.files]},
    )
    for name, idx in result.groups.items():
        md.set_group(name, idx)
    if electrode.flexible is not None:
        md.set_group(FROZEN, [])
        md.set_group(electrode_group("restrained"), asm.frozen)
        md.extra["electrode_model"] = {"kind": "restrained_flexible",
                                       "restraint_k_kJ_mol_nm2": _restraint_k(electrode)}
    else:
        md.extra["electrode_model"] = {"kind": "rigid_frozen"}
    return md


def _groups(lay: _Layout, asm: _Assembly) -> Groups:
    """Electrolyte groups plus the electrode's: whole, per part, per dopant site, counter."""
    groups = Groups(electrolyte_groups(asm.top))
    w_idx, work = asm.w_idx, lay.work
    groups[ELECTRODE] = sorted(asm.frozen)
    groups[electrode_group("working")] = list(w_idx)
    groups[FROZEN] = sorted(asm.frozen)
    order = [i for _, idx in work.residues for i in idx]
    inv = {old: new for new, old in enumerate(order)}
    for part in sorted(set(work.part)):
        groups[electrode_group(part)] = [w_idx[k] for k, i in enumerate(order)
                                         if work.part[i] == part]
    for g, idx in work.groups.items():
        groups[g] = sorted(w_idx[inv[i]] for i in idx)
    if asm.c_idx:
        groups[electrode_group("counter")] = list(asm.c_idx)
    return groups


def _regions(electrode: ElectrodeConfig, geom: ElectrodeGeometry, x_m: float) -> list[Region]:
    """``inside`` (one per slit stage), ``mouth`` and, for an open slit, ``mouth_back``."""
    regions = [Region("inside", {"x": (x_m + s["x_nm"][0], x_m + s["x_nm"][1]),
                                 "z": (s["z_nm"][0], s["z_nm"][1])}, {"stage": s["name"]})
               for s in geom.segments if s.get("z_nm") is not None]
    first = next((s for s in geom.segments if s.get("z_nm") is not None), None)
    if first is None:
        return regions + [Region("mouth", {"x": (x_m - MOUTH_DEPTH_NM, x_m)})]
    z = (first["z_nm"][0] - 0.3, first["z_nm"][1] + 0.3)
    regions.append(Region("mouth", {"x": (x_m - MOUTH_DEPTH_NM, x_m), "z": z}))
    if electrode_kind(electrode.kind).open_back:
        xb = x_m + geom.x_extent
        regions.append(Region("mouth_back", {"x": (xb, xb + MOUTH_DEPTH_NM), "z": z}))
    return regions


def _geometry(electrode: ElectrodeConfig, lay: _Layout, asm: _Assembly,
              area_nm2: float) -> Geometry:
    geom, x_m = lay.geom, lay.x_m
    return Geometry(
        kind=electrode.kind,
        insertion=Insertion("x", float(x_m), 1),
        regions=_regions(electrode, geom, x_m),
        # y, z: the carbon lattice is commensurate with the box; x: a barostat would
        # translate the (rigid) electrodes and make the static regions stale
        fixed_axes=["x", "y", "z"],
        extra={
            "box_nm": [float(b) for b in lay.box],
            "spacing_nm": [s["spacing_nm"] for s in geom.segments if s.get("z_nm") is not None],
            "segments": [{**s, "x_nm": [x_m + s["x_nm"][0], x_m + s["x_nm"][1]]}
                         for s in geom.segments],
            "electrode_x_nm": [float(x_m), float(x_m + geom.x_extent)],
            "reservoir_x_nm": [[float(lo), float(hi)] for lo, hi in lay.reservoirs],
            "counter_x_nm": (None if lay.counter_geom is None
                             else [0.0, float(lay.counter_geom.x_extent)]),
            "edge": geom.info["edge"], "stacking": geom.info["stacking"],
            "layer_spacing_nm": geom.info["layer_spacing_nm"],
            "hydrogenated_edges": geom.info["hydrogenated"],
            "n_cells_y": geom.info["n_cells_y"],
            "electrode_pair_treatment": asm.pair_treatment,
            "charge_area_nm2": area_nm2,
        })


register_charge_mode("constant_charge", ConstantChargeConfig, _apply_constant_charge)
register_charge_mode("constant_potential", ConstantPotentialConfig, _apply_constant_potential)
