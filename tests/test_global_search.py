"""The 0 K global search of Na+(EC)n minima (predesolv.workflows.global_search) and the
E7-search study: restraint energies against hand-computed ones, the reported energy is the
unbiased force field's (recomputed on a fresh System), convergence and Boltzmann values from
hand-made minima, and the smoke study's tables recomputed from its own minima file."""

from __future__ import annotations

import math

import numpy as np
import openmm
import pandas as pd
import pytest
from openmm import app, unit

from predesolv.cli import main
from predesolv.studies import StudyResult
from predesolv.workflows.global_search import (
    K_HOLD,
    AnnealProtocol,
    add_holds,
    anneal_cluster,
    boltzmann_energy,
    convergence_rows,
)
from predesolv.workflows.stepwise import Minimum, Slab, build_system, gas_phase

EV = 96.48533212  # kJ/mol per eV (CODATA), typed here, not imported
KB = 0.0083144626  # kJ/mol/K


def _energy(system: openmm.System, xyz: np.ndarray, k_hold: float | None = None) -> float:
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(xyz * unit.nanometer)
    if k_hold is not None:
        ctx.setParameter(K_HOLD, k_hold)
    return ctx.getState(getEnergy=True).getPotentialEnergy().value_in_unit(
        unit.kilojoule_per_mole)


def test_hold_restraints_have_the_flat_bottom_energies_computed_by_hand():
    """Three particles (a slab atom, Na+, one carbonyl O) in a 5 nm box: Na+ 0.5 nm across
    the surface and 1.5 nm above the site, O 0.45 nm from Na+. With the defaults (shell 0.35,
    lateral 0.30, height 1.2 nm, k 5000) the energy is 0.5 k (0.10² + 0.20² + 0.30²); inside
    every bound it is 0, and with k_hold 0 it is 0 wherever the atoms are."""
    p = AnnealProtocol()
    slab = Slab(app.Topology(), np.zeros((1, 3)), np.full(3, 5.0), np.array([2.0, 2.0, 1.0]),
                np.array([0.0, 0.0, 1.0]), "test")
    system = openmm.System()
    system.setDefaultPeriodicBoxVectors(*(openmm.Vec3(*r) for r in np.eye(3) * 5.0))
    for _ in range(3):
        system.addParticle(20.0)
    add_holds(system, slab, 1, [2], p)
    na = np.array([2.5, 2.0, 2.5])
    xyz = np.array([[0.1, 0.1, 0.1], na, na + [0.0, 0.45, 0.0]])
    want = 0.5 * p.k_hold * (0.10**2 + 0.20**2 + 0.30**2)
    assert _energy(system, xyz, p.k_hold) == pytest.approx(want, rel=1e-6)
    inside = np.array([[0.1, 0.1, 0.1], [2.1, 2.2, 1.9], [2.1, 2.5, 1.9]])
    assert _energy(system, inside, p.k_hold) == pytest.approx(0.0, abs=1e-9)
    assert _energy(system, xyz, 0.0) == pytest.approx(0.0, abs=1e-9)


def test_annealed_minima_are_unbiased_force_field_minima():
    """Gas-phase Na+(EC)2, two annealed starts on Reference: each reported energy equals
    the energy of its positions on a System built afresh without the restraints, its
    largest force is that of a minimum (< 50 kJ/mol/nm, tolerance 1), both EC stay bound,
    and the same seed gives the same minima."""
    protocol = AnnealProtocol(steps=400, segments=4)
    minima = anneal_cluster(gas_phase(), 2, 2, seed=3, platform="Reference",
                            protocol=protocol)
    again = anneal_cluster(gas_phase(), 2, 2, seed=3, platform="Reference",
                           protocol=protocol)
    assert [m.energy_kJ_per_mol for m in minima] == [m.energy_kJ_per_mol for m in again]
    system, _, _ = build_system(gas_phase(), 2)
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    for m in minima:
        assert m.n_bound == 2
        ctx.setPositions(m.positions_nm * unit.nanometer)
        st = ctx.getState(getEnergy=True, getForces=True)
        e = st.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        assert e == pytest.approx(m.energy_kJ_per_mol, abs=1e-4)
        f = st.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
        assert np.abs(np.asarray(f)).max() < 50.0


