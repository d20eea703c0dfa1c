"""predesolv.analysis against independent references: MDAnalysis capped_distance, InterRDF,
EinsteinMSD and solvation_analysis (same cutoffs)."""

from __future__ import annotations

import warnings
from pathlib import Path

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.coordinates.memory import MemoryReader
from MDAnalysis.lib.distances import capped_distance

from predesolv.analysis import (
    Coordination,
    Geometry,
    compute_rdfs,
    coordination_partners,
    group,
    load_run,
    msd_by_region,
    residence_times,
)
from predesolv.analysis.units import nm_to_angstrom

RUN = Path(__file__).parent / "data" / "analysis_run"


@pytest.fixture(scope="module")
def fixture_run():
    u, md = load_run(RUN)
    return u, md


@pytest.fixture(scope="module")
def random_walk():
    """8 ions and 40 two-O 'DME' + 10 three-F anions doing a random walk in a 20 A box."""
    rng = np.random.default_rng(7)
    n_ion, n_dme, n_an, nf = 8, 40, 10, 60
    L = 20.0
    n_atoms = n_ion + 2 * n_dme + 3 * n_an
    resindex = np.r_[np.arange(n_ion), n_ion + np.repeat(np.arange(n_dme), 2),
                     n_ion + n_dme + np.repeat(np.arange(n_an), 3)]
    n_res = n_ion + n_dme + n_an
    u = mda.Universe.empty(n_atoms, n_residues=n_res, atom_resindex=resindex, trajectory=True)
    u.add_TopologyAttr("name", ["NA"] * n_ion + ["O1", "O2"] * n_dme + ["F1", "F2", "F3"] * n_an)
    u.add_TopologyAttr("type", ["Na"] * n_ion + ["O"] * 2 * n_dme + ["F"] * 3 * n_an)
    u.add_TopologyAttr("resname", ["NA"] * n_ion + ["DME"] * n_dme + ["PF6"] * n_an)
    u.add_TopologyAttr("resid", np.arange(1, n_res + 1))
    centres = rng.uniform(0, L, size=(n_res, 3))
    offs = np.zeros((n_atoms, 3))
    offs[n_ion:n_ion + 2 * n_dme] = np.tile([[1.3, 0, 0], [-1.3, 0, 0]], (n_dme, 1))
    offs[n_ion + 2 * n_dme:] = np.tile([[1.5, 0, 0], [0, 1.5, 0], [0, 0, 1.5]], (n_an, 1))
    frames = np.empty((nf, n_atoms, 3), np.float32)
    for t in range(nf):
        centres = centres + rng.normal(0, 0.6, size=centres.shape)
        frames[t] = np.mod(centres[resindex] + offs, L)
    u.load_new(frames, format=MemoryReader, dimensions=[L, L, L, 90, 90, 90], dt=0.5)
    ions = u.select_atoms("resname NA")
    partners = {"DME": u.select_atoms("resname DME"), "PF6": u.select_atoms("resname PF6")}
    return u, ions, partners


def _assert_counts_equal_capped_distance(u, ions, partners, cut, co):
    """Per frame, per ion, per partner kind: counts equal MDAnalysis capped_distance (PBC)."""
    for i, ts in enumerate(u.trajectory):
        for j, (k, ag) in enumerate(partners.items()):
            pairs = capped_distance(ions.positions, ag.positions, nm_to_angstrom(cut[k]),
                                    box=ts.dimensions, return_distances=False)
            ref = np.bincount(pairs[:, 0], minlength=ions.n_atoms)
            np.testing.assert_array_equal(co.results.counts[i, :, j], ref)


def test_cn_equals_capped_distance_every_frame(fixture_run):
    u, md = fixture_run
    ions, partners = group(u, md, "cation"), coordination_partners(u, md)
    cut = {"DME": 0.30, "PF6": 0.32}
    co = Coordination(ions, partners, cutoffs_nm=cut).run()
    _assert_counts_equal_capped_distance(u, ions, partners, cut, co)
    # and the fixture's built-in truth: bulk Na(DME)3 complexes have 6 O from 3 DME
    assert (co.results.counts[:, 1, 0] == 6).all() and (co.results.n_molecules[:, 1, 0] == 3).all()
    assert (co.results.counts[:, 3, :] == [4, 1]).all()


