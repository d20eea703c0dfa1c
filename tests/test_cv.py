"""Collective variables: OpenMM force value == NumPy value == an independent computation.

Real frames: the 10-frame NaPF6/DME fixture (tests/data/napf6_dme_run, 2.67 nm box, whole
molecules in the DCD). Constructed frames put atoms across the periodic boundary. Independent
references: MDAnalysis ``distance_array`` / ``capped_distance`` / ``center_of_mass``,
predesolv's analysis (``Geometry.insertion_coordinate``, ``Coordination``), hand arithmetic.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import MDAnalysis as mda
import numpy as np
import openmm
import pytest
from MDAnalysis.lib.distances import capped_distance, distance_array
from openmm import app, unit

from predesolv.analysis.geometry import Geometry
from predesolv.analysis.rdf import default_r0_nm
from predesolv.errors import ConfigError
from predesolv.freeenergy import (
    CoordinationCV,
    DistanceCV,
    PositionCV,
    SumCV,
    coordination_cvs,
    cv_timeseries,
    distance_cv,
    element_masses,
    position_cv,
    rational_switch,
    resolve_group,
)
from predesolv.freeenergy.cv import WRAP_EPS_NM
from predesolv.metadata import Metadata

RUN = Path(__file__).parent / "data" / "napf6_dme_run"
TOL = 1e-5


# ----------------------------------------------------------------------------- helpers
def make_system(masses, box_nm=None):
    """Bare System: particles with ``masses`` (Da) and an orthorhombic default box."""
    system = openmm.System()
    for m in masses:
        system.addParticle(float(m))
    if box_nm is not None:
        system.setDefaultPeriodicBoxVectors(*(openmm.Vec3(*row) for row in np.diag(box_nm)))
    return system


class ForceEvaluator:
    """CV value from OpenMM: the energy of the CV's CustomCVForce, alone in force group 3."""

    def __init__(self, cv, masses, box_nm, periodic=True):
        self.system = make_system(masses, box_nm)
        self.force = cv.to_force(self.system, periodic=periodic)
        self.force.setForceGroup(3)
        self.system.addForce(self.force)
        self.context = openmm.Context(self.system, openmm.VerletIntegrator(0.001),
                                      openmm.Platform.getPlatformByName("Reference"))

    def __call__(self, pos_nm, box_nm=None):
        if box_nm is not None:
            self.context.setPeriodicBoxVectors(*(openmm.Vec3(*r) for r in np.diag(box_nm)))
        self.context.setPositions(np.asarray(pos_nm, dtype=float))
        state = self.context.getState(getEnergy=True, groups={3})
        return state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def wall_forces(cv, masses, box_nm, pos_nm):
    """Forces (kJ/mol/nm, (n, 3)) of a flat-bottom wall 0.5 * 2000 * max(0, d - 0.55)^2 on
    the CV, Reference platform."""
    system = make_system(masses, box_nm)
    wall = openmm.CustomCVForce("0.5*2000*max(0, d-0.55)^2")
    wall.addCollectiveVariable("d", cv.inner_force(system, periodic=True))
    system.addForce(wall)
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(np.asarray(pos_nm, dtype=float))
    return ctx.getState(getForces=True).getForces(asNumpy=True).value_in_unit(
        unit.kilojoule_per_mole / unit.nanometer)


def mi_axis(d, length):
    """Independent minimum image of a scalar displacement into [-L/2, L/2)."""
    return (d + 0.5 * length) % length - 0.5 * length


@pytest.fixture(scope="module")
def run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(RUN / "topology.pdb"), str(RUN / "trajectory.dcd"))
    md = Metadata.load(RUN / "metadata.json")
    frames = [(ts.positions.astype(float) / 10.0, ts.dimensions[:3].astype(float) / 10.0)
              for ts in u.trajectory[::2]]
    assert len(frames) == 5
    return u, md, frames