def test_convergence_rows_and_boltzmann_from_hand_made_minima():
    """Lowest fully bound minimum among the first N starts (an unbound lower one ignored),
    the change between counts in eV, stable only at the last count and only within 0.02 eV;
    the Boltzmann value of 0, 0.01 (the same minimum) and 2 kJ/mol at 300 K is
    -kT ln(1 + exp(-2/kT))."""
    mins = {3: [Minimum(-100.0, 3, 0), Minimum(-150.0, 2, 1), Minimum(-101.0, 3, 5),
                Minimum(-101.5, 3, 20)],
            2: [Minimum(-50.0, 2, 0), Minimum(-50.0 - 0.03 * EV, 2, 9)]}
    rows = {(r["n_EC"], r["n_starts"]): r for r in convergence_rows(mins, [4, 8, 32], "s")}
    assert rows[(3, 4)]["E_lowest_kJ_per_mol"] == -100.0
    assert rows[(3, 8)]["E_lowest_kJ_per_mol"] == -101.0
    assert rows[(3, 32)]["change_eV"] == pytest.approx(-0.5 / EV)
    assert rows[(3, 32)]["stable"] and not rows[(3, 8)]["stable"]
    assert rows[(2, 32)]["change_eV"] == pytest.approx(-0.03, rel=1e-6)
    assert not rows[(2, 32)]["stable"]
    kt = KB * 300.0
    assert boltzmann_energy([0.0, 0.01, 2.0, math.nan], 300.0) == pytest.approx(
        -kt * math.log(1.0 + math.exp(-2.0 / kt)), rel=1e-4)
    assert math.isnan(boltzmann_energy([], 300.0))


def test_e7_search_smoke_tables_follow_from_its_minima(tmp_path):
    """The smoke study's convergence rows and eq. 1 steps, recomputed here from
    e7_minima.csv and E[EC] in study.json; a resumed run reads its parts and writes the same
    tables."""
    out = tmp_path / "s"
    assert main(["study", "E7-search", "--size", "smoke", "--out", str(out)]) == 0
    minima = pd.read_csv(out / "e7_minima.csv")
    conv = pd.read_csv(out / "e7_convergence.csv")
    steps = pd.read_csv(out / "e7_search_steps.csv")
    e_ec = StudyResult.read(out).number("E_EC_kJ_per_mol").value
    assert set(conv.method) == {"random", "anneal"} and len(conv) == 2 * 2 * 2
    for r in conv.itertuples():
        m = minima[(minima.method == r.method) & (minima.n_EC == r.n_EC)
                   & (minima.n_bound == r.n_EC) & (minima.start < r.n_starts)]
        assert r.E_lowest_kJ_per_mol == pytest.approx(m.energy_kJ_per_mol.min(), abs=1e-5)
    for r in steps.itertuples():
        m = minima[minima.method == r.method]
        lo = m[(m.n_EC == 2) & (m.n_bound == 2)].energy_kJ_per_mol.min()
        hi = m[(m.n_EC == 3) & (m.n_bound == 3)].energy_kJ_per_mol.min()
        assert r.step == "3->2 EC"
        assert r.E_desolv_eV == pytest.approx((lo + e_ec - hi) / EV, abs=1e-5)
    before = (out / "e7_search_steps.csv").read_text()
    assert main(["study", "E7-search", "--size", "smoke", "--out", str(out),
                 "--resume"]) == 0
    assert (out / "e7_search_steps.csv").read_text() == before


def test_a_stable_plateau_above_another_methods_minimum_is_not_converged():
    """Hand-made last-count rows: random is stable at -100 kJ/mol for 3 EC but anneal found
    -110 (0.104 eV lower): random's 3 EC is not converged, anneal's is (stable and the
    lowest); the 3->2 step row of random is not converged, anneal's is; one verdict names
    random's 3 EC."""
    from predesolv.studies.e7_search import agree_across_methods

    def row(method, k, e, stable=True):
        return {"surface": "s", "method": method, "n_EC": k, "n_starts": 32,
                "E_lowest_kJ_per_mol": e, "stable": stable}

    conv = [row("random", 3, -100.0), row("random", 2, -50.0),
            row("anneal", 3, -110.0), row("anneal", 2, -50.0 + 0.01 * EV),
            {**row("random", 3, -90.0, False), "n_starts": 16}]
    steps = [{"surface": "s", "method": m, "step": "3->2 EC", "converged": True}
             for m in ("random", "anneal")]
    (verdict,) = agree_across_methods(conv, steps, [16, 32])
    assert conv[0]["above_best_eV"] == pytest.approx(10.0 / EV)
    assert [r["converged"] for r in conv] == [False, True, True, True, False]
    assert math.isnan(conv[4]["above_best_eV"])
    assert [s["converged"] for s in steps] == [False, True]
    assert not verdict.ok and "3 EC: random 0.104 eV above" in verdict.sentence


