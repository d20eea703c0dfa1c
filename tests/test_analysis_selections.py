"""A from_files run (no predesolv groups) analysed by naming selections: CN against an
independent MDAnalysis distance count."""

from __future__ import annotations

import MDAnalysis as mda
import numpy as np
import pandas as pd
import pytest
from conftest import base_config
from MDAnalysis.lib.distances import distance_array

from predesolv.cli import main


@pytest.fixture(scope="module")
def water_run(tmp_path_factory):
    import predesolv

    out = tmp_path_factory.mktemp("sel") / "run"
    predesolv.run(predesolv.load_config(base_config(out)))
    return out


def test_cn_by_selection_matches_a_direct_count(water_run, tmp_path):
    out = tmp_path / "a"
    argv = ["analyze", str(water_run), "--what", "coordination", "--cation", "resname NA",
            "--partner", "H2O=resname HOH and name O", "--cutoffs", "H2O=0.32", "--out",
            str(out)]
    assert main(argv) == 0
    per_frame = pd.read_csv(out / "coordination_per_frame.csv")
    col = next(c for c in per_frame.columns if "H2O" in c)
    u = mda.Universe(str(water_run / "topology.pdb"), str(water_run / "trajectory.dcd"))
    na, o = u.select_atoms("resname NA"), u.select_atoms("resname HOH and name O")
    want = [int(np.sum(distance_array(na.positions, o.positions, box=ts.dimensions) <= 3.2))
            for ts in u.trajectory]
    np.testing.assert_array_equal(per_frame[col].to_numpy()[:len(want)], want)
    assert 3 <= np.mean(want) <= 9  # a hydrated Na+


@pytest.mark.parametrize("argv, needle", [
    (["--cation", "resname XX"], "--cation"),
    (["--cation", "resname NA", "--partner", "H2O"], "KIND=SELECTION"),
    (["--cation", "resname NA", "--partner", "H2O=bogus((("], "--partner H2O"),
])
def test_bad_selections_exit_2(water_run, tmp_path, capsys, argv, needle):
    out = tmp_path / "b"
    assert main(["analyze", str(water_run), "--out", str(out), *argv]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()