# ------------------------------------------------------------------- position
@pytest.mark.parametrize("spec", ["cation[0]", "cation[7]", "anion[0]", "solvent:DME#3"])
@pytest.mark.parametrize("axis", ["x", "z"])
def test_position_force_equals_numpy_and_independent_on_real_frames(run, spec, axis):
    u, md, frames = run
    atoms = resolve_group(spec, md, u)
    masses = u.atoms.masses
    ax, checked = "xyz".index(axis), 0
    # an origin 0.4 nm beyond the group's first-frame position keeps it off the wrap band
    origin = float(frames[0][0][atoms[0], ax]) + 0.4
    cv = PositionCV(atoms, axis=axis, origin_nm=origin)
    evaluate = ForceEvaluator(cv, masses, frames[0][1])
    for pos, box in frames:
        got_np = cv.from_positions(pos, box, masses)
        assert evaluate(pos, box) == pytest.approx(got_np, abs=TOL)
        # independent: centre of mass of the whole molecule, then the minimum image by mod
        com = np.average(pos[list(atoms)], axis=0, weights=masses[list(atoms)])
        expect = mi_axis(com[ax] - origin, box[ax])
        if abs(expect) < box[ax] / 2 - WRAP_EPS_NM:  # outside the documented wrap band
            assert got_np == pytest.approx(expect, abs=TOL)
            checked += 1
    assert checked >= 3


def test_position_invariant_under_periodic_images_of_single_atoms(run):
    """Each atom moved by random whole box vectors: same value in both paths."""
    u, md, frames = run
    rng = np.random.default_rng(7)
    atoms = resolve_group("solvent:DME#10", md, u)
    cv = PositionCV(atoms, axis="y", origin_nm=0.4, direction=-1)
    evaluate = ForceEvaluator(cv, u.atoms.masses, frames[0][1])
    for pos, box in frames:
        ref = cv.from_positions(pos, box, u.atoms.masses)
        shifted = pos + rng.integers(-2, 3, size=pos.shape) * box
        assert cv.from_positions(shifted, box, u.atoms.masses) == pytest.approx(ref, abs=TOL)
        assert evaluate(shifted, box) == pytest.approx(ref, abs=TOL)


def test_position_group_straddling_the_boundary_by_hand():
    """Three atoms (masses 1, 2, 1) around x = L = 3 nm, stored in three different images."""
    box = np.array([3.0, 2.5, 2.5])
    # unwrapped x: 2.96, 3.00, 3.08 -> COM = (2.96 + 2 * 3.00 + 3.08) / 4 = 3.01 == 0.01
    pos = np.array([[2.96, 1.0, 1.0], [0.00, 1.1, 1.0], [3.08 + 3.0, 1.0, 0.9], [1.5, 1.0, 1.0]])
    masses = [1.0, 2.0, 1.0, 10.0]
    for origin, direction, expect in [(0.0, 1, 0.01), (0.5, 1, -0.49), (2.8, -1, -0.21),
                                      (2.0, 1, 1.01)]:
        cv = PositionCV((0, 1, 2), axis="x", origin_nm=origin, direction=direction)
        assert cv.from_positions(pos, box, masses) == pytest.approx(expect, abs=1e-9)
        assert ForceEvaluator(cv, masses, box)(pos) == pytest.approx(expect, abs=1e-9)


@pytest.mark.parametrize("direction", [1, -1])
def test_position_primary_cell_convention_equals_analysis(direction):
    """center_nm = L/2 wraps into [0, L) like analysis.Geometry.insertion_coordinate."""
    rng = np.random.default_rng(3)
    box = np.array([5.0, 3.0, 3.0])
    pos = rng.uniform(-6.0, 11.0, size=(40, 3))
    keep = np.abs(np.mod(pos[:, 0], 5.0) - 2.5) < 2.5 - WRAP_EPS_NM  # away from the cut
    geo = Geometry(axis="x", origin_nm=3.0, direction=direction)
    expect = geo.insertion_coordinate(pos * 10.0, np.r_[box * 10.0, 90, 90, 90])
    for i in np.flatnonzero(keep)[:12]:
        cv = PositionCV((int(i),), axis="x", origin_nm=3.0, direction=direction, center_nm=2.5)
        assert cv.from_positions(pos, box) == pytest.approx(expect[i], abs=1e-9)
        assert ForceEvaluator(cv, np.ones(40), box)(pos) == pytest.approx(expect[i], abs=1e-9)