def test_start_k_is_the_same_whether_the_search_starts_at_zero_or_at_k():
    """placed_starts(first_start=2) yields starts 2 and 3 with exactly the positions a run of
    all four draws for them (what extending a finished search rests on)."""
    from predesolv.workflows.stepwise import placed_starts

    gas = gas_phase()
    full = dict(placed_starts(gas, 3, 4, seed=7))
    tail = dict(placed_starts(gas, 3, 4, seed=7, first_start=2))
    assert sorted(tail) == [2, 3] and sorted(full) == [0, 1, 2, 3]
    for i in (2, 3):
        np.testing.assert_array_equal(tail[i], full[i])
    assert not np.allclose(full[2], full[3])


def test_raising_the_start_count_extends_the_parts_and_lowering_it_reads_fewer(tmp_path):
    """A finished search (counts 1, 2) resumed with counts 1, 2, 4 runs starts 2 and 3 only:
    its parts keep the rows of starts 0 and 1 unchanged and say 4 starts were tried, and the
    convergence row at 4 is the lowest bound minimum of all four (before, a resumed study
    reported the 2-start minimum as the 4-start one). Resumed with counts 1, 2 again, the
    study reads only starts 0 and 1 and writes the first run's steps."""
    from predesolv.studies.e7_search import PARTS, run_e7_search

    def write(counts):
        (cfg / "search.yaml").write_text(
            f"surfaces: [{{kind: gas}}]\nmethods: [random, anneal]\ncounts: {counts}\n"
            "n_ec: [2, 3]\nseed: 1\nanneal: {duration_ps: 0.1}\n")

    cfg, out = tmp_path / "cfg", tmp_path / "out"
    cfg.mkdir()
    write([1, 2])
    opts = {"size": "smoke", "study": "E7-search"}
    run_e7_search(cfg, out, opts)
    first = {p.name: pd.read_csv(p) for p in sorted((out / PARTS).glob("*.csv"))}
    steps = (out / "e7_search_steps.csv").read_text()
    assert len(first) == 4 and all(set(d.start) == {0, 1} for d in first.values())
    write([1, 2, 4])
    run_e7_search(cfg, out, opts | {"resume": True})
    minima = pd.read_csv(out / "e7_minima.csv")
    for name, before in first.items():
        after = pd.read_csv(out / PARTS / name)
        assert set(after.start) == {0, 1, 2, 3} and set(after.n_starts) == {4}
        pd.testing.assert_frame_equal(after[after.start < 2][before.columns[:5]],
                                      before[before.columns[:5]])
    conv = pd.read_csv(out / "e7_convergence.csv")
    for r in conv[conv.n_starts == 4].itertuples():
        m = minima[(minima.method == r.method) & (minima.n_EC == r.n_EC)
                   & (minima.n_bound == r.n_EC)]
        assert len(minima[(minima.method == r.method) & (minima.n_EC == r.n_EC)]) == 4
        assert r.E_lowest_kJ_per_mol == pytest.approx(m.energy_kJ_per_mol.min(), abs=1e-5)
    write([1, 2])
    run_e7_search(cfg, out, opts | {"resume": True})
    assert set(pd.read_csv(out / "e7_minima.csv").start) == {0, 1}
    assert (out / "e7_search_steps.csv").read_text() == steps


