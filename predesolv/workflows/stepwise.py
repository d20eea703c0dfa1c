"""Stepwise desolvation energies of Na+(EC)n at 0 K near a carbon surface (Tang et al., eq. 1).

    E_desolv(n) = E[slab + Na+(EC)_(6-n)] + E[EC] - E[slab + Na+(EC)_(7-n)],  n = 1..6

with the classical force field: every term is the lowest energy found by minimising from
``n_starts`` random starting orientations (the slab frozen); the spread of the minima is
reported beside it. ``slab`` is an edge-on carbon surface from the cell builder
(``kind: surface``: graphite seen edge-on, H-terminated edges, optional dopant at the edge),
or nothing (the gas-phase cluster, Tang's "pure solvent" reference).

Tang et al., *Nano-Micro Lett.* 18, 161 (2026), doi:10.1007/s40820-025-02008-4, used DFT
(VASP, PBE) with the cluster on the doped carbon; the Arrhenius time of each step is given
here as tau = h / (k_B T) exp(E_desolv / k_B T) (the seed states that it used the Arrhenius
equation but not its prefactor; with k_B T / h the 1 s threshold at 298 K is 0.76 eV).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import openmm
from openmm import app, unit

from predesolv.config.electrode import ElectrodeConfig
from predesolv.config.electrolyte import ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.constants import KB_EV_PER_K, KJ_PER_MOL_PER_EV, PLANCK_EV_S
from predesolv.forcefields.parameterize import create_system, load_molecule
from predesolv.systems import charges as ch
from predesolv.systems.cell import build_cell, carbon_xml_path, treat_frozen_pairs

#: Na–O(carbonyl) distance of the starting clusters (nm) and the clearance from the slab.
START_NA_O_NM = 0.235
MIN_START_GAP_NM = 0.22
K_B_EV = KB_EV_PER_K
H_EV_S = PLANCK_EV_S
OCTAHEDRON = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
                      dtype=float)


def arrhenius_time_s(energy_eV: float, temperature_K: float = 298.15) -> float:
    """tau = h / (k_B T) exp(E / k_B T) in seconds (transition-state prefactor)."""
    kt = K_B_EV * temperature_K
    return H_EV_S / kt * math.exp(energy_eV / kt)


@dataclass
class Slab:
    """A frozen slab (or none), the box and the site the cluster sits at."""

    topology: app.Topology
    positions_nm: np.ndarray
    box_nm: np.ndarray
    site_nm: np.ndarray
    outward: np.ndarray
    label: str
    extra_xml: list[str] = field(default_factory=list)


def gas_phase(box_nm: float = 3.0) -> Slab:
    """No slab: the cluster alone in vacuum (Tang's pure-solvent reference); the box only
    places it (the System is not periodic)."""
    top = app.Topology()
    top.setPeriodicBoxVectors(np.eye(3) * box_nm * unit.nanometer)
    c = np.full(3, box_nm / 2)
    return Slab(top, np.zeros((0, 3)), np.full(3, box_nm), c, np.array([1.0, 0, 0]), "gas")


#: Box height (nm) of a face-on sheet: the cluster's periodic image is beyond the cutoff.
FACE_ON_BOX_Z_NM = 3.2
#: Face-on: the cluster sits over a point this far inside the sheet from the dopant's N (nm).
FACE_ON_INSET_NM = 0.25


def slab_label(edge: str, dopant: str | None, face_on: bool) -> str:
    """The name a slab of :func:`surface_slab` carries in tables: ``"n_oxide (zigzag edge,
    face-on)"``, ``"pristine (armchair edge, edge-on)"``."""
    return f"{dopant or 'pristine'} ({edge} edge, {'face-on' if face_on else 'edge-on'})"