def test_position_wrap_band_is_continuous_and_identical_in_both_paths():
    box = np.array([2.0, 2.0, 2.0])
    cv = PositionCV((0,), axis="z", origin_nm=0.0)
    evaluate = ForceEvaluator(cv, [1.0, 1.0], box)
    zs = np.linspace(0.85, 1.15, 31)  # across the cut at +L/2 = 1.0
    vals = []
    for z in zs:
        pos = np.array([[0.3, 0.2, z], [1.0, 1.0, 1.0]])
        v = cv.from_positions(pos, box)
        assert evaluate(pos) == pytest.approx(v, abs=1e-9)
        vals.append(v)
    assert vals[0] == pytest.approx(0.85) and vals[-1] == pytest.approx(-0.85)
    assert np.max(np.abs(np.diff(vals))) < 0.1  # no jump: a steep continuous ramp


def test_position_nonperiodic_is_plain_coordinate():
    pos = np.array([[7.3, -2.0, 0.1], [0.0, 0.0, 0.0]])
    cv = PositionCV((0,), axis="x", origin_nm=1.0)
    assert cv.from_positions(pos, None) == pytest.approx(6.3, abs=1e-12)
    assert ForceEvaluator(cv, [1.0, 1.0], None, periodic=False)(pos) == pytest.approx(6.3)


# ------------------------------------------------------------------- distance
def test_distance_between_ions_equals_mdanalysis(run):
    u, md, frames = run
    na = md.groups["cation"]
    pairs = [(na[0], na[1]), (na[2], na[9]), (na[4], md.groups["anion_coord"][0])]
    for a, b in pairs:
        cv = DistanceCV((a,), (b,))
        evaluate = ForceEvaluator(cv, u.atoms.masses, frames[0][1])
        for k, ts in enumerate(u.trajectory[::2]):
            pos, box = frames[k]
            expect = distance_array(ts.positions[[a]], ts.positions[[b]], box=ts.dimensions,
                                    backend="serial")[0, 0] / 10.0
            assert cv.from_positions(pos, box) == pytest.approx(expect, abs=TOL)
            assert evaluate(pos, box) == pytest.approx(expect, abs=TOL)


def test_distance_ion_to_molecule_com_equals_mdanalysis_with_atoms_in_other_images(run):
    u, md, frames = run
    rng = np.random.default_rng(11)
    dme = u.atoms[md.groups["solvent:DME"]].residues
    na = u.atoms[md.groups["cation"][3]]
    u.trajectory[0]
    centres = dme.center_of_mass(compound="residues")
    near = int(np.argmin(distance_array(na.position[None, :], centres, box=u.dimensions)))
    cv = distance_cv("cation[3]", f"solvent:DME#{near}", md, u)
    mol = u.atoms[list(cv.group_b)]
    assert len(set(mol.resindices)) == 1 and mol.n_atoms == 16
    evaluate = ForceEvaluator(cv, u.atoms.masses, frames[0][1])
    checked = 0
    for k, ts in enumerate(u.trajectory[::2]):
        pos, box = frames[k]
        com = mol.center_of_mass()  # whole molecule in the DCD
        expect = distance_array(na.position[None, :], com[None, :], box=ts.dimensions,
                                backend="serial")[0, 0] / 10.0
        shifted = pos + rng.integers(-1, 2, size=pos.shape) * box  # split the molecule
        got = cv.from_positions(shifted, box, u.atoms.masses)
        assert evaluate(shifted, box) == pytest.approx(got, abs=TOL)
        anchors = mi_axis(pos[cv.group_a[0]] - pos[cv.group_b[0]], box)
        if np.all(np.abs(anchors) < box / 2 - WRAP_EPS_NM) and expect < 0.5 * box.min():
            assert got == pytest.approx(expect, abs=TOL)
            checked += 1
    assert checked >= 3


def test_distance_across_boundary_by_hand():
    box = np.array([2.0, 2.0, 2.0])
    # atom 0 at x = 0.1, atom 1 at x = 1.9 (0.2 apart through the boundary), dy = 0.3,
    # group B = atoms 1 and 2 (equal masses) with atom 2 at x = 1.7 + 2 (another image)
    pos = np.array([[0.1, 0.5, 0.5], [1.9, 0.8, 0.5], [3.7, 0.8, 0.5]])
    cv = DistanceCV((0,), (1, 2))
    expect = np.hypot(0.3, 0.3)  # COM of B at x = -0.2 (image of 1.8), y = 0.8
    assert cv.from_positions(pos, box, [1.0, 1.0, 1.0]) == pytest.approx(expect, abs=1e-9)
    assert ForceEvaluator(cv, [1.0, 1.0, 1.0], box)(pos) == pytest.approx(expect, abs=1e-9)


