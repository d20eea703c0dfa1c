"""Closed pores are closed: from the atom positions alone, the only carbon-plane gap wider
than graphite in any x column of the electrode is the slit asked for in that column."""

from __future__ import annotations

import numpy as np
import pytest

from predesolv.config.electrode import ElectrodeConfig
from predesolv.systems.slit import build_electrode_geometry

LAYER = 0.335
OPEN = LAYER + 0.02  # a gap wider than this would admit electrolyte


WINDOW = 0.45  # nm along x: wider than a lattice period, so every sheet present shows up


def _planes(positions: np.ndarray, labels: list[str], lo: float, hi: float) -> np.ndarray:
    """Distinct carbon z planes among the atoms with lo <= x < hi."""
    c = np.array([not lab.startswith("H") for lab in labels])
    x, z = positions[c, 0], positions[c, 2]
    return np.unique(np.round(z[(x >= lo) & (x < hi)], 3))


def _open_gaps(planes: np.ndarray, box_z: float) -> list[float]:
    gaps = np.diff(np.concatenate([planes, [planes[0] + box_z]]))
    return [float(g) for g in gaps if g > OPEN]


def _check(cfg: ElectrodeConfig, wanted: list[tuple[float, float, float]]) -> None:
    """Slide a window along x over the electrode: a window inside a slit stage shows exactly
    that stage's gap open; a window elsewhere (cap, junctions) shows no gap wider than the
    stages it touches; none shows a gap across the periodic boundary."""
    g = build_electrode_geometry(cfg)
    pos, labels = g.sheet.positions, g.sheet.labels
    x_max = float(pos[:, 0].max())
    for lo in np.arange(0.0, x_max - WINDOW + 1e-9, 0.05):
        hi = lo + WINDOW
        opened = _open_gaps(_planes(pos, labels, lo, hi), g.box_z)
        inside = [d for a, b, d in wanted if a - 1e-6 <= lo and hi <= b + 1e-6]
        touching = [d for a, b, d in wanted if lo < b and hi > a]
        if inside:
            assert len(opened) == 1 and abs(opened[0] - inside[0]) < 2e-3, (lo, opened)
        else:
            assert all(gap <= max(touching, default=0.0) + 2e-3 for gap in opened), (lo, opened)


def _stage_ranges(cfg: ElectrodeConfig) -> list[tuple[float, float, float]]:
    g = build_electrode_geometry(cfg)
    return [(s["x_nm"][0], s["x_nm"][1], s["spacing_nm"]) for s in g.segments
            if s["spacing_nm"] is not None]


@pytest.mark.parametrize("d1, d2", [(0.6, 1.2), (0.45, 1.2), (0.5, 0.8), (0.4, 0.55)])
@pytest.mark.parametrize("edge", ["zigzag", "armchair"])
@pytest.mark.parametrize("stacking", ["AB", "AA"])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_stagewise_pore_only_opening_is_the_orifice(d1, d2, edge, stacking, layers):
    cfg = ElectrodeConfig(kind="stagewise_pore", edge=edge, stacking=stacking, width="2.0 nm",
                          layers_per_wall=layers,
                          stages=[{"spacing": f"{d1} nm", "length": "1.0 nm"},
                                  {"spacing": f"{d2} nm", "length": "1.2 nm"}])
    wanted = _stage_ranges(cfg)
    assert [round(d, 4) for *_, d in wanted] == [d1, d2]
    _check(cfg, wanted)


@pytest.mark.parametrize("d", [0.6, 0.8, 1.0])
@pytest.mark.parametrize("edge", ["zigzag", "armchair"])
def test_plain_slit_only_opening_is_the_slit(d, edge):
    cfg = ElectrodeConfig(kind="slit", edge=edge, width="2.0 nm", length="2.0 nm",
                          spacing=f"{d} nm")
    _check(cfg, _stage_ranges(cfg))


def test_previously_open_boundary_gap_is_now_closed():
    """Regression: a 0.6/1.2 nm pore used to leave a 0.600 nm second slit across z."""
    cfg = ElectrodeConfig(kind="stagewise_pore", edge="zigzag", width="2.0 nm",
                          stages=[{"spacing": "0.6 nm", "length": "1.0 nm"},
                                  {"spacing": "1.2 nm", "length": "1.0 nm"}])
    g = build_electrode_geometry(cfg)
    first = g.segments[0]
    z = np.array(first["sheet_z_nm"])
    boundary = z[0] + g.box_z - z[-1]
    assert boundary <= LAYER + 1e-9
