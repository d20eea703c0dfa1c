"""The batched cell list must return exactly MDAnalysis capped_distance's pairs."""

from __future__ import annotations

import numpy as np
import pytest
from MDAnalysis.lib.distances import apply_PBC, capped_distance

from predesolv.analysis.neighbors import pairs_within, use_cell_list, wrap_like_mdanalysis


@pytest.mark.parametrize("seed", range(4))
def test_pairs_equal_capped_distance(seed):
    rng = np.random.default_rng(seed)
    checked = 0
    for trial in range(40):
        nf = int(rng.integers(1, 4))
        L = rng.uniform(12, 40, 3)
        n, m = int(rng.integers(1, 40)), int(rng.integers(1, 400))
        a = (rng.uniform(-0.3, 1.3, (nf, n, 3)) * L).astype(np.float32)
        b = (rng.uniform(-0.3, 1.3, (nf, m, 3)) * L).astype(np.float32)
        boxes = np.array([np.r_[L * rng.uniform(1, 1.05, 3), 90, 90, 90] for _ in range(nf)])
        if trial % 7 == 0:
            boxes[:, 3:] = [80, 90, 100]  # triclinic: falls back to capped_distance
        c = float(rng.uniform(1.0, 3.5))
        f, i, j, d2 = pairs_within(a, b, c, boxes)
        ours = set(zip(f.tolist(), i.tolist(), j.tolist(), strict=True))
        ref = set()
        for k in range(nf):
            p, r = capped_distance(a[k], b[k], c, box=boxes[k])
            ref |= {(k, x, y) for x, y in p.tolist()}
        assert ours == ref
        order = np.lexsort((j, i, f))
        assert np.all(np.sqrt(d2[order]) <= c)
        checked += len(ref) * use_cell_list(n, m, c, boxes)
    assert checked > 100  # the cell-list path was exercised


def test_wrap_matches_apply_pbc_bitwise():
    rng = np.random.default_rng(3)
    L = np.array([31.7, 22.1, 45.3], np.float32)
    x = (rng.uniform(-2.5, 3.5, (3, 500, 3)) * L).astype(np.float32)
    x[0, :4] = [[-1e-7, 0, L[2]], [L[0], -0.0, 1e-8], [-L[0], 2 * L[1], 3 * L[2]], [0, 0, 0]]
    boxes = np.tile(np.r_[L, 90, 90, 90].astype(np.float32), (3, 1))
    ref = np.stack([apply_PBC(x[f], boxes[f]) for f in range(3)])
    np.testing.assert_array_equal(wrap_like_mdanalysis(x, boxes), ref)
