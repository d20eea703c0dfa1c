"""0 K barrier scan: the saddle finder on an analytic surface, the energy model against
OpenMM, one barrier recomputed by an independent Lennard-Jones sum, the CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from predesolv.cli import main
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.forcefields.data import get_data_dir
from predesolv.systems.ion_slit import build_ion_slit
from predesolv.workflows.barrier_scan import IonEnergy, percolation_saddle, scan_one

KJ_PER_EV = 96.48533212


@pytest.mark.parametrize("a, b", [(1.0, 3.0), (2.5, 0.5), (1.0, 1.0)])
def test_percolation_saddle_on_a_cosine_surface(a, b):
    """E = -a cos(2 pi x) - b cos(2 pi y): the lowest path to an image crosses the saddle of
    the softer direction, at height 2 min(a, b) above the minimum."""
    nx, ny = 60, 48
    x = np.arange(nx)[:, None] / nx
    y = np.arange(ny)[None, :] / ny
    surf = -a * np.cos(2 * np.pi * x) - b * np.cos(2 * np.pi * y)
    ix, iy = percolation_saddle(surf)
    assert surf[ix, iy] - surf.min() == pytest.approx(2 * min(a, b), abs=1e-9)


def _lj(path: Path, type_name: str) -> tuple[float, float]:
    for atom in ET.parse(path).getroot().iter("Atom"):
        if atom.get("type") == type_name and atom.get("sigma") is not None:
            return float(atom.get("sigma")), float(atom.get("epsilon"))
    raise AssertionError(type_name)


def _honeycomb_energy(site_xy: np.ndarray, z: float, d: float, sigma: float, eps: float,
                      cutoff: float) -> float:
    """LJ of an ion at (site, z) with two AA-stacked infinite sheets at z = 0 and z = d,
    written here from the honeycomb geometry (b = 0.142 nm), not from predesolv."""
    b = 0.142
    a1, a2 = np.array([1.5 * b, np.sqrt(3) / 2 * b]), np.array([1.5 * b, -np.sqrt(3) / 2 * b])
    basis = [np.zeros(2), np.array([b, 0.0])]
    n = 20
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1))
    lattice = i.reshape(-1, 1) * a1 + j.reshape(-1, 1) * a2
    atoms = np.concatenate([lattice + s for s in basis])
    e = 0.0
    for zc in (0.0, d):
        r = np.sqrt(np.sum((atoms - site_xy) ** 2, axis=1) + (z - zc) ** 2)
        r = r[r < cutoff]
        e += np.sum(4 * eps * ((sigma / r) ** 12 - (sigma / r) ** 6))
    return float(e)


def test_aa_barrier_matches_an_independent_lattice_sum():
    d = 0.45
    res = scan_one(d, "AA", grid_nm=0.01)
    data = Path(get_data_dir())
    s_na, e_na = _lj(data / "predesolv-electrolytes.xml", "NA_Na")
    s_c, e_c = _lj(data / "predesolv-carbon.xml", "CAR_C")
    sigma, eps = np.sqrt(s_na * s_c), np.sqrt(e_na * e_c)  # geometric rule (OPLS)
    b = 0.142
    hollow = np.array([b / 2, np.sqrt(3) / 2 * b])  # centre of the ring over bond (0,0)-(b,0)
    bridge = np.array([b / 2, 0.0])  # midpoint of the bond (0,0)-(b,0)
    # for AA both extrema lie on the mid-plane (the scan says so too)
    assert res.site_xyz_nm[2] == pytest.approx(d / 2, abs=2e-3)
    assert res.saddle_xyz_nm[2] == pytest.approx(d / 2, abs=2e-3)
    e_h = _honeycomb_energy(hollow, d / 2, d, sigma, eps, 1.0)
    e_b = _honeycomb_energy(bridge, d / 2, d, sigma, eps, 1.0)
    assert res.barrier_eV == pytest.approx((e_b - e_h) / KJ_PER_EV, abs=0.002)
    assert res.openmm_check_kJ_per_mol < 1e-6


def test_lone_ion_pair_override_counted_once():
    """A Na–C pair override in a lone-ion slit: OpenMM energy differences between ion
    positions equal a hand sum of the override LJ over the carbons (minimum image, plain
    cutoff), not twice it (regression: the lone-ion shortcut once added a second
    interaction group to the override force)."""
    sig, eps, rc = 0.244, 7.2672, 1.0
    ff = ForceFieldConfig(pair_overrides=[{"type1": "NA_Na", "type2": "CAR_C",
                                           "sigma": f"{sig} nm", "epsilon": f"{eps} kJ/mol"}],
                          dispersion_correction=False)
    built = build_ion_slit(0.45, ("Na",), stacking="AB", forcefield=ff)
    model = IonEnergy(built)
    mid = float(built.metadata.geometry.extra["midplane_z_nm"])

    def hand(p):
        d = model.carbons - p
        d -= model.box * np.round(d / model.box)
        r = np.linalg.norm(d, axis=1)
        r = r[r < rc]
        return float(np.sum(4 * eps * ((sig / r) ** 12 - (sig / r) ** 6)))

    rng = np.random.default_rng(2)
    pts = np.column_stack([rng.uniform(0, model.box[0], 5), rng.uniform(0, model.box[1], 5),
                           rng.uniform(mid - 0.08, mid + 0.08, 5)])
    got = np.array([model.openmm_energy(p) for p in pts])
    want = np.array([hand(p) for p in pts])
    np.testing.assert_allclose(got - got[0], want - want[0], atol=1e-6 * np.ptp(want) + 1e-6)
    assert np.ptp(want) > 1.0


def test_energy_model_equals_openmm_with_a_switch():
    ff = ForceFieldConfig(nonbonded_cutoff="1.0 nm", switch_distance="0.85 nm")
    built = build_ion_slit(0.5, ("Na",), stacking="AB", forcefield=ff)
    model = IonEnergy(built)
    mid = float(built.metadata.geometry.extra["midplane_z_nm"])
    rng = np.random.default_rng(4)
    model.fit(rng, (mid - 0.12, mid + 0.12))
    pts = np.column_stack([rng.uniform(0, model.box[0], 8), rng.uniform(0, model.box[1], 8),
                           rng.uniform(mid - 0.12, mid + 0.12, 8)])
    got = model.energy(pts)
    want = np.array([model.openmm_energy(p) for p in pts])
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.ptp(want) > 1.0  # the points really differ in energy


def test_cli_writes_table_and_refuses_bad_input(tmp_path, capsys):
    cfg = {"barrier_scan": {"spacings": ["0.45 nm"], "stackings": ["AA"], "grid": "0.01 nm"},
           "output": {"directory": str(tmp_path / "scan")}}
    path = tmp_path / "scan.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["barrier-scan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "paper DFT" in out and "0.450" in out and "AA" in out
    df = pd.read_csv(tmp_path / "scan" / "barriers.csv")
    assert df.loc[0, "seed_barrier_eV"] == 0.25 and df.loc[0, "barrier_eV"] > 0
    meta = json.loads((tmp_path / "scan" / "barriers.json").read_text())
    assert meta["forcefield"]["na_c_sigma_nm"] == pytest.approx(np.sqrt(0.333045 * 0.34),
                                                               rel=1e-4)
    assert main(["barrier-scan", str(path)]) == 2  # exists: --overwrite needed
    assert "--overwrite" in capsys.readouterr().err
    for bad, field in ((["-0.4 nm"], "spacings"), (["0.45 nm"], None)):
        data = {"barrier_scan": {"spacings": bad}, "output": {"directory": str(tmp_path / "x")}}
        if field is None:
            data["barrier_scan"]["stackings"] = ["ABC"]
            field = "stackings"
        path.write_text(yaml.safe_dump(data))
        assert main(["barrier-scan", str(path)]) == 2
        assert field in capsys.readouterr().err
        assert not (tmp_path / "x").exists()
    assert main(["validate", str(path)]) == 2


def test_lone_ion_thermalises():
    """No CMMotionRemover may stop the only mobile particle: its kinetic temperature after a
    short Langevin run is thermal."""
    import openmm
    from openmm import unit

    built = build_ion_slit(0.5, ("Na",))
    assert not any(isinstance(f, openmm.CMMotionRemover) for f in built.system.getForces())
    integ = openmm.LangevinMiddleIntegrator(300, 5, 0.002)
    integ.setRandomNumberSeed(3)
    ctx = openmm.Context(built.system, integ, openmm.Platform.getPlatformByName("CPU"),
                         {"Threads": "1"})
    ctx.setPositions(built.positions)
    ke = []
    for _ in range(400):
        integ.step(5)
        ke.append(ctx.getState(getEnergy=True).getKineticEnergy().value_in_unit(
            unit.kilojoule_per_mole))
    t = 2 * np.mean(ke[50:]) / (3 * 0.00831446261815324)
    assert 240 < t < 360


def test_ion_slit_from_yaml_holds_only_the_named_ions(tmp_path):
    import openmm

    import predesolv

    cfg = predesolv.load_config({
        "system": {"ion_slit": {"spacing": "0.6 nm", "ions": ["Na", "Na"], "stacking": "AA",
                                "layers_per_wall": 2}},
        "simulation": {"platform": "Reference", "temperature": "300 K", "timestep": "2 fs"},
        "stages": [{"type": "minimize"}], "output": {"directory": str(tmp_path / "r")}})
    built = predesolv.build(cfg)
    md = built.metadata
    assert len(md.groups["cation"]) == 2
    n = built.system.getNumParticles()
    assert len(md.groups["electrode"]) == n - 2 and set(md.groups["frozen"]) == set(
        md.groups["electrode"])
    names = {r.name for r in built.topology.residues()}
    assert names == {"GRA", "NA"}  # no solvent, no counter-ion
    nb = next(f for f in built.system.getForces() if isinstance(f, openmm.NonbondedForce))
    assert nb.getNonbondedMethod() == openmm.NonbondedForce.PME  # two ions: Coulomb matters
    q = sum(nb.getParticleParameters(i)[0]._value for i in range(n))
    assert q == pytest.approx(2 * 0.8)
    z = sorted(md.geometry.extra["sheet_z_nm"])
    assert np.diff(z) == pytest.approx([0.335, 0.6, 0.335])
