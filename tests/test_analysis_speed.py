"""The bulk (block-read, batched, vectorised) coordination path against independent answers.

* bulk DCD reading against MDAnalysis's own frame-by-frame iteration (positions, boxes, times);
* the same trajectory analysed from a DCD (bulk ``readframes``) and from memory (the
  frame-by-frame reader path) gives identical results;
* per-frame, per-ion counts against a plain loop over ``capped_distance`` pairs, on random
  boxes with many seeds (the expected values never go through predesolv's search or counting).
"""

from __future__ import annotations

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.coordinates.memory import MemoryReader
from MDAnalysis.lib.distances import capped_distance

from predesolv.analysis import Coordination
from predesolv.analysis.io import read_frame_blocks
from predesolv.analysis.neighbors import pairs_by_centre


def _universe(rng, n_ion=6, n_mol=40, n_an=8, nf=7, L=(19.0, 23.0, 21.0), box_var=False):
    """Ions, two-O molecules and three-F anions at random (some atoms outside the box)."""
    n_atoms = n_ion + 2 * n_mol + 3 * n_an
    resindex = np.r_[np.arange(n_ion), n_ion + np.repeat(np.arange(n_mol), 2),
                     n_ion + n_mol + np.repeat(np.arange(n_an), 3)]
    u = mda.Universe.empty(n_atoms, n_residues=n_ion + n_mol + n_an, atom_resindex=resindex,
                           trajectory=True)
    u.add_TopologyAttr("name", ["NA"] * n_ion + ["O1", "O2"] * n_mol + ["F1", "F2", "F3"] * n_an)
    u.add_TopologyAttr("resname", ["NA"] * n_ion + ["DME"] * n_mol + ["PF6"] * n_an)
    boxes = np.array([np.r_[np.asarray(L) * (rng.uniform(0.97, 1.03) if box_var else 1.0),
                            90, 90, 90] for _ in range(nf)])
    centres = rng.uniform(-0.1, 1.1, (nf, n_atoms, 3)) * boxes[:, None, :3]
    # molecules: atoms 1.2-1.6 A from their first atom, so that bidentate shells occur
    for first in range(n_ion, n_atoms):
        r = resindex[first]
        prev = first - 1
        if resindex[prev] == r:
            head = np.flatnonzero(resindex == r)[0]
            v = rng.normal(size=(nf, 3))
            centres[:, first] = centres[:, head] + 1.4 * v / np.linalg.norm(v, axis=1)[:, None]
    u.load_new(centres.astype(np.float32), format=MemoryReader, dimensions=boxes, dt=0.25)
    return u


def _expected(u, ions, partners, cut_A):
    """Counts, molecules and denticity by a plain loop over capped_distance pairs."""
    kinds = list(partners)
    nf, ni, nk = len(u.trajectory), ions.n_atoms, len(kinds)
    counts = np.zeros((nf, ni, nk), int)
    nmol = np.zeros((nf, ni, nk), int)
    dent = np.zeros((nf, ni, nk, 4), int)
    for f, ts in enumerate(u.trajectory):
        for k, name in enumerate(kinds):
            ag = partners[name]
            pairs = capped_distance(ions.positions, ag.positions, cut_A[name], box=ts.dimensions,
                                    return_distances=False)
            per: dict[tuple[int, int], int] = {}
            for i, j in pairs.tolist():
                if ag.resindices[j] == ions.resindices[i]:
                    continue
                counts[f, i, k] += 1
                per[(i, int(ag.resindices[j]))] = per.get((i, int(ag.resindices[j])), 0) + 1
            for (i, _), n in per.items():
                nmol[f, i, k] += 1
                dent[f, i, k, min(n, 4) - 1] += 1
    return counts, nmol, dent


@pytest.mark.parametrize("seed", range(12))
def test_counts_equal_capped_distance_loop(seed):
    rng = np.random.default_rng(100 + seed)
    u = _universe(rng, n_ion=int(rng.integers(10, 25)), box_var=bool(seed % 2))
    ions = u.select_atoms("resname NA")
    partners = {"DME": u.select_atoms("resname DME"), "PF6": u.select_atoms("resname PF6")}
    cut_nm = {"DME": round(float(rng.uniform(0.2, 0.4)), 3),
              "PF6": round(float(rng.uniform(0.2, 0.4)), 3)}
    co = Coordination(ions, partners, cutoffs_nm=cut_nm, batch_size=int(rng.integers(1, 9)))
    r = co.run().results
    counts, nmol, dent = _expected(u, ions, partners, {k: 10 * v for k, v in cut_nm.items()})
    np.testing.assert_array_equal(r.counts, counts)
    np.testing.assert_array_equal(r.n_molecules, nmol)
    np.testing.assert_array_equal(r.denticity, dent)
    assert r.shell["n_atoms"].sum() == counts.sum()
    assert len(r.shell) == nmol.sum()