# ---------------------------------------------------------------- coordination
def test_rational_switch_by_hand():
    r0 = 0.3
    assert rational_switch(r0 / 2, r0) == pytest.approx(64.0 / 65.0, rel=1e-14)
    assert rational_switch(r0, r0) == pytest.approx(0.5, rel=1e-14)  # n/m at r = r0
    assert rational_switch(r0, r0, n=4, m=10) == pytest.approx(0.4, rel=1e-14)
    assert rational_switch(r0 / 2, r0, n=4, m=10) == pytest.approx(960.0 / 1023.0, rel=1e-14)
    assert rational_switch(0.25, r0, d0_nm=0.3) == 1.0
    # general form == (1 - x^n)/(1 - x^m) away from x = 1
    x = np.array([0.2, 0.7, 1.3, 2.4])
    assert np.allclose(rational_switch(x * r0, r0, 5, 9), (1 - x**5) / (1 - x**9), rtol=1e-12)


@pytest.mark.parametrize(("n", "m", "r_over_r0", "s_at"),
                         [(6, 12, 0.5, 64.0 / 65.0), (4, 10, 1.0, 0.4), (4, 10, 0.5, 960 / 1023)])
def test_coordination_single_partner_by_hand(n, m, r_over_r0, s_at):
    r0 = 0.3
    box = np.array([3.0, 3.0, 3.0])
    pos = np.array([[2.95, 1.0, 1.0], [2.95 + r_over_r0 * r0 - 3.0, 1.0, 1.0], [1.5, 2.9, 1.0]])
    cv = CoordinationCV(0, (1, 2), r0, n=n, m=m)
    # stretched at d_max = 3 r0: s(3) = 1/(1 + 3^6) for (6, 12); (1-3^4)/(1-3^10) for (4, 10)
    s_max = 1.0 / 730.0 if m == 2 * n else 80.0 / 59048.0
    expect = (s_at - s_max) / (1.0 - s_max)  # atom 2 is 1.9 nm away: contributes 0
    assert cv.from_positions(pos, box) == pytest.approx(expect, abs=1e-12)
    evaluate = ForceEvaluator(cv, [23.0, 16.0, 16.0], box)
    assert evaluate(pos) == pytest.approx(expect, abs=1e-12)
    (value,) = evaluate.force.getCollectiveVariableValues(evaluate.context)
    assert value == pytest.approx(expect, abs=1e-12)


def test_coordination_force_equals_numpy_on_real_frames(run):
    u, md, frames = run
    r0 = {"DME": 0.31, "PF6": 0.29}
    for ion in ("cation[0]", "cation[10]"):
        cvs = coordination_cvs(ion, md, r0, u)
        assert set(cvs) == {"DME", "PF6", "solvent"}
        for kind, cv in cvs.items():
            evaluate = ForceEvaluator(cv, u.atoms.masses, frames[0][1])
            for pos, box in frames[:3] if kind == "solvent" else frames:
                assert evaluate(pos, box) == pytest.approx(cv.from_positions(pos, box), abs=TOL)


