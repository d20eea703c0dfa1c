"""Study E0 (Na filling of closed pores at 0 K): geometry, the filling bookkeeping, resume,
the barrier and square-law definitions, and a real (tiny) run with an MLIP.

Expected values are computed here independently of the code under test: carbon geometry from
the graphene lattice constants and minimum-image distances, H(n) from fresh single points of
the recorded structures, the barrier and fit from hand-made sequences.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from predesolv.errors import BuildError, ConfigError
from predesolv.studies import registry
from predesolv.studies.result import StudyResult
from predesolv.systems.closed_pore import bilayer_cavity, stepped_pore
from predesolv.workflows.pore_filling import (
    FillLog,
    FillSettings,
    bcc_sodium_eV,
    fill_region,
    framework_atoms,
    nucleation_barrier,
    square_law,
)

HAVE_ASE = importlib.util.find_spec("ase") is not None
HAVE_ML = all(importlib.util.find_spec(m) is not None for m in ("ase", "torch", "sevenn", "dftd3"))
needs_ase = pytest.mark.skipif(not HAVE_ASE, reason="needs the ml extra (ase)")
needs_ml = pytest.mark.skipif(not HAVE_ML, reason='needs pip install -e ".[test]" (ml extra)')


def _min_image(a: np.ndarray, b: np.ndarray, box: np.ndarray) -> np.ndarray:
    d = a[:, None, :] - b[None, :, :]
    d -= box * np.round(d / box)
    return np.linalg.norm(d, axis=-1)


@pytest.mark.parametrize("spacing", [0.335, 0.5, 0.82, 2.18])
@pytest.mark.parametrize("n_cells", [(2, 4), (3, 5)])
def test_bilayer_cavity_geometry(spacing, n_cells):
    pore = bilayer_cavity(spacing, n_cells, vacuum_nm=1.5)
    n_sheet = 4 * n_cells[0] * n_cells[1]
    assert pore.symbols == ("C",) * (2 * n_sheet)
    box = pore.box_nm
    np.testing.assert_allclose(box, [n_cells[0] * 3 * 0.142, n_cells[1] * np.sqrt(3) * 0.142,
                                     spacing + 1.5], atol=1e-3)
    z = np.sort(np.unique(np.round(pore.positions_nm[:, 2], 6)))
    np.testing.assert_allclose(z, [0.75, 0.75 + spacing], atol=1e-6)
    lower = pore.positions_nm[pore.positions_nm[:, 2] < 0.75 + spacing / 2]
    d = _min_image(lower, lower, box)
    np.fill_diagonal(d, np.inf)
    # every carbon of a periodic sheet has exactly three neighbours at 0.142 nm
    assert np.all(np.sum(np.abs(d - 0.142) < 1e-4, axis=1) == 3)
    assert d.min() == pytest.approx(0.142, abs=1e-4)
    region = pore.region("cavity")
    assert region.spacing_nm == pytest.approx(spacing)
    with pytest.raises(BuildError, match="orifice"):
        pore.region("orifice")


def test_stepped_pore_geometry():
    pore = stepped_pore(0.5, 1.82, narrow_cells=3, wide_cells=4, gap_cells=1, n_y=4)
    pos, box = pore.positions_nm, pore.box_nm
    sym = np.array(pore.symbols)
    c, h = pos[sym == "C"], pos[sym == "H"]
    # lower sheet 9 x 4 cells, ribbons 3 x 4 and 4 x 4 cells; one H per edge carbon: a
    # zigzag ribbon has 1 edge carbon per cell along y at each of its two ends
    assert len(c) == 4 * 4 * (9 + 3 + 4)
    assert len(h) == 2 * 2 * 4
    d_hc = _min_image(h, c, box)
    assert np.all(np.sum(np.abs(d_hc - 0.109) < 1e-3, axis=1) == 1)
    d_all = _min_image(pos, pos, box)
    np.fill_diagonal(d_all, np.inf)
    assert d_all.min() > 0.1
    narrow, cavity = pore.region("orifice"), pore.region("cavity")
    assert narrow.spacing_nm == pytest.approx(0.5) and cavity.spacing_nm == pytest.approx(1.82)
    assert narrow.x_nm[1] < cavity.x_nm[0] and cavity.x_nm[1] < box[0]
    with pytest.raises(BuildError, match="narrow < wide"):
        stepped_pore(1.0, 0.8)


def test_nucleation_barrier_definition():
    b = nucleation_barrier([0.2, 0.5, 0.3, -0.1, 0.4])
    assert (b.value_eV, b.n_peak, b.n_grow) == (0.5, 2, 4)  # what comes after growth is ignored
    b = nucleation_barrier([-0.3, 0.6])
    assert (b.value_eV, b.n_peak, b.n_grow) == (0.0, 0, 1)
    b = nucleation_barrier([0.1, 0.25, 0.2])
    assert (b.value_eV, b.n_peak, b.n_grow) == (0.25, 2, None)  # a lower bound
    with pytest.raises(ValueError):
        nucleation_barrier([])


def test_square_law_recovers_exact_coefficients():
    d = np.array([0.82, 1.05, 1.19, 1.48, 1.82, 2.18])
    fit = square_law(d, 0.3 * d ** 2 - 0.1)
    assert fit["a_eV_per_nm2"] == pytest.approx(0.3) and fit["c_eV"] == pytest.approx(-0.1)
    assert fit["r2"] == pytest.approx(1.0)
    noisy = square_law(d, 0.3 * d ** 2 - 0.1 + np.array([0.05, -0.05, 0.05, -0.05, 0.05, -0.05]))
    assert 0.9 < noisy["r2"] < 1.0


def _lj_calc(sigma=3.3):
    from ase.calculators.lj import LennardJones

    return LennardJones(sigma=sigma, epsilon=0.05, rc=7.0, smooth=True)


@needs_ase
def test_bcc_reference_is_the_minimum_of_a_fine_scan():
    from ase.build import bulk

    calc = _lj_calc()
    e, a = bcc_sodium_eV(calc)
    grid = np.linspace(3.9, 4.6, 701)
    energies = []
    for x in grid:
        atoms = bulk("Na", "bcc", a=float(x))
        atoms.calc = calc
        energies.append(atoms.get_potential_energy())
    assert 0 < int(np.argmin(energies)) < len(grid) - 1  # a minimum inside the scan
    assert a == pytest.approx(grid[int(np.argmin(energies))], abs=2e-3)
    assert e == pytest.approx(min(energies), abs=1e-5)
    with pytest.raises(ConfigError, match="no bcc Na minimum"):
        bcc_sodium_eV(_lj_calc(sigma=2.9))  # its minimum lies below the scanned range


@needs_ase
def test_h_of_n_is_the_difference_of_fresh_single_points(tmp_path):
    pore = bilayer_cavity(0.82, (2, 4))
    calc, mu = _lj_calc(), -0.3
    s = FillSettings(candidates=3, n_relax=2, fmax_eV_per_A=0.02, max_steps=200)
    steps = fill_region(pore, "cavity", calc, mu, 3, s, seed=5)
    energies = []
    for k in range(4):
        atoms = framework_atoms(pore)
        if k:
            from ase import Atoms

            atoms += Atoms("Na" * k, positions=np.array(steps[k - 1].na_nm) * 10)
        atoms.calc = calc
        energies.append(atoms.get_potential_energy())
    for k, step in enumerate(steps, start=1):
        assert step.n == k and len(step.na_nm) == k
        assert step.energy_eV == pytest.approx(energies[k], abs=1e-6)
        assert step.H_eV == pytest.approx(energies[k] - energies[k - 1] - mu, abs=1e-6)
        assert step.converged and step.screened == 3 and step.relaxed == 2
        z = np.array(step.na_nm)[:, 2]
        assert np.all((z > 0.75) & (z < 0.75 + 0.82))  # every Na stays between the sheets


@needs_ase
def test_a_resumed_path_equals_an_uninterrupted_one(tmp_path):
    pore = bilayer_cavity(1.05, (2, 4))
    calc = _lj_calc()
    s = FillSettings(candidates=2, n_relax=1, fmax_eV_per_A=0.05, max_steps=100)
    straight = fill_region(pore, "cavity", calc, 0.0, 3, s, seed=2)
    log = FillLog(tmp_path / "progress.jsonl")
    fill_region(pore, "cavity", calc, 0.0, 2, s, seed=2, on_step=log.recorder("lj", "c"))
    assert [st.n for st in log.steps("lj", "c")] == [1, 2]
    resumed = fill_region(pore, "cavity", calc, 0.0, 3, s, seed=2, done=log.steps("lj", "c"),
                          on_step=log.recorder("lj", "c"))
    assert len(log.path.read_text().splitlines()) == 3
    for a, b in zip(straight, resumed, strict=True):
        assert a.H_eV == pytest.approx(b.H_eV, abs=1e-6)
        np.testing.assert_allclose(a.na_nm, b.na_nm, atol=1e-5)
    assert log.steps("other", "c") == []


def test_e0_is_registered():
    assert "E0" in registry()


@needs_ml
def test_e0_smoke_through_the_cli(tmp_path):
    """``predesolv study E0 --size smoke`` with both MLIPs for real; H(1) and H(2) recomputed
    here from fresh single points of the recorded structures and the bcc reference."""
    from ase import Atoms

    from predesolv.cli import main
    from predesolv.mlip import load_calculator

    out = tmp_path / "e0"
    assert main(["study", "e0", "--size", "smoke", "--out", str(out)]) == 0
    result = StudyResult.read(out)
    assert result.study == "E0" and result.size == "smoke"
    lines = [json.loads(x) for x in (out / "e0_progress.jsonl").read_text().splitlines()]
    assert {x["model"] for x in lines} == {"chgnet-0.3.0", "sevennet-0"}
    calc = load_calculator("sevennet-0", dispersion="d3zero")
    mu = result.number("mu_Na_bcc", "sevennet-0").value
    steps = [x["step"] for x in lines if x["model"] == "sevennet-0" and x["path"] == "cavity 0.820"]
    energies = []
    for k in range(3):
        atoms = framework_atoms(bilayer_cavity(0.82))
        if k:
            atoms += Atoms("Na" * k, positions=np.array(steps[k - 1]["na_nm"]) * 10)
        atoms.calc = calc
        energies.append(atoms.get_potential_energy())
    for k in (1, 2):
        assert steps[k - 1]["H_eV"] == pytest.approx(energies[k] - energies[k - 1] - mu, abs=1e-4)
    h1 = next(r for r in result.rows if r["quantity"] == "H_1" and r["spacing_nm"] == 0.82)
    assert h1["sevennet-0"] == pytest.approx(steps[0]["H_eV"], abs=1e-9)
    assert h1["spread"] == pytest.approx(abs(h1["sevennet-0"] - h1["chgnet-0.3.0"]), abs=1e-9)
    assert 4.0 < result.number("a_bcc", "sevennet-0").value < 4.5
    assert {v.name for v in result.verdicts} >= {"orifice_intercalation", "orifice",
                                                 "lone_na_check"}
    assert (out / "e0.png").stat().st_size > 10_000


def test_e0_smoke_config_is_valid():
    from predesolv.studies.e0 import PoreFillingConfig

    for size in ("smoke", "paper"):
        path = Path(__file__).parents[1] / "studies" / "E0" / size / "e0.yaml"
        cfg = PoreFillingConfig(**yaml.safe_load(path.read_text()))
        assert cfg.models == ["chgnet-0.3.0", "sevennet-0"] and cfg.dispersion == "d3zero"


def _dihedral_deg(p0, p1, p2, p3):
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1 = b1 / np.linalg.norm(b1)
    v, w = b0 - np.dot(b0, b1) * b1, b2 - np.dot(b2, b1) * b1
    return np.degrees(np.arctan2(np.dot(np.cross(b1, v), w), np.dot(v, w))) % 360


@needs_ase
@pytest.mark.parametrize("name", ["ttt", "tgt", "ttg", "tgg'"])
def test_dme_conformers_have_their_dihedrals_and_keep_every_bond(name):
    from predesolv.mlip import molecule_atoms
    from predesolv.workflows.molecule_check import DME_CONFORMERS, DME_DIHEDRALS, dme_conformer

    ref = molecule_atoms("DME").positions
    pos = dme_conformer(name).positions
    for d, want in zip(DME_DIHEDRALS, DME_CONFORMERS[name], strict=True):
        assert _dihedral_deg(*pos[list(d)]) == pytest.approx(want % 360, abs=1e-6)
    # every interatomic distance within a rigid fragment is kept: all bonded pairs
    dist = lambda p: np.linalg.norm(p[:, None] - p[None], axis=-1)  # noqa: E731
    bonded = dist(ref) < 0.16 * 10
    np.testing.assert_allclose(dist(pos)[bonded], dist(ref)[bonded], atol=1e-9)
    assert dist(pos)[~np.eye(16, dtype=bool)].min() > 0.9  # no clash (Å)


def _bar_row(d, a, b, remark=""):
    return {"part": "filling", "case": f"bilayer cavity {d:.2f} nm", "spacing_nm": d,
            "quantity": "barrier", "unit": "eV", "A": a, "B": b, "spread": abs(a - b),
            "all_converged": True, "remark": remark}


def test_e0_verdicts_follow_the_numbers():
    """Hand-made rows: both models' barriers grow with the cavity -> reproduced; one model
    without any barrier -> the models disagree, no verdict; a failed relaxation -> none."""
    from predesolv.studies.e0_report import verdicts

    d = [0.82, 1.05, 1.48, 1.82]
    grow = [_bar_row(x, 0.1 * x ** 2, 0.2 * x ** 2 + 0.01) for x in d]
    v = {x.name: x for x in verdicts(grow, ["A", "B"], [])}["barrier_vs_cavity"]
    assert v.ok is True and "reproduced by every model" in v.sentence
    flat = [_bar_row(x, 0.1 * x ** 2, 0.0) for x in d]
    v = {x.name: x for x in verdicts(flat, ["A", "B"], [])}["barrier_vs_cavity"]
    assert v.ok is None and "disagree" in v.sentence and "the same at every size" in v.sentence
    falling = [_bar_row(x, 1.0 - 0.1 * x, 1.0 - 0.2 * x) for x in d]
    v = {x.name: x for x in verdicts(falling, ["A", "B"], [])}["barrier_vs_cavity"]
    assert v.ok is False
    broken = [dict(r, all_converged=(i != 2)) for i, r in enumerate(grow)]
    v = {x.name: x for x in verdicts(broken, ["A", "B"], [])}["barrier_vs_cavity"]
    assert v.ok is None and v.sentence.startswith("not converged")
    inter = [{"part": "intercalation", "case": "", "spacing_nm": x, "quantity": "H",
              "unit": "eV", "A": -0.2, "B": (0.1 if x == 0.40 else -0.3), "spread": 0.0,
              "all_converged": True, "remark": ""} for x in (0.335, 0.40, 0.50, 0.70, 0.82)]
    v = {x.name: x for x in verdicts(inter, ["A", "B"], [])}["orifice_intercalation"]
    # only 0.40-0.70 nm are judged (0.335 and 0.82 are contrasts): B is positive at 0.40
    assert v.ok is None and "[0.4, 0.5, 0.7]" in v.sentence


@needs_ml
def test_the_documented_reference_setup_gives_the_committed_number():
    """docs/mlip.md's reproduction recipe (one Na, 0.45 nm, SevenNet-0 + D3 zero) against the
    committed E0 paper row and the number printed in the docs."""
    import re

    from predesolv.mlip import load_calculator
    from predesolv.workflows.pore_filling import intercalation_enthalpy

    root = Path(__file__).parents[1]
    result = StudyResult.read(root / "docs" / "results" / "studies" / "E0-paper")
    row = next(r for r in result.rows if r["part"] == "intercalation" and r["spacing_nm"] == 0.45)
    doc = (root / "docs" / "mlip.md").read_text()
    printed = re.search(r"CHGNet (−?[0-9.]+) eV, SevenNet (−?[0-9.]+) eV", doc)
    assert printed is not None
    for m, text in zip(("chgnet-0.3.0", "sevennet-0"), printed.groups(), strict=True):
        assert float(text.replace("−", "-")) == pytest.approx(row[m], abs=5e-4)
    calc = load_calculator("sevennet-0", dispersion="d3zero")
    mu, _ = bcc_sodium_eV(calc)
    settings = FillSettings(candidates=6, n_relax=1, fmax_eV_per_A=0.05, max_steps=150)
    step = intercalation_enthalpy(bilayer_cavity(0.45, (2, 4)), calc, mu, settings)
    assert step.H_eV == pytest.approx(row["sevennet-0"], abs=2e-3)


def test_a_bad_e0_config_names_the_field(tmp_path):
    from predesolv.studies.e0 import run_e0

    (tmp_path / "e0.yaml").write_text("cavities_nm: [0.82]\nn_max: 0\ncolour: blue\n")
    with pytest.raises(ConfigError) as err:
        run_e0(tmp_path, tmp_path / "out", {"size": "smoke"})
    assert "n_max" in str(err.value) and "colour" in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing written