@pytest.mark.parametrize("seed", range(8))
def test_pairs_by_centre_sorted_and_exact(seed):
    rng = np.random.default_rng(seed)
    nf, n, m = 5, int(rng.integers(10, 60)), int(rng.integers(10, 900))
    L = rng.uniform(15, 35, 3)
    boxes = np.array([np.r_[L * rng.uniform(1, 1.02, 3), 90, 90, 90] for _ in range(nf)])
    a = (rng.uniform(-0.2, 1.2, (nf, n, 3)) * L).astype(np.float32)
    b = (rng.uniform(-0.2, 1.2, (nf, m, 3)) * L).astype(np.float32)
    c = float(rng.uniform(1.5, 4.0))
    slot, j, d2 = pairs_by_centre(a, b, c, boxes)
    assert np.all(np.diff(slot) >= 0)
    ref = {}
    for f in range(nf):
        p, d = capped_distance(a[f], b[f], c, box=boxes[f])
        ref.update({(f * n + x, y): dd for (x, y), dd in zip(p.tolist(), d, strict=True)})
    assert set(zip(slot.tolist(), j.tolist(), strict=True)) == set(ref)
    got = dict(zip(zip(slot.tolist(), j.tolist(), strict=True), np.sqrt(d2), strict=True))
    np.testing.assert_allclose([got[k] for k in ref], list(ref.values()), atol=1e-5)  # float32


def _write_dcd(u, path):
    with mda.Writer(str(path), n_atoms=u.atoms.n_atoms) as w:
        for _ in u.trajectory:
            w.write(u.atoms)


def test_bulk_dcd_reading_equals_iteration(tmp_path):
    u = _universe(np.random.default_rng(5), nf=23, box_var=True)
    _write_dcd(u, tmp_path / "t.dcd")
    ud = u.copy()
    ud.load_new(str(tmp_path / "t.dcd"))
    ag = ud.atoms[[3, 1, 40, 41, 7, 100]]
    for frames in (np.arange(23), np.arange(2, 23, 3), np.array([0, 5, 6, 20]), np.array([7])):
        blocks = list(read_frame_blocks(ag, frames, 4))
        got = {k: np.concatenate([getattr(b, k) for b in blocks]) for k in blocks[0]._fields}
        assert ud.trajectory.ts.frame == 0  # rewound, as after an MDAnalysis iteration
        for i, ts in enumerate(ud.trajectory[frames]):
            np.testing.assert_array_equal(got["positions"][i], ag.positions)
            np.testing.assert_array_equal(got["boxes"][i], ts.dimensions)
            assert got["frames"][i] == ts.frame and got["times"][i] == ts.time
        assert got["positions"].flags["C_CONTIGUOUS"] and got["has_box"].all()


def test_dcd_bulk_path_equals_memory_path(tmp_path):
    """The same frames from a DCD (bulk readframes) and from memory (reader iteration)."""
    u = _universe(np.random.default_rng(9), nf=17)
    _write_dcd(u, tmp_path / "t.dcd")
    ud, um = u.copy(), u.copy()
    ud.load_new(str(tmp_path / "t.dcd"))
    um.load_new(str(tmp_path / "t.dcd"), in_memory=True)
    assert type(ud.trajectory).__name__ == "DCDReader"
    out = []
    for uu in (ud, um):
        partners = {"DME": uu.select_atoms("resname DME"), "PF6": uu.select_atoms("resname PF6")}
        co = Coordination(uu.select_atoms("resname NA"), partners,
                          cutoffs_nm={"DME": 0.33, "PF6": 0.3}, batch_size=5)
        out.append(co.run(start=1, step=2).results)
    for key in ("counts", "n_molecules", "denticity", "positions", "frames", "times_ps"):
        np.testing.assert_array_equal(out[0][key], out[1][key])
    assert out[0].shell.equals(out[1].shell)