def surface_slab(edge: str, dopant: str | None, seed: int = 1, reservoir_ec: int = 120,
                 layers: int = 6, face_on: bool = False) -> Slab:
    """A carbon slab from the cell builder's ``kind: surface`` (graphite seen edge-on,
    H-terminated edges, one ``dopant`` at the edge or none); its electrolyte is removed.

    Edge-on: all ``layers`` sheets; the cluster faces the edge (outward along the insertion
    axis) at the dopant's N, or at the edge centre. Face-on (``face_on``): only the sheet
    that carries the dopant (the middle sheet when pristine), in a box made
    :data:`FACE_ON_BOX_Z_NM` tall; the cluster sits above the sheet (outward +z) over a point
    :data:`FACE_ON_INSET_NM` inside the sheet from the N (over the ribbon centre when
    pristine) — the N site is at the ribbon's edge, as at a flake edge.
    """

    length = "2.0 nm" if face_on else "1.2 nm"  # a wider flake under a face-on cluster
    electrode = ElectrodeConfig(kind="surface", edge=edge, width="2.1 nm", length=length,
                                layers=layers, hydrogenate_edges=True,
                                dopants=[{"type": dopant, "count": 1}] if dopant else [])
    el = ElectrolyteConfig(solvents={"EC": 1.0}, n_salt=0, n_solvent=reservoir_ec)
    built = build_cell(el, electrode, ForceFieldConfig(), seed)
    md = built.metadata
    idx = np.asarray(md.groups["electrode"])
    pos = np.asarray(built.positions.value_in_unit(unit.nanometer))
    geo = md.require_geometry()
    box = np.array(geo.extra["box_nm"], dtype=float)
    ins = geo.insertion
    assert ins is not None  # a surface electrode always has an insertion coordinate
    into = float(ins.direction)  # +1: the slab lies at larger x than its edge
    el_pos = pos[idx]
    centre = el_pos[np.argmin(np.abs(el_pos[:, 1] - box[1] / 2)
                              + np.abs(el_pos[:, 2] - np.median(el_pos[:, 2])))]
    n_pos = pos[np.asarray(md.groups[f"dopant_site:{dopant}"])[0]] if dopant else None
    keep = set(idx.tolist())
    if face_on:
        z0 = float(n_pos[2] if n_pos is not None else centre[2])
        keep = {int(i) for i in idx if abs(pos[i, 2] - z0) < 0.1}
        box[2] = FACE_ON_BOX_Z_NM
        xs = el_pos[:, 0]
        if n_pos is not None:
            site = n_pos + np.array([into * FACE_ON_INSET_NM, 0.0, 0.0])
        else:
            site = np.array([0.5 * (xs.min() + xs.max()), centre[1], z0])
        outward = np.array([0.0, 0.0, 1.0])
    else:
        site = n_pos if n_pos is not None else np.array([float(ins.origin_nm), *centre[1:]])
        outward = np.array([-into, 0.0, 0.0])
    modeller = app.Modeller(built.topology, built.positions)
    modeller.delete([r for r in built.topology.residues()
                     if not all(a.index in keep for a in r.atoms())])
    label = slab_label(edge, dopant, face_on)
    return Slab(modeller.topology,
                np.asarray(modeller.positions.value_in_unit(unit.nanometer)), box,
                np.asarray(site, dtype=float), outward, label, [carbon_xml_path()])


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    a, b, c, d = q
    return np.array([[a*a + b*b - c*c - d*d, 2*(b*c - a*d), 2*(b*d + a*c)],
                     [2*(b*c + a*d), a*a - b*b + c*c - d*d, 2*(c*d - a*b)],
                     [2*(b*d - a*c), 2*(c*d + a*b), a*a - b*b - c*c + d*d]])


def ec_template() -> tuple[app.Topology, np.ndarray]:
    """EC topology and coordinates with the carbonyl O at the origin and the O -> C axis
    along +x (the molecule lies on the far side of O from a Na+ on the -x side)."""

    top, xyz = load_molecule("EC")
    names = [a.name for a in top.atoms()]
    io, ic = names.index("O"), names.index("C")
    xyz = xyz - xyz[io]
    return top, xyz @ _align(xyz[ic] / np.linalg.norm(xyz[ic]), np.array([1.0, 0, 0])).T