def test_a_stopped_search_keeps_its_minima_and_resume_goes_on_from_the_next_start(
        tmp_path, monkeypatch):
    """A stop (--stop-after, SIGTERM) during a search part: the part holds every start
    finished before it (written as each was found, n_starts = 1), the study raises
    Interrupted naming the part, and --resume runs only the starts after it. The random
    search's minima then equal an uninterrupted run's (same starts; Reference minimiser).
    A stop time already past stops before the first start and writes nothing. (Parts run
    the larger cluster first: 2 EC is the part under way when the stop comes.)"""
    from predesolv.errors import Interrupted
    from predesolv.stage_io import STOP_AT_ENV, InterruptFlag
    from predesolv.studies.e7_search import PARTS, run_e7_search

    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "search.yaml").write_text("surfaces: [{kind: gas}]\nmethods: [random]\n"
                                     "counts: [1, 3]\nn_ec: [1, 2]\nseed: 4\n")
    opts = {"size": "smoke", "study": "E7-search", "platform": "Reference"}
    run_e7_search(cfg, tmp_path / "whole", opts)
    whole = pd.read_csv(tmp_path / "whole" / PARTS / "search-0-random-2.csv")
    assert list(whole.start) == [0, 1, 2] and set(whole.n_starts) == {3}

    asked = []
    real = InterruptFlag.requested

    def stop_before_the_second_start(self):
        asked.append(1)
        if len(asked) == 2:
            self.set = True
        return real(self)

    out = tmp_path / "out"
    part = out / PARTS / "search-0-random-2.csv"
    with monkeypatch.context() as m:
        m.setattr(InterruptFlag, "requested", stop_before_the_second_start)
        with pytest.raises(Interrupted, match="stopped after 1 of 3 starts") as err:
            run_e7_search(cfg, out, opts)
    assert str(part) in err.value.what and "--resume" in err.value.advice
    kept = pd.read_csv(part)
    assert list(kept.start) == [0] and set(kept.n_starts) == {1}
    assert kept.energy_kJ_per_mol[0] == pytest.approx(whole.energy_kJ_per_mol[0], abs=1e-6)
    assert not (out / PARTS / "search-0-random-1.csv").exists()  # not started
    run_e7_search(cfg, out, opts | {"resume": True})
    for k in (1, 2):
        name = f"search-0-random-{k}.csv"
        resumed, one_go = pd.read_csv(out / PARTS / name), pd.read_csv(
            tmp_path / "whole" / PARTS / name)
        assert set(resumed.n_starts) == {3}
        pd.testing.assert_frame_equal(resumed[one_go.columns[:5]],
                                      one_go[one_go.columns[:5]], atol=1e-6)
    monkeypatch.setenv(STOP_AT_ENV, "1.0")  # 1970: already past
    with pytest.raises(Interrupted, match="stopped after 0 of 3 starts"):
        run_e7_search(cfg, tmp_path / "late", opts)
    assert not (tmp_path / "late" / PARTS / "search-0-random-2.csv").exists()


def test_a_part_of_another_surface_is_refused(tmp_path):
    """Parts are named by the surface's place in the config: after the surfaces were
    reordered, a resumed study would report the minima of one surface under another. The
    part's own surface is checked, and the message says how to go on."""
    from predesolv.errors import RunDirectoryError
    from predesolv.studies.e7 import SurfaceSpec
    from predesolv.studies.e7_search import PARTS, run_e7_search

    assert SurfaceSpec(kind="face_on", edge="armchair", dopant="n_oxide").label == \
        "n_oxide (armchair edge, face-on)"
    assert SurfaceSpec(kind="edge_on").label == "pristine (zigzag edge, edge-on)"
    assert SurfaceSpec(kind="gas").label == "gas"
    cfg, out = tmp_path / "cfg", tmp_path / "out"
    cfg.mkdir()
    (cfg / "search.yaml").write_text("surfaces: [{kind: gas}]\nmethods: [random]\n"
                                     "counts: [1, 2]\nn_ec: [1, 2]\nseed: 4\n")
    (out / PARTS).mkdir(parents=True)
    pd.DataFrame([{"surface": "pristine (zigzag edge, face-on)", "n_EC": 2, "start": s,
                   "energy_kJ_per_mol": -500.0, "n_bound": 2, "n_starts": 2}
                  for s in (0, 1)]).to_csv(out / PARTS / "search-0-random-2.csv", index=False)
    with pytest.raises(RunDirectoryError, match=r"holds the minima of pristine \(zigzag "
                       r"edge, face-on\), but the config now has gas in that place"):
        run_e7_search(cfg, out, {"size": "smoke", "study": "E7-search", "resume": True,
                                 "platform": "Reference"})
    assert not (out / "e7_search_steps.csv").exists()


@pytest.mark.parametrize(("edge", "e7_index", "search_index", "mirror"),
                         [("zigzag", 5, 0, False), ("armchair", 6, 2, True)])
