"""Hand-placed atoms with known answers for predesolv.analysis coordination and geometry."""

from __future__ import annotations

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.coordinates.memory import MemoryReader

from predesolv.analysis import Coordination, Geometry, Region, first_minimum, profile
from predesolv.analysis.shells import shell_label, speciation, summary_by_region
from predesolv.analysis.tracking import track_ion
from predesolv.errors import AnalysisError

BOX = np.array([30.0, 30.0, 30.0, 90.0, 90.0, 90.0])


def make_universe(frames, resindex, resnames, names, box=BOX):
    """Universe from hand-placed coordinates (Å). ``frames``: (n_frames, n_atoms, 3)."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim == 2:
        frames = frames[None]
    n_atoms = frames.shape[1]
    resindex = np.asarray(resindex)
    n_res = int(resindex.max()) + 1
    u = mda.Universe.empty(n_atoms, n_residues=n_res, atom_resindex=resindex, trajectory=True)
    u.add_TopologyAttr("name", names)
    u.add_TopologyAttr("resname", resnames)
    u.add_TopologyAttr("resid", np.arange(1, n_res + 1))
    u.load_new(frames, format=MemoryReader, dimensions=np.asarray(box, float), dt=2.0)
    return u


def octahedron(center, r):
    v = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
    return np.asarray(center, float) + r * v


def test_six_inside_one_just_outside():
    c = np.array([15.0, 15.0, 15.0])
    eps = 0.005  # A
    pos = np.vstack([c, octahedron(c, 2.0), c + 2.5 * np.array([1, 1, 0]) / np.sqrt(2)
                     + eps * np.array([1, 1, 0]) / np.sqrt(2)])
    n = len(pos)
    u = make_universe(pos, np.arange(n), ["NA"] + ["W"] * (n - 1), ["NA"] + ["O"] * (n - 1))
    ion, ox = u.atoms[[0]], u.atoms[1:]
    res = Coordination(ion, {"W": ox}, cutoffs_nm={"W": 0.25}).run().results
    # 6 octahedral O at 2.0 A are inside the 2.5 A cutoff; the one at 2.505 A is not
    assert res.counts[0, 0, 0] == 6
    assert res.n_molecules[0, 0, 0] == 6
    assert res.denticity[0, 0, 0].tolist() == [6, 0, 0, 0]
    res2 = Coordination(ion, {"W": ox}, cutoffs_nm={"W": 0.2506}).run().results
    assert res2.counts[0, 0, 0] == 7


def test_periodic_images_across_every_face():
    ion = np.array([0.5, 29.7, 15.0])
    # partners across the x=0, y=L faces and a corner; direct distances are ~28 A
    o = np.array([[29.0, 29.7, 15.0], [0.5, 1.0, 15.0], [29.5, 0.5, 15.0], [15.0, 15.0, 15.0]])
    pos = np.vstack([ion, o])
    u = make_universe(pos, np.arange(5), ["NA", "W", "W", "W", "W"], ["NA"] + ["O"] * 4)
    res = Coordination(u.atoms[[0]], {"W": u.atoms[1:]}, cutoffs_nm={"W": 0.2}).run().results
    # distances 1.5, 1.3, sqrt(1.0^2+0.8^2)=1.28 A -> 3 inside; the centre atom is not
    assert res.counts[0, 0, 0] == 3
    shell = res.shell
    assert sorted(shell["resindex"]) == [1, 2, 3]
    np.testing.assert_allclose(sorted(shell["distance_nm"]), [0.128062, 0.13, 0.15], atol=2e-5)


def _dme_universe():
    """One Na at the centre, three bidentate 'DME' (2 O each) and one monodentate DME."""
    c = np.array([15.0, 15.0, 15.0])
    octa = octahedron(c, 2.3)
    pos = [c]
    resindex = [0]
    names = ["NA"]
    pairs = [(0, 2), (1, 4), (3, 5)]
    for r, (a, b) in enumerate(pairs, start=1):
        pos += [octa[a], octa[b], 0.5 * (octa[a] + octa[b]) * 1.0 + [0.0, 0.0, 0.1]]
        resindex += [r, r, r]
        names += ["O1", "O2", "C"]
    # monodentate: O1 at 2.8 A (inside 3.0 A), O2 far
    pos += [c + [2.0, -2.0, 0.0], c + [5.0, -5.0, 0.0], c + [4.0, -4.0, 1.0]]
    resindex += [4, 4, 4]
    names += ["O1", "O2", "C"]
    # a PF6-like anion, two F inside the cutoff
    pos += [c + [-3.3, -3.3, 3.3], c + [-1.5, -1.5, 1.5], c + [-1.3, -1.8, 1.6],
            c + [-4.7, -4.7, 4.7]]
    resindex += [5, 5, 5, 5]
    names += ["P", "F1", "F2", "F3"]
    resnames = ["NA", "DME", "DME", "DME", "DME", "PF6"]
    u = make_universe(np.array(pos), resindex, resnames, names)
    return u


def test_bidentate_and_anion_denticity():
    u = _dme_universe()
    o = u.select_atoms("resname DME and name O1 O2")
    f = u.select_atoms("resname PF6 and name F*")
    co = Coordination(u.atoms[[0]], {"DME": o, "PF6": f}, cutoffs_nm={"DME": 0.3, "PF6": 0.3})
    r = co.run().results
    assert r.counts[0, 0].tolist() == [7, 2]
    assert r.n_molecules[0, 0].tolist() == [4, 1]
    assert r.denticity[0, 0, 0].tolist() == [1, 3, 0, 0]   # 1 mono, 3 bidentate DME
    assert r.denticity[0, 0, 1].tolist() == [0, 1, 0, 0]   # PF6 through 2 F
    row = co.per_frame().iloc[0]
    assert row["nbidentate_DME"] == 3 and row["cn_PF6"] == 2
    spec = speciation(co)
    assert spec.loc[0, "shell"] == "Na(DME)4(PF6)" and spec.loc[0, "fraction"] == 1.0
    summ = summary_by_region(co).set_index("region")
    assert summ.loc["all", "bidentate_fraction_DME"] == pytest.approx(0.75)


def test_ion_own_residue_excluded_and_kinds_exclusive():
    u = _dme_universe()
    o = u.select_atoms("resname DME and name O1 O2")
    with pytest.raises(AnalysisError, match="two partner kinds"):
        Coordination(u.atoms[[0]], {"a": o, "b": o[:2]}, cutoffs_nm={"a": 0.3, "b": 0.3})
    # centre on a DME oxygen: its own molecule's second O must not count
    r = Coordination(o[[0]], {"DME": o}, cutoffs_nm={"DME": 0.4}).run().results
    assert 1 not in set(r.shell["resindex"])


def test_shell_label():
    assert shell_label([3, 0], ["DME", "PF6"]) == "Na(DME)3"
    assert shell_label([2, 1], ["DME", "PF6"]) == "Na(DME)2(PF6)"
    assert shell_label([0, 0], ["DME", "PF6"]) == "Na (bare)"


def test_region_assignment_first_match_and_wrapping():
    geo = Geometry(
        regions=(Region("inside", {"x": (3.0, 5.0), "z": (1.2, 1.8)}),
                 Region("mouth", {"x": (2.5, 3.5), "z": (0.9, 2.1)})),
        axis="x", origin_nm=3.0, direction=1,
    )
    pos_A = np.array([
        [40.0, 5.0, 15.0],   # inside
        [32.0, 5.0, 15.0],   # inside and mouth -> inside (first wins)
        [32.0, 5.0, 10.0],   # mouth only (z outside the slit)
        [27.0, 5.0, 15.0],   # mouth
        [10.0, 5.0, 15.0],   # bulk
        [40.0 + 50.0, 5.0, 15.0 - 30.0],  # image of the first one
        [24.999, 5.0, 15.0],  # just below the mouth region -> bulk
    ])
    box = np.array([50.0, 30.0, 30.0, 90, 90, 90])
    codes = geo.assign(pos_A, box)
    names = np.array(geo.region_names)[codes]
    assert names.tolist() == ["inside", "inside", "mouth", "mouth", "bulk", "inside", "bulk"]
    s = geo.insertion_coordinate(pos_A, box)
    np.testing.assert_allclose(s[:5], [1.0, 0.2, 0.2, -0.3, -2.0])
    geo_rev = Geometry(axis="x", origin_nm=3.0, direction=-1)
    np.testing.assert_allclose(geo_rev.insertion_coordinate(pos_A[:2]), [-1.0, -0.2])


def test_regions_sharing_a_name_share_a_code():
    # a stagewise pore: two "inside" segments (as systems/cell.py writes them) and a mouth
    geo = Geometry.from_metadata({"geometry": {
        "insertion": {"axis": "x", "origin_nm": 3.0, "direction": 1},
        "regions": [
            {"name": "inside", "stage": "orifice", "bounds_nm": {"x": [3.0, 4.0], "z": [1.3, 1.7]}},
            {"name": "inside", "stage": "cavity", "bounds_nm": {"x": [4.0, 6.0], "z": [1.0, 2.0]}},
            {"name": "mouth", "bounds_nm": {"x": [2.5, 3.0]}},
        ]}})
    assert geo.region_names == ["inside", "mouth", "bulk"]
    pos = np.array([[35.0, 0, 15.0], [50.0, 0, 11.0], [35.0, 0, 11.0], [27.0, 0, 0.0]])
    assert geo.assign(pos).tolist() == [0, 0, 2, 1]


def test_profile_binning_along_insertion_axis():
    # 1 ion moving along x over 5 frames; 2 coordinating O move with it but one drops at x>=32
    xs = [25.5, 28.5, 30.5, 31.5, 33.5]   # s = -0.45, -0.15, 0.05, 0.15, 0.35 nm
    frames = []
    for x in xs:
        c = np.array([x, 15.0, 15.0])
        o2 = c + [0, 2.0, 0] if x < 32 else c + [0, 6.0, 0]
        frames.append([c, c + [0, 0, 2.0], o2])
    u = make_universe(np.array(frames), [0, 1, 2], ["NA", "W", "W"], ["NA", "O", "O"],
                      box=[50.0, 30.0, 30.0, 90, 90, 90])
    geo = Geometry(regions=(Region("inside", {"x": (3.0, 5.0)}),), axis="x", origin_nm=3.0)
    co = Coordination(u.atoms[[0]], {"W": u.atoms[1:]}, cutoffs_nm={"W": 0.25}, geometry=geo)
    co.run()
    np.testing.assert_allclose(co.results.insertion_nm[:, 0], [-0.45, -0.15, 0.05, 0.15, 0.35],
                               atol=1e-5)
    prof = profile(co, bin_nm=0.2, range_nm=(-0.6, 0.4))
    np.testing.assert_allclose(prof["s_lo_nm"], [-0.6, -0.4, -0.2, 0.0, 0.2], atol=1e-12)
    # s = -0.45 | none | -0.15 | 0.05, 0.15 | 0.35
    assert prof["n_samples"].tolist() == [1, 0, 1, 2, 1]
    expect_n = np.array([1, 0, 1, 2, 1])
    cn = prof["cn_W_mean"].to_numpy()
    # last bin holds only the frame after the drop -> CN 1; the bin with s=0.05,0.15 -> 2
    assert cn[-1] == 1.0 and cn[np.flatnonzero(expect_n == 2)[0]] == 2.0
    only_inside = profile(co, bin_nm=0.2, range_nm=(-0.6, 0.4), regions=["inside"])
    assert only_inside["n_samples"].tolist() == [0, 0, 0, 2, 1]
    with pytest.raises(AnalysisError, match="unknown region"):
        profile(co, regions=["slit"])
    series, events = track_ion(co, 0)
    assert events.loc[events["event"] == "enter", "frame"].tolist() == [2]
    lost = events[events["event"] == "lost"]
    assert lost["frame"].tolist() == [4] and lost["molecule"].tolist() == ["W#2"]
    assert series["members"].iloc[0] == "W#1;W#2" and series["members"].iloc[-1] == "W#1"


def test_first_minimum_analytic():
    r = np.linspace(0.01, 10, 1000)
    g = 1 + 3 * np.exp(-((r - 2.4) ** 2) / 0.05) - 0.8 * np.exp(-((r - 3.3) ** 2) / 0.1)
    g[r < 1.8] = 0.0
    assert first_minimum(r, g) == pytest.approx(3.25, abs=0.05)
    assert first_minimum(r, np.zeros_like(r)) is None


def test_input_errors():
    u = _dme_universe()
    o = u.select_atoms("resname DME and name O1 O2")
    with pytest.raises(AnalysisError, match="ion selection is empty"):
        Coordination(u.atoms[[]], {"DME": o})
    with pytest.raises(AnalysisError, match="'X' is empty"):
        Coordination(u.atoms[[0]], {"X": u.atoms[[]]})
    with pytest.raises(AnalysisError, match="must be > 0 nm"):
        Coordination(u.atoms[[0]], {"DME": o}, cutoffs_nm={"DME": -1.0})
    with pytest.raises(AnalysisError, match="unknown kind"):
        Coordination(u.atoms[[0]], {"DME": o}, cutoffs_nm={"EC": 0.3})
    with pytest.raises(AnalysisError, match="reserved"):
        Geometry(regions=(Region("bulk", {"x": (0.0, 1.0)}),))
    with pytest.raises(AnalysisError, match="low < high"):
        Geometry(regions=(Region("a", {"x": (1.0, 0.0)}),))
    co = Coordination(u.atoms[[0]], {"DME": o}, cutoffs_nm={"DME": 0.3})
    with pytest.raises(AnalysisError, match="run\\(\\)"):
        speciation(co)
    with pytest.raises(AnalysisError, match="insertion"):
        profile(co.run())
