"""N dopants on electrode edges: placement, parameters, a short run."""

import numpy as np
import openmm
import pytest
from conftest import minimised_cpu_context
from openmm import unit

from predesolv.config.electrode import ElectrodeConfig
from predesolv.config.electrolyte import ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.errors import BuildError
from predesolv.systems.cell import build_cell
from predesolv.systems.charges import nonbonded_force
from predesolv.systems.dopants import N_O_BOND_NM, electrode_residues
from predesolv.systems.slit import build_electrode_geometry

FF = ForceFieldConfig(nonbonded_cutoff="0.7 nm")
EL = ElectrolyteConfig(salt="NaClO4", solvents={"EC": 0.5, "DMC": 0.5}, n_salt=2,
                       n_solvent=16, temperature="313 K")


def _surface(dopants, edge="zigzag", **kw):
    return ElectrodeConfig(kind="surface", edge=edge, width="1.5 nm", length="1.0 nm",
                           layers=5, dopants=dopants, **kw)


def test_two_zigzag_n_oxides_build_and_run():
    b = build_cell(EL, _surface([{"type": "n_oxide", "count": 2}]), FF, seed=7)
    g = b.metadata.groups
    assert len(g["dopant_site:n_oxide"]) == 2
    assert len(g["dopant:n_oxide"]) == 8  # N, O, C1, C2 per group
    top_atoms = list(b.topology.atoms())
    pos = b.positions.value_in_unit(unit.nanometer)
    for n in g["dopant_site:n_oxide"]:
        res = top_atoms[n].residue
        assert res.name == "GNO"
        o = [a.index for a in res.atoms() if a.name == "O"][0]
        assert np.linalg.norm(pos[o] - pos[n]) == pytest.approx(N_O_BOND_NM, abs=1e-9)
        # O points out of the mouth, towards the electrolyte (lower x)
        assert pos[o, 0] < pos[n, 0]
    nb = nonbonded_force(b.system)
    q = np.array([nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
                  for i in g["dopant:n_oxide"]])
    assert abs(q.sum()) < 1e-9 and q.min() < -0.3
    assert abs(sum(nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
                   for i in range(b.n_atoms))) < 1e-6
    ctx = minimised_cpu_context(b, openmm.LangevinMiddleIntegrator(300, 1, 0.001), 100, 20)
    st = ctx.getState(getEnergy=True, getPositions=True)
    assert np.isfinite(st.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
    # frozen electrode did not move
    new = st.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    assert np.allclose(new[g["frozen"]], pos[g["frozen"]])


@pytest.mark.parametrize("dtype", ["graphitic", "pyridinic", "pyrrolic", "n_oxide"])
@pytest.mark.parametrize("edge", ["zigzag", "armchair"])
def test_each_dopant_type_and_seed(dtype, edge):
    cfg = _surface([{"type": dtype, "count": 2}], edge=edge)
    geom = build_electrode_geometry(cfg)
    a = electrode_residues(geom, cfg.dopants, seed=1)
    b = electrode_residues(geom, cfg.dopants, seed=1)
    assert a.groups == b.groups
    assert len(a.groups[f"dopant_site:{dtype}"]) == 2
    assert a.elements.count("N") == 2
    names = [r for r, _ in a.residues]
    assert names.count({"graphitic": "GNG", "pyridinic": "GNP", "pyrrolic": "GNR",
                        "n_oxide": "GNO"}[dtype]) == 2


def test_fraction_and_too_many():
    cfg = _surface([{"type": "pyridinic", "fraction": 0.1}])
    a = electrode_residues(build_electrode_geometry(cfg), cfg.dopants, seed=0)
    assert len(a.groups["dopant_site:pyridinic"]) >= 1
    cfg = _surface([{"type": "n_oxide", "count": 500}])
    with pytest.raises(BuildError, match="dopants"):
        electrode_residues(build_electrode_geometry(cfg), cfg.dopants, seed=0)


def test_wrap_into_box_never_returns_the_box_length():
    from predesolv.systems.charges import close_pairs, wrap_into_box

    box = np.array([2.0, 2.0, 2.0])
    pts = np.array([[-1e-17, 0.5, 0.5], [0.1, 0.5, 0.5], [2.0, 1.99999999999, -0.0]])
    w = wrap_into_box(pts, box)
    assert np.all(w >= 0) and np.all(w < box)
    # the pair across the boundary at x = 0 / 2.0 nm is found (0.1 nm apart)
    assert [0, 1] in close_pairs(pts, [0, 1, 2], box, 0.15).tolist()


@pytest.mark.parametrize("edge", ["zigzag", "armchair"])
@pytest.mark.parametrize("mode", ["constant_charge", "constant_potential", None])
def test_n_oxide_slit_builds_for_many_seeds(edge, mode):
    """The 0.8 nm N-oxide slit (3 layers per wall, counter electrode) that crashed in 2 of 4
    builds: the whole cell builds for several seeds per edge and charge mode, neutral."""
    charge = {"constant_charge": {"mode": "constant_charge", "sigma": "-0.05 C/m**2",
                                  "apply_to": "slit_walls", "neutralize": "counter_electrode"},
              "constant_potential": {"mode": "constant_potential", "delta_v": "1 V"},
              None: None}[mode]
    cfg = ElectrodeConfig(kind="slit", edge=edge, width="2.5 nm", length="2.0 nm",
                          spacing="0.8 nm", layers_per_wall=3, charge=charge,
                          dopants=[{"type": "n_oxide", "count": 2}],
                          counter_electrode={"length": "0.8 nm"})
    el = ElectrolyteConfig(salt="NaPF6", solvents={"DME": 1.0}, n_salt=2, n_solvent=40)
    ff = ForceFieldConfig(nonbonded_cutoff="0.8 nm")
    for seed in (11, 12, 13):
        b = build_cell(el, cfg, ff, seed=seed)
        assert len(b.metadata.groups["dopant_site:n_oxide"]) == 2
        nb = [f for f in b.system.getForces() if isinstance(f, openmm.NonbondedForce)][0]
        q = sum(nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
                for i in range(b.n_atoms))
        assert abs(q) < 1e-6 or mode == "constant_potential"  # CP: charges live in the CPF