def test_coordination_sharp_limit_equals_integer_count(run):
    """n = 100, m = 200: the CV equals the count of partners within r0 (capped_distance) and
    the analysis's Coordination counts, with r0 the analysis's first RDF minimum."""
    from predesolv.analysis import Coordination, coordination_partners

    u, md, frames = run
    r0 = default_r0_nm(u, md)
    partners = coordination_partners(u, md)
    assert set(r0) == {"DME", "PF6"} and 0.2 < r0["DME"] < 0.4
    coord = Coordination(u.atoms[md.groups["cation"]], partners, cutoffs_nm=r0).run(step=2)
    checked = 0
    for i in range(len(md.groups["cation"])):
        cvs = coordination_cvs(f"cation[{i}]", md, r0, u, n=100, m=200)
        values = {k: cv_timeseries(cv, u, step=2) for k, cv in cvs.items()}
        for f, ts in enumerate(u.trajectory[::2]):
            na = ts.positions[[md.groups["cation"][i]]]
            for k, kind in enumerate(coord.results.kinds):
                p = partners[kind].positions
                pairs, d = capped_distance(na, p, 1.2 * r0[kind] * 10, box=ts.dimensions)
                if np.any(np.abs(d / 10 / r0[kind] - 1) < 0.05):
                    continue  # an atom within 5 % of r0: the smooth CV is not an integer
                count = int(np.sum(d / 10 <= r0[kind]))
                assert coord.results.counts[f, i, k] == count
                assert values[kind][f] == pytest.approx(count, abs=0.05)
                checked += 1
        # the summed solvent CV is the sum of the solvent kinds
        assert np.allclose(values["solvent"], values["DME"], atol=1e-12)
    assert checked >= 90  # 11 ions x 5 frames x 2 kinds = 110 minus ambiguous ones


def test_coordination_sum_cv_force(run):
    u, md, frames = run
    a = CoordinationCV(md.groups["cation"][1], tuple(md.groups["solvent_O:DME"]), 0.31)
    b = CoordinationCV(md.groups["cation"][1], tuple(md.groups["anion_coord"]), 0.29, n=4, m=10)
    total = SumCV((a, b))
    evaluate = ForceEvaluator(total, u.atoms.masses, frames[0][1])
    for pos, box in frames[:2]:
        expect = a.from_positions(pos, box) + b.from_positions(pos, box)
        assert total.from_positions(pos, box) == pytest.approx(expect, abs=1e-12)
        assert evaluate(pos, box) == pytest.approx(expect, abs=TOL)


def test_timeseries_matches_per_frame(run):
    u, md, frames = run
    cv = position_cv("cation[2]", md, u, axis="z", origin_nm=0.0)
    series = cv_timeseries(cv, u, step=2)
    assert series.shape == (5,)
    for v, (pos, box) in zip(series, frames, strict=True):
        assert v == pytest.approx(cv.from_positions(pos, box), abs=1e-6)


# ------------------------------------------------------------------- groups
def test_group_specs(run):
    u, md, _ = run
    assert resolve_group("cation[0]", md) == (0,)
    assert resolve_group("cation[-1]", md) == (10,)
    assert resolve_group([5, 3, 5], md) == (3, 5)
    assert resolve_group(12, md) == (12,)
    mol = resolve_group("solvent:DME#3", md, u)
    expect = u.atoms[md.groups["solvent:DME"]].residues[3].atoms.indices
    assert mol == tuple(int(i) for i in expect) and len(mol) == 16
    sel = resolve_group("sel:resname DME and name O*", md, str(RUN / "topology.pdb"))
    assert sel == tuple(md.groups["solvent_O:DME"])


def test_group_spec_on_openmm_topology_without_metadata(run):
    u = run[0]
    pdb = app.PDBFile(str(RUN / "topology.pdb"))
    assert resolve_group("sel:name NA", None, pdb.topology) == tuple(range(11))
    assert resolve_group("sel:resname DME and resid 30", None, pdb.topology) == tuple(
        int(i) for i in u.select_atoms("resname DME and resid 30").indices)
    masses = element_masses(pdb.topology)
    assert masses.shape == (1688,) and masses[0] == pytest.approx(22.98977, abs=1e-4)
    assert np.allclose(masses, u.atoms.masses, atol=1e-3)  # MDAnalysis's element masses
    with pytest.raises(ConfigError, match="no metadata groups"):
        resolve_group("cation[0]", None, pdb.topology)


def test_group_errors(run):
    u, md, _ = run
    with pytest.raises(ConfigError, match=r"unknown group 'cations'.*available groups: anion"):
        resolve_group("cations[0]", md, u)
    with pytest.raises(ConfigError, match=r"has 11 atoms"):
        resolve_group("cation[11]", md)
    with pytest.raises(ConfigError, match=r"has 100 molecules"):
        resolve_group("solvent:DME#100", md, u)
    with pytest.raises(ConfigError, match="selects no atoms"):
        resolve_group("sel:name XYZ", md, u)
    with pytest.raises(ConfigError, match="is invalid"):
        resolve_group("sel:resname (", md, u)
    with pytest.raises(ConfigError, match=r"\[0, 1688\)"):
        resolve_group([1688], md, u)
    with pytest.raises(ConfigError, match="needs a topology"):
        resolve_group("solvent:DME#0", md)


