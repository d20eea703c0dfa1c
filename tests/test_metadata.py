"""Typed metadata.json (predesolv.metadata): lossless round trip, checked shape, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from predesolv.errors import InputError
from predesolv.metadata import (
    Metadata,
    MetadataError,
    solvent_o_group,
    solvent_oall_group,
)

DATA = Path(__file__).parent / "data"
FIXTURES = [DATA / "napf6_dme_run" / "metadata.json", DATA / "analysis_run" / "metadata.json"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.parent.name)
def test_existing_files_round_trip(path):
    raw = json.loads(path.read_text())
    md = Metadata.load(path)
    out = md.to_dict()
    raw.setdefault("requires", {"fixed_box": False})  # always written (documented)
    assert out == raw
    assert json.loads(md.to_json()) == raw


def test_typed_views_of_a_cell():
    md = Metadata.load(DATA / "analysis_run" / "metadata.json")
    assert md.species.cation == "Na" and md.species.solvents == ("DME",)
    assert md.solvent_names() == ["DME"]
    assert md.geometry is not None and md.geometry.insertion is not None
    assert (md.geometry.insertion.axis, md.geometry.insertion.origin_nm) == ("x", 3.0)
    assert [r.name for r in md.geometry.regions][:2] == ["inside", "mouth"]
    assert md.geometry.regions[0].bounds_nm["z"] == (1.15, 1.85)
    assert md.fixed_axes() == ["z"]
    raw = json.loads((DATA / "analysis_run" / "metadata.json").read_text())
    assert md.group(solvent_o_group("DME")) == sorted(raw["groups"]["solvent_O:DME"])
    assert solvent_oall_group("EC") == "solvent_Oall:EC"


def test_bulk_has_no_geometry():
    md = Metadata.load(FIXTURES[0])
    assert md.geometry is None and md.fixed_axes() == [] and md.requires.fixed_box is False


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d.update(groups=[1, 2]), "groups"),
    (lambda d: d["groups"].update(cation=[-1]), "groups['cation']"),
    (lambda d: d["groups"].update(cation=[True]), "groups['cation']"),
    (lambda d: d["geometry"].update(insertion={"axis": "q", "origin_nm": 1}), "insertion"),
    (lambda d: d["geometry"]["insertion"].update(origin_nm="3"), "origin_nm"),
    (lambda d: d["geometry"]["insertion"].update(direction=2), "direction"),
    (lambda d: d["geometry"]["regions"][0].pop("bounds_nm"), "regions[0]"),
    (lambda d: d["geometry"]["regions"][1]["bounds_nm"].update(x=[1.0]), "regions[1]"),
    (lambda d: d["geometry"].update(fixed_axes=["w"]), "fixed_axes"),
    (lambda d: d.update(units={"length": "angstrom"}), "units.length"),
    (lambda d: d.update(schema_version=99), "schema_version"),
    (lambda d: d.update(requires={"fixed_box": "yes"}), "requires"),
    (lambda d: d.update(species={"solvents": "DME"}), "species.solvents"),
])
def test_wrong_shape_names_the_key(mutate, where):
    raw = json.loads((DATA / "analysis_run" / "metadata.json").read_text())
    mutate(raw)
    with pytest.raises(MetadataError) as exc:
        Metadata.from_dict(raw, "m.json")
    assert where in str(exc.value) and "m.json" in str(exc.value)
    assert isinstance(exc.value, InputError) and isinstance(exc.value, ValueError)


@pytest.mark.parametrize("content, needle", [
    (b"\xff\xfe{\x00}\x00", "UTF-8"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b"[" * 50000 + b"]" * 50000, "JSON"),
])
def test_unreadable_files(tmp_path, content, needle):
    p = tmp_path / "metadata.json"
    p.write_bytes(content)
    with pytest.raises(MetadataError, match=needle):
        Metadata.load(p)
    with pytest.raises(MetadataError, match="not found"):
        Metadata.load(tmp_path / "absent.json")


def test_strict_json_refuses_nan():
    md = Metadata.load(FIXTURES[0])
    md.composition["x"] = float("nan")
    with pytest.raises(ValueError):
        md.to_json()


def test_builtsystem_refuses_groups_beyond_its_atoms():
    import openmm
    from openmm import app, unit

    from predesolv.built import BuiltSystem
    from predesolv.errors import BuildError

    system = openmm.System()
    top = app.Topology()
    res = top.addResidue("NA", top.addChain())
    for _ in range(2):
        system.addParticle(22.99)
        top.addAtom("Na", app.element.sodium, res)
    pos = [[0, 0, 0], [0.5, 0, 0]] * unit.nanometer
    ok = BuiltSystem(system, top, pos, {"groups": {"cation": [0, 1]}})
    assert isinstance(ok.metadata, Metadata) and ok.metadata.group("cation") == [0, 1]
    with pytest.raises(BuildError, match="index atom 2"):
        BuiltSystem(system, top, pos, {"groups": {"cation": [0, 2]}})


@pytest.mark.parametrize("spacing_nm, stacking", [(0.45, "AB"), (0.6, "AA")])
def test_ion_slit_geometry_is_typed_and_matches_the_positions(spacing_nm, stacking):
    """metadata.ion_slit() against numbers read from the built positions and box: the two
    innermost sheets are spacing_nm apart around the mid-plane; the box is the topology's."""
    from openmm import unit

    from predesolv.systems.ion_slit import build_ion_slit

    built = build_ion_slit(spacing_nm, ("Na",), stacking=stacking)
    geo = built.metadata.ion_slit()
    pos = built.positions.value_in_unit(unit.nanometer)
    z = np.unique(np.round(np.asarray(pos)[built.metadata.groups["electrode"], 2], 6))
    assert tuple(np.round(geo.sheet_z_nm, 6)) == tuple(z)
    inner = sorted(z, key=lambda v: abs(v - geo.midplane_z_nm))[:2]
    assert abs(abs(inner[1] - inner[0]) - spacing_nm) < 1e-6
    box = built.topology.getPeriodicBoxVectors().value_in_unit(unit.nanometer)
    assert np.allclose(geo.box_nm, [box[0][0], box[1][1], box[2][2]])
    assert (geo.spacing_nm, geo.stacking) == (spacing_nm, stacking)
    with pytest.raises(MetadataError, match="not an ion slit"):
        Metadata.from_dict({"geometry": {"kind": "slit"}}, "t").ion_slit()
