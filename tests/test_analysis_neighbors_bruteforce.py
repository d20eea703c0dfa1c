"""The neighbour search against an independent brute-force minimum-image computation.

The reference below never goes through predesolv or MDAnalysis: every (centre, partner)
pair of every frame, float64 differences of the given float32 positions, the minimum image
taken over all 27 neighbouring images of the box (orthorhombic and triclinic alike, from
the box matrix built here). Pairs whose reference distance lies within ``TOL`` of the cutoff
are left out of the comparison: there the float32 wrapping that the search shares with
MDAnalysis may legitimately decide either way (a handful in ten thousand pairs: the test
checks that the band stays that thin).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from predesolv.analysis.neighbors import pairs_by_centre, pairs_within, use_cell_list

TOL = 1e-4  # Å; float32 coordinates of tens of Å carry errors of ~1e-5 Å
IMAGES = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=np.float64)


def _box_matrix(dims: np.ndarray) -> np.ndarray:
    """Rows a, b, c of the box (Å) from lengths (Å) and angles alpha, beta, gamma (deg)."""
    la, lb, lc = dims[:3]
    al, be, ga = np.radians(dims[3:])
    cx = lc * np.cos(be)
    cy = lc * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)
    return np.array([[la, 0.0, 0.0],
                     [lb * np.cos(ga), lb * np.sin(ga), 0.0],
                     [cx, cy, np.sqrt(lc**2 - cx**2 - cy**2)]])


def _brute_force(a: np.ndarray, b: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """Minimum-image distances (Å) of all pairs, shape (n, m), for one frame."""
    h = _box_matrix(dims)
    d = b[None, :, :].astype(np.float64) - a[:, None, :].astype(np.float64)
    s = d @ np.linalg.inv(h)
    s -= np.round(s)  # nearest image in fractional coordinates, then the 27 around it
    cand = (s[:, :, None, :] + IMAGES[None, None, :, :]) @ h
    return np.sqrt((cand**2).sum(axis=-1).min(axis=-1))


def _random_case(rng: np.random.Generator, triclinic: bool):
    nf = int(rng.integers(1, 5))
    n, m = int(rng.integers(1, 50)), int(rng.integers(1, 700))
    lengths = rng.uniform(14.0, 40.0, 3)
    angles = rng.uniform(75.0, 105.0, 3) if triclinic else np.full(3, 90.0)
    dims = np.array([np.r_[lengths * rng.uniform(1.0, 1.04, 3), angles] for _ in range(nf)])
    spread = (-2.5, 3.5) if rng.random() < 0.2 else (-0.3, 1.3)  # some far outside the box
    a = (rng.uniform(*spread, (nf, n, 3)) * lengths).astype(np.float32)
    b = (rng.uniform(*spread, (nf, m, 3)) * lengths).astype(np.float32)
    # perpendicular widths of the smallest box bound the cutoff (minimum image well defined)
    h = _box_matrix(dims[0])
    vol = abs(np.linalg.det(h))
    widths = [vol / np.linalg.norm(np.cross(h[i], h[j])) for i, j in ((1, 2), (2, 0), (0, 1))]
    c = float(rng.uniform(1.0, 0.3 * min(min(widths), dims[:, :3].min())))
    return a, b, dims, c


@pytest.mark.parametrize("triclinic", [False, True])
@pytest.mark.parametrize("seed", range(24))
def test_pairs_equal_brute_force_minimum_image(seed, triclinic):
    rng = np.random.default_rng(1000 + seed)
    compared = ambiguous = cell_list_pairs = 0
    for _ in range(6):
        a, b, dims, c = _random_case(rng, triclinic)
        f, i, j, d2 = pairs_within(a, b, c, dims)
        got = dict(zip(zip(f.tolist(), i.tolist(), j.tolist(), strict=True), d2.tolist(),
                       strict=True))
        assert len(got) == len(f)  # no pair twice
        slot, jj, d2s = pairs_by_centre(a, b, c, dims)
        assert np.all(np.diff(slot) >= 0)
        n = a.shape[1]
        assert set(zip((slot // n).tolist(), (slot % n).tolist(), jj.tolist(),
                       strict=True)) == set(got)
        for k in range(len(a)):
            ref = _brute_force(a[k], b[k], dims[k])
            near = np.abs(ref - c) <= TOL
            ambiguous += int(near.sum())
            want = {(k, x, y) for x, y in zip(*np.nonzero((ref <= c) & ~near), strict=True)}
            have = {p for p in got if p[0] == k and not near[p[1], p[2]]}
            assert have == want
            for p in have:
                assert abs(np.sqrt(got[p]) - ref[p[1], p[2]]) <= TOL
            compared += len(want)
        cell_list_pairs += len(got) * use_cell_list(a.shape[1], b.shape[1], c, dims)
    assert compared > 0 and ambiguous <= max(2, compared // 1000)  # a thin band only
    if not triclinic:
        assert cell_list_pairs > 0  # the cell-list path was exercised
