"""Biases on CVs: OpenMM energies against hand-computed k/2 (cv - c)^2 and flat-bottom walls;
global parameters move the window in a live Context; reduced energies for MBAR."""

from __future__ import annotations

import numpy as np
import openmm
import pytest
from openmm import unit

from predesolv.errors import ConfigError
from predesolv.freeenergy import (
    CoordinationCV,
    DistanceCV,
    PositionCV,
    add_flat_bottom,
    add_harmonic_bias,
    flat_bottom_energy_kj,
    harmonic_energy_kj,
    kt_kj_per_mol,
    reduced_harmonic_bias,
)

BOX = np.array([3.0, 3.0, 3.0])


def periodic_system(n=3, masses=None):
    """n particles in BOX with a zero periodic force, so the System reports periodicity."""
    system = openmm.System()
    for i in range(n):
        system.addParticle(masses[i] if masses else 20.0)
    system.setDefaultPeriodicBoxVectors(*(openmm.Vec3(*r) for r in np.diag(BOX)))
    zero = openmm.CustomNonbondedForce("0")
    for _ in range(n):
        zero.addParticle([])
    zero.setNonbondedMethod(openmm.CustomNonbondedForce.CutoffPeriodic)
    zero.setCutoffDistance(1.0)
    system.addForce(zero)
    assert system.usesPeriodicBoundaryConditions()
    return system


def context_of(system, positions):
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(np.asarray(positions, dtype=float))
    return ctx


def energy(ctx, group):
    state = ctx.getState(getEnergy=True, groups={group})
    return state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def test_harmonic_bias_energy_and_force_by_hand():
    system = periodic_system()
    # distance 0.62 nm through the boundary along x (2.79 -> 0.41 + 3.0)
    pos = [[2.79, 1.0, 1.0], [0.41, 1.0, 1.0], [1.5, 2.0, 2.0]]
    bias = add_harmonic_bias(system, DistanceCV((0,), (1,)), center=0.5, k=1000.0,
                             name="d", force_group=5)
    assert (bias.center_parameter, bias.k_parameter) == ("d_center", "d_k")
    ctx = context_of(system, pos)
    assert ctx.getParameter("d_center") == 0.5 and ctx.getParameter("d_k") == 1000.0
    assert energy(ctx, 5) == pytest.approx(0.5 * 1000.0 * 0.12**2, rel=1e-10)  # 7.2 kJ/mol
    f = ctx.getState(getForces=True, groups={5}).getForces(asNumpy=True)._value
    # dU/dd = k (d - c) = 120 kJ/mol/nm; atom 1 lies at +x of atom 0 through the boundary
    assert f[1] == pytest.approx([-120.0, 0.0, 0.0], abs=1e-8)
    assert f[0] == pytest.approx([120.0, 0.0, 0.0], abs=1e-8)
    assert f[2] == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)