def test_cn_equals_capped_distance_random_walk(random_walk):
    u, ions, partners = random_walk
    co = Coordination(ions, partners, cutoffs_nm={"DME": 0.35, "PF6": 0.3}).run()
    total = 0
    for i, ts in enumerate(u.trajectory):
        for j, k in enumerate(["DME", "PF6"]):
            pairs = capped_distance(ions.positions, partners[k].positions,
                                    3.5 if k == "DME" else 3.0, box=ts.dimensions)[0]
            ref = np.bincount(pairs[:, 0], minlength=ions.n_atoms)
            np.testing.assert_array_equal(co.results.counts[i, :, j], ref)
            total += ref.sum()
    assert total > 50  # the comparison is not vacuous


def _solute(ions, partners, radii_A, classes):
    sa = pytest.importorskip("solvation_analysis")
    from solvation_analysis.solute import Solute

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Solute.from_atoms(ions, partners, radii=radii_A, skip_rdf=True,
                              analysis_classes=classes)
        s.run()
    return sa, s


def test_molecule_counts_match_solvation_analysis(random_walk):
    u, ions, partners = random_walk
    cut = {"DME": 0.35, "PF6": 0.3}
    co = Coordination(ions, partners, cutoffs_nm=cut).run()
    _, s = _solute(ions, partners, {k: nm_to_angstrom(v) for k, v in cut.items()},
                   ["coordination"])
    sd = s.solvation_data.reset_index()
    counts = sd.groupby(["frame", "solute_atom_ix", "solvent"]).size()
    ours = np.zeros_like(co.results.n_molecules)
    ion_pos = {int(ix): n for n, ix in enumerate(ions.ix)}
    kind_pos = {"DME": 0, "PF6": 1}
    for (f, a, k), n in counts.items():
        ours[int(f), ion_pos[int(a)], kind_pos[k]] = n
    np.testing.assert_array_equal(co.results.n_molecules, ours)
    assert ours.sum() > 50
    for k in ("DME", "PF6"):
        mean_sa = s.coordination.coordination_numbers[k]
        assert co.results.n_molecules[:, :, kind_pos[k]].mean() == pytest.approx(mean_sa)


def test_residence_acf_matches_solvation_analysis(random_walk):
    u, ions, partners = random_walk
    cut = {"DME": 0.35, "PF6": 0.3}
    co = Coordination(ions, partners, cutoffs_nm=cut).run()
    _, s = _solute(ions, partners, {k: nm_to_angstrom(v) for k, v in cut.items()},
                   ["coordination", "residence"])
    acf, taus = residence_times(co, max_lag=20, by_region=False)
    for k in ("DME", "PF6"):
        ref = s.residence.auto_covariances[k][:21]
        ours = acf[acf["kind"] == k]["C"].to_numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)
        tau_sa = s.residence.residence_times_cutoff[k]
        tau = taus.set_index("kind").loc[k, "tau_frames"]
        assert tau == tau_sa or (np.isnan(tau) and np.isnan(tau_sa))


def test_rdf_matches_interrdf_and_integrates_to_cn(fixture_run):
    from MDAnalysis.analysis.rdf import InterRDF

    u, md = fixture_run
    ions, partners = group(u, md, "cation"), coordination_partners(u, md)
    df = compute_rdfs(ions, partners, rmax_A=8.0, bin_A=0.05)
    ref = InterRDF(ions, partners["DME"], nbins=160, range=(0.0, 8.0),
                   exclude_same="residue").run()
    ours = df[df["kind"] == "DME"]
    np.testing.assert_allclose(ours["g"], ref.results.rdf)
    np.testing.assert_allclose(ours["r_nm"] * 10.0, ref.results.bins)
    # cumulative count at a bin edge = mean CN from Coordination with that cutoff
    co = Coordination(ions, partners, cutoffs_nm={"DME": 0.30, "PF6": 0.30}).run()
    edge_idx = int(round(3.0 / 0.05)) - 1  # bins [0, 3.0 A)
    assert ours["n_cumulative"].iloc[edge_idx] == pytest.approx(co.results.counts[..., 0].mean())
    cut = df.attrs["cutoffs_nm"]
    assert 0.26 < cut["DME"] < 0.35  # first minimum after the 0.24 nm peak


