"""Constant potential cells (OpenMM ConstantPotentialForce)."""

import numpy as np
import openmm
import pytest
from conftest import minimised_cpu_context
from openmm import unit

from predesolv.config.electrode import ElectrodeConfig
from predesolv.config.electrolyte import ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.systems.cell import build_cell
from predesolv.systems.charges import nonbonded_force
from predesolv.systems.constant_potential import electrode_charges

FF = ForceFieldConfig(nonbonded_cutoff="0.7 nm")
EL = ElectrolyteConfig(salt="NaPF6", solvents={"DME": 1.0}, n_salt=3, n_solvent=24)


def _val(q):
    return q.value_in_unit(unit.elementary_charge) if hasattr(q, "value_in_unit") else float(q)


def _cell(method, dv=1.0, **kw):
    ec = ElectrodeConfig(kind="slit", edge="zigzag", width="1.5 nm", length="1.3 nm",
                         spacing="0.8 nm", layers_per_wall=2,
                         charge={"mode": "constant_potential", "delta_v": f"{dv} V",
                                 "method": method, **kw},
                         counter_electrode={"length": "0.5 nm"})
    return build_cell(EL, ec, FF, seed=2)


@pytest.mark.parametrize("method", ["cg", "matrix"])
def test_cp_run_charges_opposite(method):
    b = _cell(method)
    cpf = [f for f in b.system.getForces() if isinstance(f, openmm.ConstantPotentialForce)]
    assert len(cpf) == 1
    cpf = cpf[0]
    assert cpf.getNumParticles() == b.n_atoms and cpf.getNumElectrodes() == 2
    nb = nonbonded_force(b.system)
    q_nb = [nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
            for i in range(b.n_atoms)]
    assert np.count_nonzero(q_nb) == 0
    assert all(nb.getExceptionParameters(k)[2].value_in_unit(unit.elementary_charge**2) == 0
               for k in range(nb.getNumExceptions()))
    # every electrolyte charge is in the CPF
    q_cp = np.array([_val(cpf.getParticleParameters(i)) for i in range(b.n_atoms)])
    el = np.setdiff1d(np.arange(b.n_atoms), b.metadata.groups["electrode"])
    assert np.count_nonzero(q_cp[el]) == len(el)  # all OPLS/CL&P atoms are charged
    assert abs(q_cp[el].sum()) < 1e-6
    na = b.metadata.groups["cation"]
    assert np.allclose(q_cp[na], 0.8)  # charge scaling kept
    assert b.metadata.requires.fixed_box is True
    ctx = minimised_cpu_context(b, openmm.LangevinMiddleIntegrator(300, 1, 0.001), 30, 10)
    g = b.metadata.groups
    q = electrode_charges(ctx, b.system, {"w": g["electrode:working"],
                                          "c": g["electrode:counter"]})
    assert q["w"] * q["c"] < 0
    assert abs(q["w"] + q["c"]) < 1e-4
    assert abs(q["w"]) > 0.02


def test_vacuum_capacitor_sign_and_linearity():
    """With the electrolyte's charges switched off, Q(working) is linear and odd in dV."""
    out = []
    for dv in (1.0, -1.0, 2.0):
        b = _cell("matrix", dv)
        cpf = [f for f in b.system.getForces() if isinstance(f, openmm.ConstantPotentialForce)][0]
        for i in range(b.n_atoms):
            cpf.setParticleParameters(i, 0.0)
        ctx = openmm.Context(b.system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("CPU"), {"Threads": "1"})
        ctx.setPositions(b.positions)
        out.append(electrode_charges(ctx, b.system,
                                     {"w": b.metadata.groups["electrode:working"]})["w"])
    assert out[0] > 0
    assert out[1] == pytest.approx(-out[0], rel=1e-6)
    assert out[2] == pytest.approx(2 * out[0], rel=1e-6)