def cluster_start(slab: Slab, n_ec: int, rng: np.random.Generator,
                  centre_gap_nm: float | None = None, tries: int = 400
                  ) -> list[np.ndarray] | None:
    """Random start: Na at ``centre_gap_nm`` (default 0.5 + 0.05 n_ec nm, room for the EC
    between Na+ and the slab) in front of the site, ``n_ec`` EC on random
    vertices of a randomly rotated octahedron, carbonyl O towards Na, random spin about the
    Na–O axis; None when no start clears the slab by ``MIN_START_GAP_NM`` in ``tries``."""
    _, ec = ec_template()
    gap = 0.5 + 0.05 * n_ec if centre_gap_nm is None else centre_gap_nm
    na = slab.site_nm + gap * slab.outward
    for _ in range(tries):
        dirs = (OCTAHEDRON @ _rotation(rng).T)[rng.permutation(6)[:n_ec]]
        mols = [na[None, :].copy()]
        for d in dirs:
            m = ec @ _align(np.array([1.0, 0, 0]), d).T
            m = m @ _about(d, float(rng.uniform(0, 2 * np.pi))).T
            mols.append(na + START_NA_O_NM * d + m)
        if _clear(mols, slab):
            return mols
    return None


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation matrix taking unit vector ``a`` onto unit vector ``b``."""
    v, c = np.cross(a, b), float(a @ b)
    s = np.linalg.norm(v)
    if s < 1e-12:
        return np.eye(3) if c > 0 else np.diag([-1.0, -1.0, 1.0])
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k * ((1 - c) / s**2)


def _about(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation by ``angle`` (rad) about unit ``axis``."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def _clear(mols: list[np.ndarray], slab: Slab) -> bool:
    """No atom within ``MIN_START_GAP_NM`` of the slab or of another molecule."""
    if len(slab.positions_nm):
        d = slab.positions_nm[None, :, :] - np.vstack(mols)[:, None, :]
        d -= slab.box_nm * np.round(d / slab.box_nm)
        if np.min(np.sum(d * d, axis=2)) < MIN_START_GAP_NM**2:
            return False
    for i in range(1, len(mols)):
        for j in range(i + 1, len(mols)):
            diff = mols[i][:, None, :] - mols[j][None, :, :]
            if np.min(np.sum(diff * diff, axis=2)) < MIN_START_GAP_NM**2:
                return False
    return True


def vacuum_forcefield() -> Any:
    """The force field of clusters in vacuum: full ionic charges (q = +1 on Na+).

    predesolv's condensed-phase default scales ionic charges by 0.8 (CL&P's il-0.8 set), a
    mean-field stand-in for the electronic polarisation of a surrounding liquid; a cluster in
    vacuum, alone or on a bare carbon slab, has no such medium, so it carries its full charge.
    """

    return ForceFieldConfig(charge_scaling=1.0)


def build_system(slab: Slab, n_ec: int, forcefield: Any = None
                 ) -> tuple[openmm.System, app.Topology, int]:
    """System of the slab (frozen, close pairs treated as in the cell builder) plus one Na+
    and ``n_ec`` EC (:func:`vacuum_forcefield` unless ``forcefield`` is given); returns it,
    its Topology and the number of slab atoms (first). Without a slab (the gas-phase
    cluster) the System is not periodic: no PME, no images (NoCutoff)."""

    modeller = app.Modeller(slab.topology, slab.positions_nm * unit.nanometer)
    na_top, na_xyz = load_molecule("NA")
    modeller.add(na_top, na_xyz * unit.nanometer)
    ec_top, ec_xyz = ec_template()
    for _ in range(n_ec):
        modeller.add(ec_top, ec_xyz * unit.nanometer)
    top = modeller.topology
    n_slab = len(slab.positions_nm)
    top.setPeriodicBoxVectors(np.diag(slab.box_nm) * unit.nanometer if n_slab else None)
    system, _ = create_system(top, forcefield or vacuum_forcefield(), extra_xml=slab.extra_xml)
    if n_slab:
        frozen = list(range(n_slab))
        ch.freeze(system, frozen)
        pos = np.vstack([slab.positions_nm, np.zeros((top.getNumAtoms() - n_slab, 3))])
        treat_frozen_pairs(system, frozen, pos, slab.box_nm, False)
    for k in reversed(range(system.getNumForces())):
        if isinstance(system.getForce(k), openmm.CMMotionRemover):
            system.removeForce(k)
    return system, top, n_slab


@dataclass
class Minimum:
    """One minimisation: final energy (kJ/mol), bound EC count, the start index and the
    final positions (nm, (n_atoms, 3): slab first, then Na+, then the EC)."""

    energy_kJ_per_mol: float
    n_bound: int
    start: int
    positions_nm: np.ndarray | None = None


def cluster_context(system: openmm.System, integrator: openmm.Integrator, platform: str
                    ) -> openmm.Context:
    """A Context for the 0 K cluster work, one thread on the CPU platform.

    On more than one thread the CPU platform sums forces in an order that depends on thread
    timing; the L-BFGS path amplifies those last-bit differences, so the same start could
    end in different minima from run to run (measured: Na+(EC)6, gas phase, 2 threads,
    start 1 of seed 1 ended at -452.19 and -436.87 kJ/mol in two calls). With one thread
    every minimum is reproducible; the searches run in parallel over starts and sizes
    instead (:mod:`predesolv.workflows.distributed`). The CPU platform's
    ``DeterministicForces`` property is not enough: with it on 2 threads the same three
    starts still ended in different minima in two calls. Other platforms are left as they
    are (not :func:`predesolv.platforms.select_platform`, which would also set a GPU's
    precision).
    """
    props = {"Threads": "1"} if platform == "CPU" else {}
    return openmm.Context(system, integrator, openmm.Platform.getPlatformByName(platform),
                          props)


def minimise_cluster(slab: Slab, n_ec: int, n_starts: int, seed: int = 0,
                     platform: str = "CPU", bound_nm: float = 0.30,
                     first_start: int = 0,
                     on_minimum: Callable[[Minimum], None] | None = None,
                     stop: Callable[[], bool] | None = None) -> list[Minimum]:
    """Minimise slab + Na+(EC)n from ``n_starts`` random starts (slab fixed: mass 0).

    ``n_bound`` counts EC whose carbonyl O ends within ``bound_nm`` of Na+ (a start whose
    EC wandered off is kept but marked). With ``first_start`` > 0 only starts
    ``first_start .. n_starts - 1`` are minimised, from the same positions a run of all
    ``n_starts`` would use (:func:`placed_starts`): how a finished search is extended.
    ``on_minimum`` is called with each minimum as soon as it is found; ``stop`` is asked
    before each start and ends the search there when it returns True (the minima so far
    are returned): how a long search is saved as it goes and stopped cleanly.
    """
    system, top, n_slab = build_system(slab, n_ec)
    ctx = cluster_context(system, openmm.VerletIntegrator(0.001), platform)
    o_idx = carbonyl_oxygens(top, n_slab)
    out = []
    for i, xyz in placed_starts(slab, n_ec, n_starts, seed, first_start):
        if stop is not None and stop():
            break
        ctx.setPositions(xyz * unit.nanometer)
        openmm.LocalEnergyMinimizer.minimize(ctx, 1.0, 20000)
        out.append(record_minimum(ctx, slab, o_idx, i, bound_nm))
        if on_minimum is not None:
            on_minimum(out[-1])
    return out


def placed_starts(slab: Slab, n_ec: int, n_starts: int, seed: int, first_start: int = 0
                  ) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, positions)`` of the random starts (:func:`cluster_start`, one generator
    seeded by ``seed``) that could be placed clear of the slab; positions in nm,
    shape (n_atoms, 3), slab first. Starts before ``first_start`` are drawn (so start i
    is the same whatever ``first_start``) but not yielded."""
    rng = np.random.default_rng(seed)
    for i in range(n_starts):
        mols = cluster_start(slab, n_ec, rng)
        if mols is not None and i >= first_start:
            yield i, np.vstack([slab.positions_nm, *mols])