def test_msd_matches_einstein_msd(random_walk):
    from MDAnalysis.analysis.msd import EinsteinMSD

    u, ions, _ = random_walk
    msd, diff = msd_by_region(u, ions, Geometry(), dt_ps=0.5, max_lag=20)
    allr = msd[msd["region"] == "all"]
    # EinsteinMSD needs an unwrapped trajectory: rebuild one from the true random walk
    from predesolv.analysis.transport import unwrapped_positions

    X, _, _ = unwrapped_positions(u, ions)
    uu = mda.Universe.empty(ions.n_atoms, trajectory=True)
    uu.load_new(X.astype(np.float32), format=MemoryReader, dt=0.5)
    ref = EinsteinMSD(uu, select="all", msd_type="xyz", fft=False).run()
    lags = (allr["lag_ps"] / 0.5).round().astype(int).to_numpy()
    np.testing.assert_allclose(allr["msd_3d_nm2"] * 100.0, ref.results.timeseries[lags],
                               rtol=1e-5)
    # random walk with sigma 0.6 A per step and axis: D = 0.36/(2*0.5 ps) A^2/ps = 3.6e-9 m^2/s
    D = diff.set_index("region").loc["all", "D_3d_m2_s"]
    assert 1.5e-9 < D < 6e-9


def test_unwrapping_across_boundary():
    L = 10.0
    nf = 30
    x = (1.0 + 0.7 * np.arange(nf)) % L  # crosses the box edge twice
    pos = np.zeros((nf, 1, 3), np.float32)
    pos[:, 0, 0] = x
    pos[:, 0, 1:] = 5.0
    u = mda.Universe.empty(1, trajectory=True)
    u.load_new(pos, format=MemoryReader, dimensions=[L, L, L, 90, 90, 90], dt=1.0)
    msd, diff = msd_by_region(u, u.atoms, Geometry(), dt_ps=1.0, max_lag=10)
    allr = msd[msd["region"] == "all"]
    np.testing.assert_allclose(allr["msd_3d_nm2"] * 100.0, (0.7 * allr["lag_ps"]) ** 2, rtol=1e-4)
    np.testing.assert_allclose(allr["msd_2d_nm2"] * 100.0, (0.7 * allr["lag_ps"]) ** 2, rtol=1e-4)


REAL = Path(__file__).parent / "data" / "napf6_dme_run"


@pytest.mark.skipif(not (REAL / "trajectory.dcd").exists(), reason="real-run fixture absent")
def test_real_predesolv_run_matches_capped_distance_and_solvation_analysis():
    """A short NaPF6/DME production run written by the predesolv runner (see README)."""
    u, md = load_run(REAL)
    ions, partners = group(u, md, "cation"), coordination_partners(u, md)
    cut = {"DME": 0.31, "PF6": 0.31}
    co = Coordination(ions, partners, cutoffs_nm=cut).run()
    _assert_counts_equal_capped_distance(u, ions, partners, cut, co)
    assert co.results.counts[..., 0].mean() > 2.0  # Na is solvated by ether O
    _, s = _solute(ions, partners, {k: nm_to_angstrom(v) for k, v in cut.items()},
                   ["coordination"])
    for k, j in (("DME", 0), ("PF6", 1)):
        assert co.results.n_molecules[:, :, j].mean() == pytest.approx(
            s.coordination.coordination_numbers.get(k, 0.0))
    rdf = compute_rdfs(ions, {"DME": partners["DME"]})
    assert 0.26 < rdf.attrs["cutoffs_nm"]["DME"] < 0.36


@pytest.mark.parametrize("run", [RUN, REAL])
def test_batch_size_does_not_change_results(run):
    """Frames buffered 3 at a time give exactly what a single 256-frame batch gives."""
    if not (run / "trajectory.dcd").exists():
        pytest.skip("fixture absent")
    u, md = load_run(run)
    ions, partners = group(u, md, "cation"), coordination_partners(u, md)
    geo = Geometry.from_metadata(md)
    cut = {"DME": 0.31, "PF6": 0.31}
    fast = Coordination(ions, partners, cutoffs_nm=cut, geometry=geo, batch_size=3).run(
        start=1, step=2)
    slow = Coordination(ions, partners, cutoffs_nm=cut, geometry=geo).run(start=1, step=2)
    for key in ("counts", "n_molecules", "denticity", "positions", "regions", "frames"):
        np.testing.assert_array_equal(getattr(fast.results, key), getattr(slow.results, key))
    np.testing.assert_allclose(fast.results.times_ps, slow.results.times_ps)
    assert fast.results.shell.equals(slow.results.shell)
    np.testing.assert_array_equal(fast.frames, slow.frames)