def test_cp_with_n_oxide_dopants_runs():
    ec = ElectrodeConfig(kind="slit", edge="zigzag", width="1.5 nm", length="1.3 nm",
                         spacing="0.8 nm", layers_per_wall=2,
                         dopants=[{"type": "n_oxide", "count": 2, "sheets": "slit_walls"}],
                         charge={"mode": "constant_potential", "delta_v": "-1 V",
                                 "method": "matrix"},
                         counter_electrode={"length": "0.5 nm"})
    b = build_cell(EL, ec, FF, seed=4)
    assert len(b.metadata.groups["dopant_site:n_oxide"]) == 2
    ctx = minimised_cpu_context(b, openmm.VerletIntegrator(0.0005), 30, 5)
    g = b.metadata.groups
    q = electrode_charges(ctx, b.system, {"w": g["electrode:working"],
                                          "c": g["electrode:counter"]})
    assert abs(q["w"] + q["c"]) < 1e-4


def _n_oxide_cell(charge: dict, hydrogenate: bool = False):
    ec = ElectrodeConfig(kind="slit", edge="zigzag", width="1.5 nm", length="1.3 nm",
                         spacing="0.8 nm", layers_per_wall=2, hydrogenate_edges=hydrogenate,
                         dopants=[{"type": "n_oxide", "count": 2, "sheets": "slit_walls"}],
                         charge=charge, counter_electrode={"length": "0.5 nm"})
    return build_cell(EL, ec, FF, seed=4)


def _fixed_charges(b) -> np.ndarray:
    """Charges a System holds outside any solver: CPF particle charges, else NonbondedForce."""
    cpf = [f for f in b.system.getForces() if isinstance(f, openmm.ConstantPotentialForce)]
    if cpf:
        return np.array([_val(cpf[0].getParticleParameters(i)) for i in range(b.n_atoms)])
    nb = nonbonded_force(b.system)
    return np.array([nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
                     for i in range(b.n_atoms)])


@pytest.mark.parametrize("hydrogenate", [False, True])
def test_cp_keeps_dopant_and_edge_charges(hydrogenate):
    """Under constant potential only the sheet carbons are conductor: every other electrode
    atom carries exactly the charge it has in a charged constant-charge cell (same seed, an
    independent build; there too the charge sits on the sheet carbons only), the cell is
    neutral, and the induced charge is linear in dV."""
    def cc(sigma):
        return _n_oxide_cell({"mode": "constant_charge", "sigma": sigma, "apply_to": "all",
                              "neutralize": "counter_electrode"}, hydrogenate)

    ref, charged_ref = cc("0 C/m**2"), cc("-0.05 C/m**2")
    q_ref, q_sig = _fixed_charges(ref), _fixed_charges(charged_ref)
    charged = [i for i in ref.metadata.groups["electrode"] if q_ref[i] != 0.0]
    assert len(charged) >= 8  # 2 x (N, O and their carbon neighbours)
    if hydrogenate:
        assert len(charged) > 20  # edge H and their carbons too
    assert np.array_equal(q_sig[charged], q_ref[charged])  # sigma goes on sheet carbons only
    sheet = {i for i in ref.metadata.groups["electrode:working"] if q_sig[i] != q_ref[i]}
    out = []
    for dv in (0.5, 1.0, -1.0):
        b = _n_oxide_cell({"mode": "constant_potential", "delta_v": f"{dv} V",
                           "method": "matrix"}, hydrogenate)
        g = b.metadata.groups
        cond = set(g["conductor:working"]) | set(g["conductor:counter"])
        assert cond.isdisjoint(charged) and cond <= set(g["electrode"])
        assert set(g["conductor:working"]) == sheet  # the same atoms carry sigma
        q_fix = _fixed_charges(b)
        assert np.array_equal(q_fix[charged], q_ref[charged])  # exactly, not approximately
        ctx = openmm.Context(b.system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("CPU"), {"Threads": "1"})
        ctx.setPositions(b.positions)
        cpf = next(f for f in b.system.getForces() if isinstance(f, openmm.ConstantPotentialForce))
        q_all = np.array([_val(x) for x in cpf.getCharges(ctx)])
        assert abs(q_all.sum()) < 1e-6  # the whole cell is neutral
        assert np.allclose(q_all[charged], q_ref[charged], atol=0, rtol=0)
        out.append(q_all[sorted(g["conductor:working"])].sum())
    q_half, q_one, q_minus = out
    # linear response about the dV = 0 offset set by the fixed charges
    assert (q_one - q_half) == pytest.approx(q_half - (q_one + q_minus) / 2, rel=1e-3)
    assert (q_one - q_minus) == pytest.approx(4 * (q_one - q_half), rel=1e-3)