def test_frozen_atoms_refused():
    system = make_system([23.0, 0.0, 16.0, 0.0], [3.0, 3.0, 3.0])
    with pytest.raises(ConfigError, match=r"atoms \[1\] are frozen \(mass 0\)"):
        PositionCV((1,), axis="x").to_force(system)
    with pytest.raises(ConfigError, match="frozen"):
        DistanceCV((0,), (2, 3)).to_force(system)
    with pytest.raises(ConfigError, match="frozen"):
        CoordinationCV(3, (0, 2), 0.3).to_force(system)
    CoordinationCV(0, (1, 3), 0.3).to_force(system)  # frozen partners are fine
    with pytest.raises(ConfigError, match="both groups are frozen"):
        DistanceCV((1,), (3,)).to_force(system)


def test_distance_to_a_frozen_reference_point():
    """A wholly frozen group is a fixed point: a harmonic bias on the distance from it moves
    the mobile atom with force -k (d - d0) along the line, the frozen atom not at all."""
    system = make_system([23.0, 0.0], [3.0, 3.0, 3.0])
    pos = np.array([[1.0, 1.0, 1.0], [1.3, 1.4, 1.0]])  # d = 0.5 nm
    force = openmm.CustomCVForce("0.5*k*(d-d0)^2")
    force.addGlobalParameter("k", 1000.0)
    force.addGlobalParameter("d0", 0.4)
    force.addCollectiveVariable("d", DistanceCV((0,), (1,)).inner_force(system))
    system.addForce(force)
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(pos)
    st = ctx.getState(getEnergy=True, getForces=True)
    f = st.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    assert st.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole) == pytest.approx(
        0.5 * 1000 * 0.1**2, rel=1e-6)
    # F_0 = -k (d - d0) * (r0 - r1)/d = -100 * (-0.6, -0.8, 0)
    assert f[0] == pytest.approx([60.0, 80.0, 0.0], abs=1e-4)
    ctx.getIntegrator().step(10)
    moved = ctx.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(
        unit.nanometer)
    assert moved[1] == pytest.approx(pos[1], abs=0)


def test_invalid_definitions_refused():
    tri = make_system([1.0, 1.0])
    tri.setDefaultPeriodicBoxVectors(openmm.Vec3(3, 0, 0), openmm.Vec3(1, 3, 0),
                                     openmm.Vec3(0, 0, 3))
    with pytest.raises(ConfigError, match="orthorhombic"):
        PositionCV((0,), axis="y").to_force(tri, periodic=True)
    with pytest.raises(ConfigError, match="half the shortest box edge"):
        CoordinationCV(0, (1,), 0.4).to_force(make_system([1, 1], [2.0, 2.0, 2.0]),
                                             periodic=True)
    with pytest.raises(ConfigError, match="share atoms"):
        DistanceCV((0, 1), (1, 2))
    with pytest.raises(ConfigError, match="0 < n < m"):
        CoordinationCV(0, (1,), 0.3, n=12, m=6)
    with pytest.raises(ConfigError, match="among its partners"):
        CoordinationCV(0, (0, 1), 0.3)
    with pytest.raises(ConfigError, match="masses"):
        PositionCV((0, 1), axis="x").from_positions(np.zeros((2, 3)), [3.0, 3.0, 3.0])


def test_position_cv_defaults_to_the_mouth():
    md = Metadata.from_dict({"groups": {"cation": [0, 1]},
                             "geometry": {"kind": "slit", "insertion":
                                          {"axis": "x", "origin_nm": 3.2, "direction": -1}}})
    cv = position_cv("cation[1]", md)
    assert (cv.group, cv.axis, cv.origin_nm, cv.direction) == ((1,), "x", 3.2, -1)
    with pytest.raises(ConfigError, match="no insertion coordinate"):
        position_cv("cation[1]", Metadata.from_dict({"groups": {"cation": [0, 1]}}))


