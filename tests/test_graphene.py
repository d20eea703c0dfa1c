"""Graphene ribbon geometry: bond lengths, counts, edges, hydrogens, AB stacking."""

import numpy as np
import pytest

from predesolv.errors import BuildError
from predesolv.systems.graphene import (
    CC_BOND_NM,
    bond_lengths,
    cell_dimensions,
    ribbon,
    stacking_shift,
)


@pytest.mark.parametrize("edge", ["zigzag", "armchair"])
def test_bonds_and_counts(edge):
    n_x, n_y = 4, 5
    s = ribbon(n_x, n_y, edge)
    lx, ly = cell_dimensions(edge)
    assert s.n_atoms == 4 * n_x * n_y
    bl = bond_lengths(s, n_y * ly)
    np.testing.assert_allclose(bl, CC_BOND_NM, atol=1e-9)
    # every atom has 2 or 3 neighbours; 3 * n_basal + 2 * n_edge = 2 * n_bonds
    n_edge = s.labels.count("CE")
    n_basal = s.labels.count("C")
    assert 3 * n_basal + 2 * n_edge == 2 * len(s.bonds)
    per_end = n_y if edge == "zigzag" else 2 * n_y
    assert n_edge == 2 * per_end
    # edge atoms are at the two x ends
    x = s.positions[:, 0]
    ex = np.array([x[i] for i, lab in enumerate(s.labels) if lab == "CE"])
    assert np.all((ex < x.min() + 0.1) | (ex > x.max() - 0.1))
    # periodic in y with the cell period
    assert s.positions[:, 1].max() < n_y * ly


@pytest.mark.parametrize("edge", ["zigzag", "armchair"])
def test_hydrogenated_edges(edge):
    s = ribbon(3, 4, edge, hydrogenate=True)
    n_h = s.labels.count("HE")
    assert n_h == s.labels.count("CE")
    ly = cell_dimensions(edge)[1] * 4
    bl = bond_lengths(s, ly)
    ch = [b for b, (i, j) in zip(bl, s.bonds, strict=True) if "HE" in (s.labels[i], s.labels[j])]
    np.testing.assert_allclose(ch, 0.109, atol=1e-9)
    # H in the sheet plane, pointing outwards along x
    h = s.positions[[i for i, lab in enumerate(s.labels) if lab == "HE"]]
    assert np.allclose(h[:, 2], 0.0)
    c = s.positions[[i for i, lab in enumerate(s.labels) if lab != "HE"]]
    assert np.all((h[:, 0] < c[:, 0].min()) | (h[:, 0] > c[:, 0].max()))


def test_ab_stacking_shift():
    np.testing.assert_allclose(stacking_shift("zigzag", "AB", 1), [CC_BOND_NM, 0.0])
    np.testing.assert_allclose(stacking_shift("armchair", "AB", 1), [0.0, CC_BOND_NM])
    np.testing.assert_allclose(stacking_shift("armchair", "AB", 2), [0.0, 0.0])
    np.testing.assert_allclose(stacking_shift("zigzag", "AA", 1), [0.0, 0.0])
    a = ribbon(3, 4, "armchair")
    b = ribbon(3, 4, "armchair", shift=stacking_shift("armchair", "AB", 1))
    # AB: half of the B atoms sit exactly above A atoms, half above hexagon centres
    ly = cell_dimensions("armchair")[1] * 4
    d = a.positions[None, :, :2] - b.positions[:, None, :2]
    d[..., 1] -= ly * np.round(d[..., 1] / ly)
    above = (np.sqrt((d**2).sum(-1)).min(axis=1) < 1e-6).sum()
    assert above == a.n_atoms // 2


def test_bad_inputs():
    with pytest.raises(BuildError, match="edge"):
        ribbon(2, 2, "chiral")
    with pytest.raises(BuildError):
        ribbon(0, 2, "zigzag")
