"""Study E5-MLIP: the climbing-image NEB barrier against an independent answer, and the
study through the CLI with both MLIPs (mechanics).

The independent answer (AA stacking, an analytic Lennard-Jones calculator from ASE): by
symmetry the hop between two hexagon centres crosses the C–C bond midpoint, so the barrier is
min_z E(bond midpoint) - min_z E(hexagon centre), found here by a z scan with the calculator
alone (no NEB, no optimiser).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from predesolv.studies import registry
from predesolv.studies.result import StudyResult

HAVE_ASE = importlib.util.find_spec("ase") is not None
HAVE_ML = all(importlib.util.find_spec(m) is not None for m in ("ase", "torch", "sevenn", "dftd3"))


def _lj():
    from ase.calculators.lj import LennardJones

    return LennardJones(sigma=3.0, epsilon=0.02, rc=8.0, smooth=True)


def _min_over_z(pore, xy_nm, calc):
    from ase import Atoms

    from predesolv.workflows.pore_filling import framework_atoms

    z0, z1 = pore.region("cavity").z_nm
    best = np.inf
    for z in np.linspace(z0 + 0.15, z1 - 0.15, 81):
        atoms = framework_atoms(pore)
        atoms += Atoms("Na", positions=[[xy_nm[0] * 10, xy_nm[1] * 10, z * 10]])
        atoms.calc = calc
        best = min(best, atoms.get_potential_energy())
    return best


@pytest.mark.skipif(not HAVE_ASE, reason="needs the ml extra (ase)")
def test_aa_neb_barrier_equals_the_bridge_minus_hollow_scan():
    from predesolv.systems.closed_pore import bilayer_cavity
    from predesolv.workflows.mlip_migration import neb_barrier

    calc = _lj()
    res = neb_barrier(0.5, calc, stacking="AA", n_images=3, fmax=0.01, max_steps=200)
    assert res.converged
    e = np.array(res.image_energies_eV)
    assert e[0] == 0.0 and e[-1] == pytest.approx(0.0, abs=1e-6)  # equivalent ends
    assert res.barrier_eV == pytest.approx(e.max())
    pore = bilayer_cavity(0.5, (2, 4), stacking="AA")
    lower = pore.positions_nm[pore.positions_nm[:, 2] < 1.0]
    c0 = lower[np.argmin(np.linalg.norm(lower[:, :2] - pore.box_nm[:2] / 2, axis=1))]
    d = np.linalg.norm(lower - c0, axis=1)
    nb = lower[np.argsort(d)[1:3]]
    assert np.allclose(d[np.argsort(d)[1:3]], 0.142, atol=1e-4)  # two bonded neighbours
    hexagon = c0[:2] + (nb[0, :2] - c0[:2]) + (nb[1, :2] - c0[:2])
    bond_mid = (c0[:2] + nb[0, :2]) / 2
    want = _min_over_z(pore, bond_mid, calc) - _min_over_z(pore, hexagon, calc)
    assert want > 0.05
    assert res.barrier_eV == pytest.approx(want, abs=0.01)


def test_e5_mlip_is_registered():
    assert "E5-MLIP" in registry()


@pytest.mark.skipif(not HAVE_ML, reason='needs pip install -e ".[test]" (ml extra)')
def test_e5_mlip_smoke_through_the_cli(tmp_path):
    import pandas as pd

    from predesolv.cli import main

    out = tmp_path / "e5m"
    assert main(["study", "e5-mlip", "--size", "smoke", "--out", str(out)]) == 0
    result = StudyResult.read(out)
    rows = pd.read_csv(out / "e5_mlip.csv")
    images = pd.read_csv(out / "e5_mlip_images.csv")
    for m in ("chgnet-0.3.0", "sevennet-0"):
        prof = images[images.model == m].energy_eV.to_numpy()
        assert prof[0] == 0.0 and rows[m].iloc[0] == pytest.approx(prof.max(), abs=2e-6)
        assert rows[f"residual {m}"].iloc[0] == pytest.approx(rows[m].iloc[0] - 0.25, abs=2e-6)
    gap = abs(rows["chgnet-0.3.0"] - rows["sevennet-0"]).iloc[0]
    assert rows.spread.iloc[0] == pytest.approx(gap, abs=2e-6)  # the CSV keeps 6 decimals
    assert [v.name for v in result.verdicts] == ["MLIP AB rigid sheets"]


@pytest.mark.skipif(not HAVE_ASE, reason="needs the ml extra (ase)")
def test_relaxed_end_image_carries_the_carbon_displacement_field():
    """The end of a relaxed-sheet band is the start moved one lattice vector: Na and the
    carbon distortion around it move together, so any pair potential gives the same energy."""
    from predesolv.mlip.structures import add_atoms
    from predesolv.systems.closed_pore import bilayer_cavity
    from predesolv.workflows.mlip_migration import LATTICE_NM, shifted_end
    from predesolv.workflows.pore_filling import framework_atoms

    pore = bilayer_cavity(0.5, (2, 4), stacking="AB")
    mid = float(np.mean(pore.region("cavity").z_nm))
    na = np.array([pore.box_nm[0] / 2 + 0.03, pore.box_nm[1] / 2 - 0.05, mid])
    start = add_atoms(framework_atoms(pore), "Na", [na])
    ref = pore.positions_nm
    # a distortion that depends only on the in-plane distance to the Na (periodic)
    d = ref[:, :2] - na[:2]
    d -= pore.box_nm[:2] * np.round(d / pore.box_nm[:2])
    bump = 0.02 * np.exp(-np.sum(d * d, axis=1) / 0.04) * np.sign(ref[:, 2] - mid)
    start.positions[:len(ref), 2] += bump * 10
    end = shifted_end(pore, start)
    assert np.allclose(end.positions[-1] - start.positions[-1], [0, LATTICE_NM * 10, 0])
    d_end = ref[:, :2] - (na[:2] + [0.0, LATTICE_NM])
    d_end -= pore.box_nm[:2] * np.round(d_end / pore.box_nm[:2])
    want = 0.02 * np.exp(-np.sum(d_end * d_end, axis=1) / 0.04) * np.sign(ref[:, 2] - mid)
    np.testing.assert_allclose(end.positions[:len(ref), 2] / 10 - ref[:, 2], want, atol=1e-9)
    start.calc, end.calc = _lj(), _lj()
    assert end.get_potential_energy() == pytest.approx(start.get_potential_energy(), rel=1e-9)


class _TetheredLJ:
    """Test calculator: Na–C Lennard-Jones (no C–C term) plus a harmonic tether of every
    carbon to where it was built, so relaxed sheets stay sheets (eV, Å)."""

    def __init__(self, ref_A, sigma=3.0, eps=0.02, k=2.0):
        from ase.calculators.calculator import Calculator, all_changes

        outer = self

        class Calc(Calculator):
            implemented_properties = ["energy", "forces"]

            def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
                super().calculate(atoms, properties, system_changes)
                pos = self.atoms.get_positions()
                cell = np.diag(self.atoms.cell)
                c, na = pos[:-1], pos[-1]
                d = c - na
                d -= cell * np.round(d / cell)
                r2 = np.sum(d * d, axis=1)
                sr6 = (outer.sigma**2 / r2) ** 3
                e_lj = 4 * outer.eps * (sr6 * sr6 - sr6)
                dedr_over_r = 4 * outer.eps * (-12 * sr6 * sr6 + 6 * sr6) / r2
                disp = c - outer.ref
                forces = np.zeros_like(pos)
                forces[:-1] = -dedr_over_r[:, None] * d - outer.k * disp
                forces[-1] = np.sum(dedr_over_r[:, None] * d, axis=0)
                self.results = {"energy": float(np.sum(e_lj) + 0.5 * outer.k * np.sum(disp**2)),
                                "forces": forces}

        self.ref, self.sigma, self.eps, self.k = ref_A, sigma, eps, k
        self.calc = Calc()


@pytest.mark.skipif(not HAVE_ASE, reason="needs the ml extra (ase)")
def test_relaxed_sheets_lower_the_barrier_and_keep_equivalent_ends():
    """Relaxed-sheet NEB with a tethered Na–C LJ: the two ends have the same energy (the end
    carries the start's carbon distortion) and relaxing the carbon lowers the barrier."""
    from predesolv.systems.closed_pore import bilayer_cavity
    from predesolv.workflows.mlip_migration import neb_barrier

    pore = bilayer_cavity(0.4, (2, 4), stacking="AA")
    calc = _TetheredLJ(pore.positions_nm * 10).calc
    rigid = neb_barrier(0.4, calc, stacking="AA", n_images=3, fmax=0.02, max_steps=300)
    relaxed = neb_barrier(0.4, calc, stacking="AA", n_images=3, fmax=0.02, max_steps=300,
                          relax_carbon=True)
    assert rigid.converged and relaxed.converged
    assert relaxed.image_energies_eV[-1] == pytest.approx(0.0, abs=2e-3)
    assert rigid.barrier_eV > 0.05
    assert relaxed.barrier_eV < rigid.barrier_eV - 1e-3
