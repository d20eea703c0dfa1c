"""The straight migration hop of predesolv.workflows.migration: its geometry checked against
the 0 K barrier scan's independent saddle search, and the exact profile's limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from openmm import unit

from predesolv.systems.ion_slit import build_ion_slit
from predesolv.workflows.barrier_scan import IonEnergy, min_over_z, scan_one
from predesolv.workflows.migration import exact_profile, hop_geometry

KJ_PER_EV = 96.48533212
#: Hexagon centre to bond midpoint across the bond (nm): half the lattice constant along the
#: hop, sqrt(3)/2 of the C-C bond.
HALF_HOP_NM = 0.142 * math.sqrt(3) / 2


@pytest.fixture(scope="module")
def aa045():
    built = build_ion_slit(0.45, ("Na",), stacking="AA")
    return built, hop_geometry(built)


def test_aa_hop_runs_through_a_bond_midpoint_between_two_hexagon_centres(aa045):
    """The two carbons nearest the hop's saddle point are 0.071 nm away on either side in x,
    and the 0 K energies at the saddle and 0.123 nm either side along y equal the saddle and
    site energies that the barrier scan finds by its percolation search."""
    built, hop = aa045
    assert hop.axis == "y" and hop.wall is not None and hop.wall[0] == "x"
    cx = hop.wall[1]
    pos = np.asarray(built.positions.value_in_unit(unit.nanometer))
    lower = built.metadata.geometry.extra["sheet_z_nm"][0]
    sheet = pos[built.metadata.groups.get("electrode")]
    sheet = sheet[np.abs(sheet[:, 2] - lower) < 1e-6]
    r = np.hypot(sheet[:, 0] - cx, sheet[:, 1] - hop.origin_nm)
    near = sheet[np.argsort(r)[:2]]
    np.testing.assert_allclose(np.sort(near[:, 0] - cx), [-0.071, 0.071], atol=1e-4)
    np.testing.assert_allclose(near[:, 1], hop.origin_nm, atol=1e-6)
    model = IonEnergy(built)
    model.fit(np.random.default_rng(0), (0.1, 0.35))
    xy = np.array([[cx, hop.origin_nm + s] for s in (-HALF_HOP_NM, 0.0, HALF_HOP_NM)])
    e, _ = min_over_z(model, xy, 0.1, 0.35)
    scan = scan_one(0.45, "AA")
    np.testing.assert_allclose(e[[0, 2]], scan.E_site_kJ_per_mol, atol=0.05)
    assert e[1] == pytest.approx(scan.E_saddle_kJ_per_mol, abs=0.05)


def test_exact_profile_tends_to_the_0K_barrier_when_cold(aa045):
    """At 5 K the integral is dominated by the lowest point of each plane: F(saddle) -
    F(site) is the 0 K barrier to within a few kT (kT = 0.04 kJ/mol)."""
    built, hop = aa045
    f = exact_profile(built, hop, np.array([-HALF_HOP_NM, 0.0, HALF_HOP_NM]),
                      temperature_K=5.0)
    barrier = scan_one(0.45, "AA").barrier_kJ_per_mol
    assert f[1] - f[0] == pytest.approx(barrier, abs=0.3)
    assert f[2] == pytest.approx(f[0], abs=0.05)


def test_without_the_channel_wall_the_aa_profile_hides_most_of_the_barrier():
    """The plane through the saddle also holds hexagon centres 0.213 nm away in x: with no
    wall F(y) shows under half of the 1.2 eV hop at 0.40 nm (default term); with it, the hop."""
    built = build_ion_slit(0.40, ("Na",), stacking="AA")
    hop = hop_geometry(built)
    s = np.linspace(-HALF_HOP_NM, HALF_HOP_NM, 21)
    walled = np.ptp(exact_profile(built, hop, s)) / KJ_PER_EV
    free = np.ptp(exact_profile(built, type(hop)(hop.axis, hop.origin_nm), s)) / KJ_PER_EV
    assert walled > 1.1
    assert free < 0.6


def test_ab_hop_is_along_x_through_the_box_centre_with_no_wall():
    built = build_ion_slit(0.45, ("Na",), stacking="AB")
    hop = hop_geometry(built)
    box = built.metadata.geometry.extra["box_nm"]
    assert (hop.axis, hop.wall) == ("x", None)
    assert hop.origin_nm == pytest.approx(box[0] / 2)
    block = hop.pmf_block("cation[0]")
    assert block["walls"] == [] and block["cv"]["axis"] == "x"