def test_changing_window_parameters_in_the_context():
    system = periodic_system()
    cv = PositionCV((0,), axis="z", origin_nm=1.0)
    bias = add_harmonic_bias(system, cv, center=0.0, k=500.0, name="z", force_group=2)
    ctx = context_of(system, [[0.5, 0.5, 1.3], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    assert energy(ctx, 2) == pytest.approx(0.5 * 500.0 * 0.3**2, rel=1e-10)  # 22.5
    # a steered pull: move the centre in steps, energy follows k/2 (0.3 - c)^2
    for c in (0.1, 0.2, 0.3, 0.45):
        bias.set(ctx, center=c)
        assert energy(ctx, 2) == pytest.approx(0.5 * 500.0 * (0.3 - c) ** 2, abs=1e-10)
    bias.set(ctx, center=0.25 * unit.nanometer, k=2.0 * unit.kilojoule_per_mole / unit.angstrom**2)
    assert ctx.getParameter("z_k") == pytest.approx(200.0)
    assert energy(ctx, 2) == pytest.approx(0.5 * 200.0 * 0.05**2, rel=1e-10)


def test_bias_on_position_across_the_boundary():
    system = periodic_system()
    add_harmonic_bias(system, PositionCV((0,), axis="x", origin_nm=0.2), center=-0.1,
                      k=800.0, name="x", force_group=1)
    # x = 2.95 is 0.25 below the origin 0.2 through the boundary: cv = -0.25
    ctx = context_of(system, [[2.95, 1.0, 1.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    assert energy(ctx, 1) == pytest.approx(0.5 * 800.0 * 0.15**2, rel=1e-10)  # 9.0


def test_bias_on_coordination():
    system = periodic_system()
    cv = CoordinationCV(0, (1, 2), r0_nm=0.3)
    add_harmonic_bias(system, cv, center=2.0, k=50.0, name="cn", force_group=4)
    # partner 1 at r0/2 (s = 64/65), partner 2 beyond d_max (s = 0); stretch at d_max = 0.9
    ctx = context_of(system, [[1.0, 1.0, 1.0], [1.15, 1.0, 1.0], [2.5, 2.5, 2.5]])
    s_max = 1.0 / 730.0
    cn = (64.0 / 65.0 - s_max) / (1.0 - s_max)
    assert energy(ctx, 4) == pytest.approx(0.5 * 50.0 * (cn - 2.0) ** 2, rel=1e-10)


@pytest.mark.parametrize(("z", "expect"), [(1.5, 0.0), (1.0, 0.0), (2.0, 0.0),
                                           (2.3, 0.5 * 400.0 * 0.3**2),
                                           (0.8, 0.5 * 400.0 * 0.2**2)])
def test_flat_bottom_zero_inside_quadratic_outside(z, expect):
    system = periodic_system()
    wall = add_flat_bottom(system, PositionCV((0,), axis="z", origin_nm=0.0), lower=1.0,
                           upper=2.0, k=400.0, name="zwall", force_group=6, periodic=False)
    ctx = context_of(system, [[0.5, 0.5, z], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    assert energy(ctx, 6) == pytest.approx(expect, abs=1e-10)
    assert flat_bottom_energy_kj(z, 1.0, 2.0, 400.0) == pytest.approx(expect, abs=1e-12)
    assert (wall.lower_parameter, wall.upper_parameter) == ("zwall_lower", "zwall_upper")
    ctx.setParameter(wall.upper_parameter, 2.5)
    assert energy(ctx, 6) == pytest.approx(0.5 * 400.0 * 0.2**2 if z < 1.0 else 0.0, abs=1e-10)


def test_one_sided_wall_and_window_share_a_context():
    system = periodic_system()
    cv = PositionCV((0,), axis="z", origin_nm=0.0)
    add_flat_bottom(system, DistanceCV((0,), (1,)), None, 0.5, 1000.0, name="dwall",
                    force_group=3)
    bias = add_harmonic_bias(system, cv, 1.0, 100.0, name="win", force_group=2)
    ctx = context_of(system, [[1.0, 1.0, 1.2], [1.0, 1.0, 1.9], [2.0, 2.0, 2.0]])
    assert energy(ctx, 3) == pytest.approx(0.5 * 1000.0 * 0.2**2, rel=1e-10)  # d = 0.7
    assert energy(ctx, 2) == pytest.approx(0.5 * 100.0 * 0.2**2, rel=1e-10)
    bias.set(ctx, center=1.2)
    assert energy(ctx, 2) == pytest.approx(0.0, abs=1e-12)
    assert energy(ctx, 3) == pytest.approx(20.0, rel=1e-10)  # the wall is untouched


def test_reduced_bias_for_mbar_by_hand():
    cv = np.array([0.10, 0.25, 0.40])
    centers = np.array([0.1, 0.3])
    u = reduced_harmonic_bias(cv, centers, [1000.0, 500.0], 300.0)
    kt = 0.0083144626181532 * 300.0  # R in kJ/mol/K (CODATA 2018) x T
    assert kt_kj_per_mol(300.0) == pytest.approx(kt, rel=1e-9)
    assert u.shape == (2, 3)
    assert u[0, 1] == pytest.approx(0.5 * 1000.0 * 0.15**2 / kt, rel=1e-9)
    assert u[1, 2] == pytest.approx(0.5 * 500.0 * 0.1**2 / kt, rel=1e-9)
    assert u[0, 0] == 0.0
    assert np.allclose(reduced_harmonic_bias(cv, centers, 1000.0, 300.0)[1],
                       harmonic_energy_kj(cv, 0.3, 1000.0) / kt)


def test_reduced_bias_equals_openmm_energy_over_kt():
    """u_k(x) from the CV value equals the OpenMM bias energy / kT in that window."""
    system = periodic_system()
    cv = DistanceCV((0,), (1,))
    bias = add_harmonic_bias(system, cv, 0.0, 750.0, name="w", force_group=7)
    rng = np.random.default_rng(5)
    ctx = context_of(system, np.zeros((3, 3)))
    centers = np.array([0.3, 0.45, 0.6])
    for _ in range(4):
        pos = rng.uniform(0.0, 3.0, size=(3, 3))
        ctx.setPositions(pos)
        u = reduced_harmonic_bias([cv.from_positions(pos, BOX)], centers, 750.0, 298.15)
        for k, c in enumerate(centers):
            bias.set(ctx, center=c)
            assert energy(ctx, 7) / kt_kj_per_mol(298.15) == pytest.approx(u[k, 0], rel=1e-9)


def test_bias_errors():
    system = periodic_system()
    add_harmonic_bias(system, DistanceCV((0,), (1,)), 0.5, 10.0, name="d")
    with pytest.raises(ConfigError, match=r"\['d_center', 'd_k'\] already exist"):
        add_harmonic_bias(system, DistanceCV((0,), (2,)), 0.5, 10.0, name="d")
    with pytest.raises(ConfigError, match="force constant must be >= 0"):
        add_harmonic_bias(system, DistanceCV((0,), (2,)), 0.5, -1.0, name="e")
    with pytest.raises(ConfigError, match="must be an identifier"):
        add_harmonic_bias(system, DistanceCV((0,), (2,)), 0.5, 1.0, name="a b")
    with pytest.raises(ConfigError, match="lower <= upper"):
        add_flat_bottom(system, DistanceCV((0,), (2,)), 1.0, 0.5, 1.0, name="w")
    with pytest.raises(ConfigError, match="lower <= upper"):
        add_flat_bottom(system, DistanceCV((0,), (2,)), None, None, 1.0, name="w")
    with pytest.raises(ConfigError, match="a quantity in nanometer"):
        add_harmonic_bias(system, DistanceCV((0,), (2,)), 1.0 * unit.kelvin, 1.0, name="f")
    frozen = periodic_system(masses=[0.0, 20.0, 20.0])
    with pytest.raises(ConfigError, match="frozen"):
        add_harmonic_bias(frozen, PositionCV((0,), axis="x"), 0.0, 1.0)
    assert frozen.getNumForces() == 1  # nothing added on failure
