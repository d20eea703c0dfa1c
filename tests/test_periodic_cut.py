"""A position CV runs backwards within WRAP_EPS_NM of its periodic cut (half a box from its
centre). A wall on such a CV traps a group that starts there: the pull and the windows refuse
those starts. Found by the E3 study at d = 1.0 nm, where an ion that started 1.0 nm from the
slit mid-plane (at its periodic image) was held there by the mid-plane wall and dragged into
the graphite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from openmm import unit

import predesolv
from predesolv.config.freeenergy import PositionCVSpec
from predesolv.errors import ConfigError
from predesolv.freeenergy.bias import refuse_start_at_cut, resolve_cv

SMOKE = Path(__file__).resolve().parents[1] / "studies" / "E2" / "smoke" / "slit_0.6nm.yaml"


@pytest.fixture(scope="module")
def cell():
    return predesolv.build(predesolv.load_config(SMOKE))


def _moved(built, atom, z_nm):
    pos = np.array(built.positions.value_in_unit(unit.nanometer))
    pos[atom, 2] = z_nm
    return pos


def test_a_wall_cv_reads_near_zero_at_the_mid_planes_image(cell):
    """The reason for the check: 0.05 nm from the cut, the mid-plane CV (exact value about
    -(L/2 - 0.05)) reads a small number, inside a +/-0.1 nm wall, so the wall does nothing
    there while the group is a whole half box from the mid-plane."""
    spec = PositionCVSpec(type="position", group="cation[0]", axis="z")
    cv = resolve_cv(spec, cell, "wall").cv
    lz = cell.topology.getPeriodicBoxVectors()[2][2].value_in_unit(unit.nanometer)
    na = cell.metadata.groups["cation"][0]
    far = _moved(cell, na, cv.origin_nm + lz / 2 - 0.01)
    assert abs(cv.from_positions(far, [99, 99, lz])) < 0.2
    near = _moved(cell, na, cv.origin_nm + 0.3)
    assert cv.from_positions(near, [99, 99, lz]) == pytest.approx(0.3, abs=1e-9)


def test_starts_in_the_cut_band_are_refused(cell):
    spec = PositionCVSpec(type="position", group="cation[0]", axis="z")
    cv = resolve_cv(spec, cell, "wall").cv
    lz = cell.topology.getPeriodicBoxVectors()[2][2].value_in_unit(unit.nanometer)
    na = cell.metadata.groups["cation"][0]
    for off in (lz / 2 - 0.05, -(lz / 2 - 0.02), lz / 2 + 0.03):
        with pytest.raises(ConfigError, match=r"pull.walls\[0\].cv: the group starts .* periodic"):
            refuse_start_at_cut(spec, cell, _moved(cell, na, cv.origin_nm + off),
                                "pull.walls[0].cv")
    for off in (0.0, 0.4, -(lz / 2 - 0.15)):
        refuse_start_at_cut(spec, cell, _moved(cell, na, cv.origin_nm + off), "pull.cv")


def test_preflight_refuses_a_biased_run_starting_at_the_cut(cell, tmp_path):
    """The check sits in the runner's preflight, so the pull, every new window and any user
    run with a ``bias`` block get it before anything is written."""
    from predesolv.built import BuiltSystem
    from predesolv.runner import preflight
    from predesolv.workflows.protocol import plan_windows, window_config

    cfg = predesolv.load_config(SMOKE)
    wcfg = window_config(cfg, tmp_path, plan_windows(cfg)[0])
    spec = PositionCVSpec(type="position", group="cation[0]", axis="z")
    cv = resolve_cv(spec, cell, "wall").cv
    lz = cell.topology.getPeriodicBoxVectors()[2][2].value_in_unit(unit.nanometer)
    na = cell.metadata.groups["cation"][0]
    at_cut = _moved(cell, na, cv.origin_nm + lz / 2 - 0.03) * unit.nanometer
    with pytest.raises(ConfigError, match=r"bias.walls\[0\].cv: the group starts"):
        preflight(wcfg, BuiltSystem(cell.system, cell.topology, at_cut, cell.metadata))
    inside = _moved(cell, na, cv.origin_nm + 0.3) * unit.nanometer
    preflight(wcfg, BuiltSystem(cell.system, cell.topology, inside, cell.metadata))
    assert not any(tmp_path.iterdir())
