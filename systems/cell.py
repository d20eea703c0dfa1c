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

from pathlib import Path
from typing import Any

import numpy as np
from openmm import app, unit

from predesolv import __version__
from predesolv.built import BuiltSystem
from predesolv.config.electrode import (
    ConstantChargeConfig,
    ConstantPotentialConfig,
    ElectrodeConfig,
)
from predesolv.config.units import to_nm
from predesolv.errors import BuildError
from predesolv.forcefields import get_data_dir
from predesolv.forcefields.parameterize import ELECTROLYTE_XML, create_system
from predesolv.metadata import Metadata
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

CARBON_XML = "predesolv-carbon.xml"
MOUTH_DEPTH_NM = 0.8
"""Extent (nm) of the ``mouth`` region in front of the slit entrance."""


def carbon_xml_path() -> str:
    """Absolute path of :data:`CARBON_XML`."""
    return str(Path(get_data_dir()) / CARBON_XML)


FROZEN_EXCLUSION_NM = 0.3
"""Electrode atom pairs closer than this are excluded (constant charge / uncharged)."""


def treat_frozen_pairs(system: Any, frozen: list[int], pos: np.ndarray, box: np.ndarray,
                       constant_potential: bool) -> str:
    """Remove the huge constant interaction energy between frozen electrode atoms.

    Constant charge / uncharged: exclude (Coulomb + LJ) electrode pairs closer than
    :data:`FROZEN_EXCLUSION_NM` in every nonbonded force. Constant potential (no exception
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
    pairs = ch.close_pairs(pos, frozen, box, FROZEN_EXCLUSION_NM)
    ch.exclude_pairs(system, pairs)
    return f"{len(pairs)} electrode pairs closer than {FROZEN_EXCLUSION_NM} nm excluded"


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


def _slit_regions(geom: ElectrodeGeometry, x_m: float) -> list[dict[str, Any]]:
    regions = []
    for seg in geom.segments:
        if seg.get("z_nm") is None:
            continue
        regions.append({"name": "inside", "stage": seg["name"],
                        "bounds_nm": {"x": [x_m + seg["x_nm"][0], x_m + seg["x_nm"][1]],
                                      "z": list(seg["z_nm"])}})
    return regions


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

    # ---- electrolyte amount and x layout
    comp = compute_composition(electrolyte)
    r_pack = comp.volume_nm3 / (ly * lz)
    if counter_geom is None:
        res_lo = 0.0
        res_hi = r_pack
        x_m = res_hi + clear
        box_x = x_m + geom.x_extent + clear
        reservoirs = [(res_lo, res_hi)]
    else:  # two reservoirs: counter | A | working | B | (counter image)
        res_lo = counter_geom.x_extent + clear
        res_hi = res_lo + 0.5 * r_pack
        x_m = res_hi + clear
        b_lo = x_m + geom.x_extent + clear
        box_x = b_lo + 0.5 * r_pack + clear
        reservoirs = [(res_lo, res_hi), (b_lo, b_lo + 0.5 * r_pack)]
    box = np.array([box_x, ly, lz])
    regions = [((lo, 0.0, 0.0), (hi, ly, lz)) for lo, hi in reservoirs]
    slit_pack = []
    if electrode.fill_slit:
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
            slit_pack.append(((x0, 0.0, z0), (x1, ly, z1)))
        v_slit = sum(np.prod(np.subtract(hi, lo)) for lo, hi in slit_pack)
        comp = compute_composition(electrolyte, volume_nm3=comp.volume_nm3 + v_slit)
        regions += slit_pack
    species = electrolyte_species(comp, electrolyte.salt, regions)

    # ---- charge bookkeeping that changes ion counts (neutralise with the electrolyte)
    charge_cfg = electrode.charge
    area = _charge_area(electrode, geom)
    q_req = None
    if isinstance(charge_cfg, ConstantChargeConfig):
        q_req = (ch.sigma_to_charge(float(charge_cfg.sigma.value_in_unit(
            unit.coulomb / unit.meter**2)), area) if charge_cfg.sigma is not None
            else float(charge_cfg.total.value_in_unit(unit.elementary_charge)))
    q_work = q_req
    if isinstance(charge_cfg, ConstantChargeConfig) and charge_cfg.neutralize == "electrolyte":
        q_ion = float(forcefield.charge_scaling)
        k = int(round(abs(q_req) / q_ion))
        q_work = float(np.sign(q_req)) * k * q_ion
        if k == 0 and q_req != 0.0:
            raise BuildError(
                f"electrode.charge: requested {q_req:.4f} e is smaller than half an ion "
                f"charge ({q_ion:g} e), so the electrolyte cannot neutralise it; allowed: "
                f"|charge| >= {q_ion / 2:g} e, or neutralize: counter_electrode")
        victim = 1 if q_req < 0 else 0  # remove anions for a negative electrode
        if species[victim].count < k:
            raise BuildError(
                f"electrode.charge: neutralising {q_work:+.3f} e needs removing {k} "
                f"{species[victim].name} but the electrolyte has {species[victim].count}; "
                "lower sigma/total or add salt")
        species[victim].count -= k

    tol = float(electrolyte.packing_tolerance.value_in_unit(unit.nanometer))
    fixed = None
    if slit_pack:
        fixed = np.vstack([work.positions + [x_m, 0, 0]]
                          + ([counter.positions] if counter is not None else []))
    xyz = pack_molecules(species, box, seed=seed, tolerance=tol, fixed=fixed)

    # ---- topology and positions
    top = app.Topology()
    add_molecules(top, species)
    n_el = top.getNumAtoms()
    w_pos = _ordered_positions(work) + [x_m, 0.0, 0.0]
    _add_electrode(top, work)
    w_idx = list(range(n_el, top.getNumAtoms()))
    c_idx: list[int] = []
    parts = [xyz, w_pos]
    if counter is not None:
        _add_electrode(top, counter)
        c_idx = list(range(n_el + work.n_atoms, top.getNumAtoms()))
        parts.append(_ordered_positions(counter))
    pos = np.vstack(parts)
    top.setPeriodicBoxVectors(np.diag(box) * unit.nanometer)
    system, types = create_system(top, forcefield, extra_xml=[carbon_xml_path()])

    # ---- frozen (or restrained flexible) electrodes, exclusions, rigid bodies
    frozen = w_idx + c_idx
    if electrode.flexible is None:
        ch.freeze(system, frozen)
        ch.add_rigid_body_bonds(system, [w_idx] + ([c_idx] if c_idx else []))
    else:
        ch.restrain(system, frozen, pos, electrode.flexible.restraint_k)
    pair_treatment = treat_frozen_pairs(system, frozen, pos, box,
                                        isinstance(charge_cfg, ConstantPotentialConfig))

    w_part = _ordered(work, work.part)
    w_el = _ordered(work, work.elements)
    charges_md: dict[str, Any] = {"mode": "none"}
    requires: dict[str, Any] = {"fixed_box": False}
    conductors: dict[str, list[int]] = {}
    if isinstance(charge_cfg, ConstantChargeConfig):
        sel = [w_idx[k] for k in _charged_atoms(w_part, w_el, charge_cfg.apply_to)]
        dq = ch.spread_charge(system, sel, q_work)
        charges_md = {"mode": "constant_charge", "apply_to": charge_cfg.apply_to,
                      "neutralize": charge_cfg.neutralize, "area_nm2": area,
                      "requested_total_e": q_req, "realised_total_e": q_work,
                      "realised_sigma_C_m2": ch.charge_to_sigma(q_work, area),
                      "charge_per_atom_e": dq, "n_charged_atoms": len(sel)}
        if charge_cfg.neutralize == "counter_electrode":
            c_sel = [i for i, a in zip(c_idx, _ordered(counter, counter.elements), strict=True)
                     if a == "C"]
            ch.spread_charge(system, c_sel, -q_work)
            charges_md["counter_total_e"] = -q_work
        q_tot = ch.total_charge(system)
        if abs(q_tot) > 1e-6:
            raise BuildError(
                f"electrode.charge: the cell is not neutral (net {q_tot:+.6f} e); allowed: "
                "a neutral cell (use neutralize: counter_electrode, or a charge the "
                "electrolyte's ions can balance)")
        charges_md["working_total_e"] = ch.total_charge(system, w_idx)
        charges_md["cell_total_e"] = q_tot
    elif isinstance(charge_cfg, ConstantPotentialConfig):
        settings = cp_settings(charge_cfg)
        w_cond, c_cond = conductor_atoms(system, top, w_idx), conductor_atoms(system, top, c_idx)
        strip_pair_exclusions(system, frozen, conductors=w_cond + c_cond)
        to_constant_potential(
            system, w_cond, c_cond, settings["delta_v_V"], box_x, method=charge_cfg.method,
            gaussian_width=settings["gaussian_width_nm"],
            thomas_fermi_scale=settings["thomas_fermi_scale_per_nm"],
            cg_tolerance=settings["cg_tolerance_kJ_mol_e"],
            finite_field=charge_cfg.finite_field)
        charges_md = {"mode": "constant_potential", **settings,
                      "electrodes": {"working": "conductor:working",
                                     "counter": "conductor:counter"},
                      "n_conductor_atoms": len(w_cond) + len(c_cond),
                      "n_fixed_charge_electrode_atoms": len(frozen) - len(w_cond) - len(c_cond)}
        conductors = {"conductor:working": w_cond, "conductor:counter": c_cond}
        requires = {"fixed_box": True}
    else:
        if abs(ch.total_charge(system)) > 1e-6:
            raise BuildError("the cell is not neutral; check the electrolyte composition")

    md = _metadata(electrolyte, electrode, forcefield, seed, comp, top, types, geom,
                   counter_geom, work, w_idx, c_idx, x_m, box, r_pack, reservoirs,
                   charges_md, requires, area, pair_treatment)
    if electrode.flexible is not None:
        md.set_group("frozen", [])
        md.set_group("electrode:restrained", frozen)
        md.extra["electrode_model"] = {
            "kind": "restrained_flexible",
            "restraint_k_kJ_mol_nm2": _restraint_k(electrode),
        }
    else:
        md.extra["electrode_model"] = {"kind": "rigid_frozen"}
    for name, idx in conductors.items():
        md.set_group(name, idx)
    return BuiltSystem(system=system, topology=top, positions=pos * unit.nanometer,
                       metadata=md)


def _restraint_k(electrode: ElectrodeConfig) -> float:
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


def _metadata(electrolyte, electrode, forcefield, seed, comp, top, types, geom, counter_geom,
              work, w_idx, c_idx, x_m, box, r_pack, reservoirs, charges_md, requires,
              area, pair_treatment) -> Metadata:
    groups = electrolyte_groups(top)
    groups["electrode"] = sorted(w_idx + c_idx)
    groups["electrode:working"] = list(w_idx)
    groups["frozen"] = sorted(w_idx + c_idx)
    order = [i for _, idx in work.residues for i in idx]
    inv = {old: new for new, old in enumerate(order)}
    for part in sorted(set(work.part)):
        groups[f"electrode:{part}"] = [w_idx[k] for k, i in enumerate(order)
                                       if work.part[i] == part]
    for g, idx in work.groups.items():
        groups[g] = sorted(w_idx[inv[i]] for i in idx)
    if c_idx:
        groups["electrode:counter"] = list(c_idx)
    sd = SALT_DATA[electrolyte.salt]
    regions = _slit_regions(geom, x_m)
    first = next((s for s in geom.segments if s.get("z_nm") is not None), None)
    if first is not None:
        z0, z1 = first["z_nm"]
        regions.append({"name": "mouth", "bounds_nm": {"x": [x_m - MOUTH_DEPTH_NM, x_m],
                                                       "z": [z0 - 0.3, z1 + 0.3]}})
        if electrode.kind == "slit":
            xb = x_m + geom.x_extent
            regions.append({"name": "mouth_back",
                            "bounds_nm": {"x": [xb, xb + MOUTH_DEPTH_NM],
                                          "z": [z0 - 0.3, z1 + 0.3]}})
    else:
        regions.append({"name": "mouth", "bounds_nm": {"x": [x_m - MOUTH_DEPTH_NM, x_m]}})
    geometry = {
        "kind": electrode.kind,
        "insertion": {"axis": "x", "origin_nm": float(x_m), "direction": 1},
        "regions": regions,
        # y, z: the carbon lattice is commensurate with the box; x: a barostat would
        # translate the (rigid) electrodes and make the static regions below stale
        "fixed_axes": ["x", "y", "z"],
        "box_nm": [float(b) for b in box],
        "spacing_nm": [s["spacing_nm"] for s in geom.segments if s.get("z_nm") is not None],
        "segments": [{**s, "x_nm": [x_m + s["x_nm"][0], x_m + s["x_nm"][1]]}
                     for s in geom.segments],
        "electrode_x_nm": [float(x_m), float(x_m + geom.x_extent)],
        "reservoir_x_nm": [[float(lo), float(hi)] for lo, hi in reservoirs],
        "counter_x_nm": (None if counter_geom is None
                         else [0.0, float(counter_geom.x_extent)]),
        "edge": geom.info["edge"], "stacking": geom.info["stacking"],
        "layer_spacing_nm": geom.info["layer_spacing_nm"],
        "hydrogenated_edges": geom.info["hydrogenated"],
        "n_cells_y": geom.info["n_cells_y"],
        "electrode_pair_treatment": pair_treatment,
        "charge_area_nm2": area,
    }
    return Metadata.from_dict({
        "species": {"cation": "Na", "anion": ANION_SPECIES[str(sd["anion"])],
                    "solvents": list(comp.n_solvent)},
        "groups": {k: sorted(v) for k, v in groups.items()},
        "geometry": geometry,
        "charges": charges_md,
        "requires": requires,
        "composition": {"n_salt": comp.n_salt, "n_solvent": comp.n_solvent,
                        "reservoir_volume_nm3": float(r_pack * box[1] * box[2]),
                        "initial_density_g_cm3": comp.density_g_cm3},
        "forcefield": {"charge_scaling": forcefield.charge_scaling,
                       "combining_rule": forcefield.combining_rule,
                       "atom_types": sorted(set(types))},
        "provenance": {"builder": "predesolv.systems.cell.build_cell", "version": __version__,
                       "seed": int(seed),
                       "forcefield_files": [ELECTROLYTE_XML, CARBON_XML, *forcefield.files]},
    }, "build_cell")