def carbonyl_oxygens(top: app.Topology, n_slab: int) -> list[int]:
    """Indices of the EC carbonyl oxygens of a cluster System (after the slab's atoms)."""
    return [a.index for a in top.atoms() if a.index >= n_slab and a.residue.name == "EC"
            and a.name == "O"]


def record_minimum(ctx: openmm.Context, slab: Slab, o_idx: list[int], start: int,
                   bound_nm: float = 0.30) -> Minimum:
    """The minimised state of ``ctx`` as a :class:`Minimum`: its potential energy, the EC
    whose carbonyl O lies within ``bound_nm`` of Na+ (the atom after the slab's) and the
    positions."""
    n_slab = len(slab.positions_nm)
    st = ctx.getState(getEnergy=True, getPositions=True)
    xyz = np.asarray(st.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    d = xyz[o_idx] - xyz[n_slab]
    if n_slab:  # periodic slab: minimum image; the gas-phase cluster is not periodic
        d -= slab.box_nm * np.round(d / slab.box_nm)
    return Minimum(st.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole),
                   int(np.sum(np.linalg.norm(d, axis=1) < bound_nm)), start, xyz)


def isolated_ec_energy(box_nm: float = 4.0, platform: str = "CPU") -> float:
    """E[EC] (kJ/mol): one EC minimised alone in vacuum (no periodic box: NoCutoff);
    ``box_nm`` only places it."""

    top, xyz = ec_template()
    system, _ = create_system(top, vacuum_forcefield())
    ctx = cluster_context(system, openmm.VerletIntegrator(0.001), platform)
    ctx.setPositions((xyz + box_nm / 2) * unit.nanometer)
    openmm.LocalEnergyMinimizer.minimize(ctx, 1.0, 20000)
    e = ctx.getState(getEnergy=True).getPotentialEnergy()
    return float(e.value_in_unit(unit.kilojoule_per_mole))