@pytest.mark.parametrize("seed", range(8))
def test_a_group_distance_is_exact_at_every_separation_and_image(seed):
    """Two groups (3 and 2 atoms, unequal masses): the distance CV is the minimum-image
    distance between their centres of mass, computed here from unwrapped molecules with
    plain NumPy, including with the centres within WRAP_EPS_NM of half a box along y (where
    the signed displacement used before folded back) and with every atom moved to a random
    periodic image; OpenMM, NumPy, and OpenMM again after the box grows 10 % (the box length
    is read in the force); a flat-bottom wall pulls group a's centre towards group b's."""
    rng = np.random.default_rng(100 + seed)
    box = np.array([4.4, 1.9676, 1.935])
    masses = np.array([23.0, 12.0, 16.0, 14.0, 1.0])
    a, b = (0, 1, 2), (3, 4)
    com_b = rng.uniform(0, 1, 3) * box
    com_a = com_b + rng.uniform(-0.4, 0.4, 3)
    com_a[1] = com_b[1] + rng.choice([-1, 1]) * (0.5 * box[1] - rng.uniform(0, WRAP_EPS_NM))
    local = rng.normal(0, 0.08, (5, 3))
    for g, com in ((a, com_a), (b, com_b)):
        w = masses[list(g)] / masses[list(g)].sum()
        local[list(g)] -= w @ local[list(g)]  # centre of mass exactly at com
        local[list(g)] += com
    exact = float(np.linalg.norm([mi_axis(com_a[i] - com_b[i], box[i]) for i in range(3)]))
    pos = local + rng.integers(-2, 3, (5, 3)) * box  # any image of every atom
    cv = DistanceCV(a, b)
    assert cv.from_positions(pos, box, masses) == pytest.approx(exact, abs=1e-9)
    ev = ForceEvaluator(cv, masses, box)
    assert ev(pos) == pytest.approx(exact, abs=1e-6)
    big = 1.1 * box
    scaled = local * 1.1
    want = float(np.linalg.norm([mi_axis(1.1 * (com_a[i] - com_b[i]), big[i])
                                 for i in range(3)]))
    assert ev(scaled, big) == pytest.approx(want, abs=1e-6)
    f = wall_forces(cv, masses, box, pos)
    toward = -np.array([mi_axis(com_a[i] - com_b[i], box[i]) for i in range(3)]) / exact
    assert np.dot(f[list(a)].sum(axis=0), toward) == pytest.approx(2000 * (exact - 0.55),
                                                                    rel=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_an_atom_pair_distance_is_exact_at_every_separation(seed):
    """Two atoms: the distance CV is the minimum-image distance everywhere, including within
    WRAP_EPS_NM of half a box along an axis (where a signed displacement folds back), in
    NumPy and in OpenMM; a flat-bottom wall there pulls the atom towards its partner.
    Found by the face-on E7-300K smoke: in a 1.97 nm box a wall at 0.55 nm recorded 0.57 nm
    for an ion that sat 1.14 nm from the N, 0.97 nm away along y."""
    rng = np.random.default_rng(seed)
    box = np.array([4.4, 1.9676, 1.935])
    pos = rng.uniform(0, 1, (2, 3)) * box
    # put the pair within eps of half a box along y, on either side
    pos[0, 1] = (pos[1, 1] + rng.choice([-1, 1]) * (0.5 * box[1] - rng.uniform(0, WRAP_EPS_NM))
                 ) % box[1]
    d = pos[0] - pos[1]
    exact = float(np.linalg.norm([mi_axis(d[i], box[i]) for i in range(3)]))
    cv = DistanceCV((0,), (1,))
    assert cv.from_positions(pos, box) == pytest.approx(exact, abs=1e-9)
    assert ForceEvaluator(cv, [23.0, 0.0], box)(pos) == pytest.approx(exact, abs=1e-6)
    # a flat-bottom wall d <= 0.55 nm: the force on the mobile atom points at the partner
    f = wall_forces(cv, [23.0, 0.0], box, pos)[0]
    toward = -np.array([mi_axis(d[i], box[i]) for i in range(3)]) / exact
    assert np.dot(f, toward) == pytest.approx(2000 * (exact - 0.55), rel=1e-6)
