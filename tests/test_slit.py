"""Slit, stage-wise pore and surface geometry; ElectrodeConfig validation."""

import numpy as np
import pytest
from pydantic import ValidationError

from predesolv.config.electrode import ElectrodeConfig
from predesolv.systems.graphene import bond_lengths
from predesolv.systems.slit import build_electrode_geometry, measured_slit_spacing


@pytest.mark.parametrize("d", [0.40, 0.45, 0.50, 0.55, 0.6, 0.8, 1.0])
@pytest.mark.parametrize("edge", ["zigzag", "armchair"])
def test_slit_spacing_exact(d, edge):
    cfg = ElectrodeConfig(kind="slit", edge=edge, width="2.0 nm", length="2.0 nm",
                          spacing=f"{d} nm", layers_per_wall=2)
    g = build_electrode_geometry(cfg)
    assert abs(measured_slit_spacing(g) - d) < 1e-4
    np.testing.assert_allclose(bond_lengths(g.sheet, g.box_y), 0.142, atol=1e-9)
    # other layers at graphite spacing, including across the periodic boundary
    z = np.array(g.segments[0]["sheet_z_nm"])
    gaps = np.diff(np.concatenate([z, [z[0] + g.box_z]]))
    assert sorted(np.round(gaps, 6).tolist()) == sorted([0.335] * 3 + [round(d, 6)])
    assert g.part.count("slit_walls") == g.sheet.n_atoms // 2


def test_stagewise_pore():
    cfg = ElectrodeConfig(kind="stagewise_pore", edge="zigzag", width="2.0 nm",
                          stages=[{"spacing": "0.5 nm", "length": "1.0 nm"},
                                  {"spacing": "1.0 nm", "length": "1.2 nm"},
                                  {"spacing": "1.8 nm", "length": "1.2 nm"}])
    g = build_electrode_geometry(cfg)
    for k, d in enumerate([0.5, 1.0, 1.8]):
        assert abs(measured_slit_spacing(g, k) - d) < 1e-4
    assert g.segments[-1]["name"] == "cap" and g.segments[-1]["spacing_nm"] is None
    # stages follow each other along x, mouth first
    starts = [s["x_nm"][0] for s in g.segments]
    assert starts == sorted(starts) and starts[0] == 0.0
    # closed: within a segment (periodic boundary included) every gap but the slit is at
    # most the graphite spacing, and none is compressed below 0.28 nm
    for s in g.segments:
        z = np.array(s["sheet_z_nm"])
        gaps = np.sort(np.diff(np.concatenate([z, [z[0] + g.box_z]])))
        others = gaps[:-1] if s["spacing_nm"] is not None else gaps
        assert others.max() <= 0.335 + 1e-9 and others.min() > 0.28


def test_surface_counts():
    cfg = ElectrodeConfig(kind="surface", edge="armchair", width="2.0 nm", length="1.0 nm",
                          layers=3, hydrogenate_edges=True)
    g = build_electrode_geometry(cfg)
    assert abs(g.box_z - 3 * 0.335) < 1e-12
    n_c = sum(1 for lab in g.sheet.labels if lab != "HE")
    n_x = g.segments[0]["n_cells_x"]
    assert n_c == 3 * 4 * n_x * g.info["n_cells_y"]


@pytest.mark.parametrize("bad", [
    {"kind": "slit", "edge": "zigzag", "width": "2 nm", "length": "2 nm", "spacing": "0.3 nm"},
    {"kind": "slit", "edge": "zigzag", "width": "2 nm", "spacing": "0.8 nm"},
    {"kind": "slit", "edge": "zigzag", "width": "2 nm", "length": "2 nm", "spacing": "0.8"},
    {"kind": "stagewise_pore", "edge": "zigzag", "width": "2 nm",
     "stages": [{"spacing": "0.5 nm", "length": "1 nm"}]},
    {"kind": "surface", "edge": "zigzag", "width": "2 nm", "length": "2 nm", "layers": 3,
     "charge": {"mode": "constant_charge", "sigma": "-0.05 C/m**2", "apply_to": "slit_walls",
                "neutralize": "electrolyte"}},
    {"kind": "slit", "edge": "zigzag", "width": "2 nm", "length": "2 nm", "spacing": "0.8 nm",
     "charge": {"mode": "constant_potential", "delta_v": "1 V"}},
    {"kind": "slit", "edge": "zigzag", "width": "2 nm", "length": "2 nm", "spacing": "0.8 nm",
     "charge": {"mode": "constant_charge", "apply_to": "all", "neutralize": "electrolyte"}},
])
def test_config_rejects(bad):
    with pytest.raises(ValidationError):
        ElectrodeConfig(**bad)