def stepwise_table(minima: dict[int, list[Minimum]], e_ec: float, label: str,
                   temperature_K: float = 298.15) -> list[dict[str, Any]]:
    """Rows n = 1..6 of E_desolv(n) from the lowest fully-bound minimum of each cluster size,
    with the spread (max - min over the fully-bound minima) and the Arrhenius time."""
    best: dict[int, float] = {}
    spread: dict[int, float] = {}
    count: dict[int, int] = {}
    for k, mins in minima.items():
        ok = [m.energy_kJ_per_mol for m in mins if m.n_bound == k]
        count[k] = len(ok)
        ok = ok or [math.nan]
        best[k], spread[k] = min(ok), max(ok) - min(ok)
    rows = []
    for n in range(1, 7):
        lo, hi = 6 - n, 7 - n
        e = (best[lo] + e_ec - best[hi]) / KJ_PER_MOL_PER_EV
        rows.append({"surface": label, "n": n, "step": f"{hi}->{lo} EC",
                     "E_desolv_eV": e, "tau_s": arrhenius_time_s(e, temperature_K)
                     if math.isfinite(e) else math.nan,
                     "spread_before_eV": spread[hi] / KJ_PER_MOL_PER_EV,
                     "spread_after_eV": spread[lo] / KJ_PER_MOL_PER_EV,
                     "bound_starts_before": count[hi], "bound_starts_after": count[lo]})
    return rows
