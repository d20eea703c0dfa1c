"""``electrode.frozen_pairs: all``: every frozen electrode pair within the cutoff is excluded
(count checked against a brute-force minimum-image count from the positions), forces on the
moving atoms are unchanged and the energy moves by one constant (Reference platform)."""

from __future__ import annotations

import numpy as np
import openmm
import pytest
from openmm import unit

from predesolv.config.electrode import ElectrodeConfig
from predesolv.config.electrolyte import ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.forcefields.nonbonded import lj_forces
from predesolv.systems.cell import build_cell

CUTOFF_NM = 0.7
FF = ForceFieldConfig(nonbonded_cutoff=f"{CUTOFF_NM} nm")
EL = ElectrolyteConfig(salt="NaPF6", solvents={"DME": 1.0}, n_salt=2, n_solvent=12)
CHARGE = {"mode": "constant_charge", "sigma": "-0.05 C/m**2", "apply_to": "slit_walls",
          "neutralize": "counter_electrode"}


def _cell(frozen_pairs: str):
    ec = ElectrodeConfig(kind="slit", edge="zigzag", width="1.5 nm", length="1.0 nm",
                         spacing="0.8 nm", layers_per_wall=2, charge=CHARGE,
                         counter_electrode={"length": "0.5 nm"}, frozen_pairs=frozen_pairs)
    return build_cell(EL, ec, FF, seed=3)


@pytest.fixture(scope="module")
def cells():
    return _cell("near"), _cell("all")


def _brute_pairs(pos: np.ndarray, idx: list[int], box: np.ndarray, cut: float) -> int:
    """Pairs of ``idx`` within ``cut`` nm by the minimum image, by explicit numpy (no tree)."""
    p = pos[idx]
    n = 0
    for k in range(len(idx) - 1):
        d = p[k + 1:] - p[k]
        d -= box * np.round(d / box)
        n += int((np.einsum("ij,ij->i", d, d) < cut * cut).sum())
    return n


def _state(system: openmm.System, positions) -> tuple[np.ndarray, float]:
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(positions)
    st = ctx.getState(getForces=True, getEnergy=True)
    return (st.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer),
            st.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))


def test_all_excludes_every_frozen_pair_within_the_cutoff(cells):
    near, full = cells
    frozen = near.metadata.groups["frozen"]
    pos = np.asarray(full.positions.value_in_unit(unit.nanometer))
    vecs = full.topology.getPeriodicBoxVectors().value_in_unit(unit.nanometer)
    box = np.array([vecs[0][0], vecs[1][1], vecs[2][2]])
    expected = _brute_pairs(pos, frozen, box, CUTOFF_NM)
    fz = set(frozen)

    def frozen_exclusions(system) -> int:
        lj = list(lj_forces(system))[0]
        return sum(1 for k in range(lj.getNumExclusions())
                   if set(lj.getExclusionParticles(k)) <= fz)

    assert frozen_exclusions(full.system) == expected
    assert frozen_exclusions(near.system) == _brute_pairs(pos, frozen, box, 0.3) < expected / 4
    assert f"{expected} electrode pairs closer than {CUTOFF_NM:g} nm" in \
        full.metadata.geometry.extra["electrode_pair_treatment"]


def test_forces_on_moving_atoms_unchanged_and_energy_shifts_by_a_constant(cells):
    near, full = cells
    frozen = set(near.metadata.groups["frozen"])
    mobile = np.array([i for i in range(near.n_atoms) if i not in frozen])
    pos = np.asarray(near.positions.value_in_unit(unit.nanometer))
    moved = pos.copy()
    rng = np.random.default_rng(4)
    moved[mobile] += rng.normal(0.0, 0.01, (len(mobile), 3))
    offsets = []
    for p in (pos, moved):
        f_near, e_near = _state(near.system, p * unit.nanometer)
        f_all, e_all = _state(full.system, p * unit.nanometer)
        scale = np.abs(f_near[mobile]).max()
        assert np.abs(f_all[mobile] - f_near[mobile]).max() <= 1e-6 * scale
        offsets.append(e_near - e_all)
    assert abs(offsets[0]) > 1.0  # the frozen pairs' interaction is not nothing
    assert offsets[1] == pytest.approx(offsets[0], abs=1e-6 * abs(offsets[0]) + 1e-6)


@pytest.mark.parametrize("extra", [
    {"charge": {"mode": "constant_potential", "delta_v": "-1 V"},
     "counter_electrode": {"length": "0.5 nm"}},
    {"flexible": {"restraint_k": "5000 kJ/mol/nm**2"}}])
def test_all_is_refused_where_pairs_are_not_constant(extra):
    with pytest.raises(ValueError, match="frozen_pairs 'all' needs rigid electrodes"):
        ElectrodeConfig(kind="slit", edge="zigzag", width="1.5 nm", length="1.0 nm",
                        spacing="0.8 nm", frozen_pairs="all", **extra)