def test_e7_search_face_on_slab_is_e7s_translated_along_the_edge(edge, e7_index,
                                                                 search_index, mirror):
    """paper_comparison sets E7's face-on N-oxide 3->2 steps beside E7-search's: the two
    studies build each slab from different seeds (seed 1 + the surface's index in each
    config: studies/E7/paper/static.yaml, studies/E7-search/paper/face_on.yaml), which puts
    the dopant at another place along the edge. Moved so that the sites coincide (zigzag: a
    translation; armchair: a translation and a mirror across the plane normal to the edge,
    y -> -y, because the dopant landed on the other of the edge's two N sites), every atom
    of one lands on an atom of the same element of the other (periodic box). The same
    cluster, moved the same way, has the same energy on both: a mirror image has the same
    force-field energy (no chiral terms), so both slabs have the same global minimum."""
    from scipy.spatial import cKDTree

    from predesolv.workflows.stepwise import build_system, placed_starts, surface_slab

    e7 = surface_slab(edge, "n_oxide", 1 + e7_index, face_on=True)
    search = surface_slab(edge, "n_oxide", 1 + search_index, face_on=True)
    np.testing.assert_allclose(e7.box_nm, search.box_nm)
    assert not np.allclose(e7.site_nm, search.site_nm)  # the dopant did move
    flip = np.diag([1.0, -1.0 if mirror else 1.0, 1.0])

    def to_e7(xyz):
        return ((xyz - search.site_nm) @ flip + e7.site_nm) % e7.box_nm

    d, j = cKDTree(e7.positions_nm % e7.box_nm, boxsize=e7.box_nm).query(
        to_e7(search.positions_nm))
    assert d.max() < 1e-6
    el = [a.element.symbol for a in e7.topology.atoms()]
    assert [el[i] for i in j] == [a.element.symbol for a in search.topology.atoms()]
    _, start = next(placed_starts(search, 3, 1, seed=7))
    n = len(search.positions_nm)
    on_e7 = np.vstack([e7.positions_nm, to_e7(start[n:])])
    bound = []
    for slab, xyz in ((search, start), (e7, on_e7)):
        system, _, _ = build_system(slab, 3)
        ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("Reference"))
        energy = []
        for lift_nm in (0.0, 1.2):  # the cluster where it is, and 1.2 nm further out
            ctx.setPositions(np.vstack([xyz[:n], xyz[n:] + lift_nm * slab.outward])
                             * openmm.unit.nanometer)
            energy.append(ctx.getState(getEnergy=True).getPotentialEnergy().value_in_unit(
                openmm.unit.kilojoule_per_mole))
        bound.append(energy[0] - energy[1])
    # the slab's own (frozen) PME energy depends on where it sits on the PME grid by a
    # constant that cancels in eq. 1 (both sizes on one slab); what the cluster feels
    # does not: the same to 0.01 kJ/mol (the searches' tolerance is 0.02 eV = 1.9 kJ/mol)
    assert abs(bound[1] - bound[0]) < 0.01
    assert abs(bound[0]) > 10.0  # the cluster does feel the slab


def test_a_saved_search_state_continues_elsewhere_without_searching_again(tmp_path):
    """E7-search has no MD runs: its state is its parts. ``--save-state`` packs them (before,
    it refused: 'holds no runs'), and ``--continue`` into an empty folder writes the same
    outputs from them without running a start (every part byte-identical afterwards)."""
    from predesolv.state_archive import read_state
    from predesolv.studies import run_study, save_study_state
    from predesolv.studies.e7_search import PARTS

    first, again = tmp_path / "first", tmp_path / "again"
    run_study("E7-search", "smoke", first)
    archive = tmp_path / "E7-search-smoke.tar.xz"
    state = save_study_state("E7-search", "smoke", first, archive)
    parts = sorted(p.name for p in (first / PARTS).glob("*.csv"))
    assert state.runs == [] and len(parts) == 4
    assert read_state(archive).files == state.files
    run_study("E7-search", "smoke", again, continue_from=archive)
    for name in parts:
        assert (again / PARTS / name).read_bytes() == (first / PARTS / name).read_bytes()
    pd.testing.assert_frame_equal(pd.read_csv(again / "e7_search_steps.csv"),
                                  pd.read_csv(first / "e7_search_steps.csv"), rtol=1e-9)
