"""Replicas of a PMF (``pmf.replicas``): the spread rule on analytic arrays, and the whole
``predesolv pmf`` path on the analytic double well (folders, seeds, combined sigmas,
adding a replica later)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import double_well_pmf_config

from predesolv.analysis.replicas import combine_replicas
from predesolv.cli import main

KT = 2.494


@pytest.mark.parametrize("seed", range(6))
def test_combined_error_is_bootstrap_and_replica_spread(seed):
    """dF = sqrt(boot² + s²/R) with s the ddof=1 spread of the replicas after each is
    shifted onto the pooled curve (computed here by hand); constant offsets change nothing."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, 21)
    pooled = 3 * x**2 * KT
    boot = np.full(x.size, 0.2)
    reps = pooled + rng.normal(0, 0.3, (3, x.size))
    res = combine_replicas(pooled, boot, reps + np.array([[5.0], [-2.0], [0.0]]),
                           np.full((3, x.size), 0.2), KT)
    low = pooled < 3 * KT
    shifted = np.array([r + np.mean(pooled[low] - r[low]) for r in reps])
    s = np.std(shifted, axis=0, ddof=1)
    assert np.allclose(res.spread_kJ_per_mol, s)
    assert np.allclose(res.dF_kJ_per_mol, np.sqrt(0.2**2 + s**2 / 3))
    assert res.agree and res.warning is None


def test_a_replica_that_departs_is_named():
    x = np.linspace(-1, 1, 21)
    pooled = 3 * x**2 * KT
    reps = np.stack([pooled, pooled.copy()])
    reps[1, 12] += 4 * KT  # one bin of replica 1, inside the low region
    res = combine_replicas(pooled, np.full(x.size, 0.1), reps, np.full((2, x.size), 0.1), KT,
                           labels=["r0", "r1"])
    assert not res.agree and "r1 differs" in res.warning and "bin (12,)" in res.warning


def _config(tmp: Path, replicas: int) -> dict:
    """The double-well PMF of conftest with a third window, ``replicas`` replicas, 10
    bootstraps and a barrier range."""
    cfg = double_well_pmf_config(tmp)
    cfg["pmf"]["windows"] = {"values": ["-0.5 nm", "-0.3 nm", "-0.1 nm"]}
    cfg["pmf"]["replicas"] = replicas
    cfg["pmf"]["estimator"].update(bootstraps=10, ranges={"all": ["-0.6 nm", "0.0 nm"]})
    return cfg


def test_pmf_with_replicas_pools_them_and_states_their_spread(tmp_path, capsys):
    path = tmp_path / "pmf.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, 2)))
    assert main(["pmf", str(path), "--serial"]) == 0
    root = tmp_path / "pmf"
    second = root / "replicas" / "r1" / "windows"
    assert sorted(p.name for p in second.iterdir()) == ["w000", "w001", "w002"]
    seeds = {yaml.safe_load((d / "w000" / "config.yaml").read_text())["simulation"]["seed"]
             for d in (root / "windows", second)}
    assert len(seeds) == 2  # independent replicas
    barrier = json.loads((root / "barriers.json").read_text())["barriers"][0]
    values = barrier["replica_dF_kJ_per_mol"]
    assert len(values) == 2 and barrier["sigma_replicas_kJ_per_mol"] == pytest.approx(
        abs(values[0] - values[1]) / math.sqrt(2))  # std (ddof 1) of two numbers, by hand
    assert barrier["sigma_kJ_per_mol"] >= barrier["sigma_replicas_kJ_per_mol"] / math.sqrt(2)
    table = pd.read_csv(root / "pmf.csv")
    assert {"F_replica0_kJ_per_mol", "F_replica1_kJ_per_mol",
            "replica_spread_kJ_per_mol"} <= set(table.columns)
    # a third replica later: not a physics change; only its windows run
    path.write_text(yaml.safe_dump(_config(tmp_path, 3)))
    capsys.readouterr()
    assert main(["pmf", str(path), "--serial"]) == 0
    err = capsys.readouterr().err
    assert "6 of 9 windows already complete: skipped" in err
    assert "r2/w000 done" in err
    values = json.loads((root / "barriers.json").read_text())["barriers"][0][
        "replica_dF_kJ_per_mol"]
    assert len(values) == 3


def test_alternate_replicas_pull_in_and_out(tmp_path):
    """``replica_pulls: alternate``: replica 1 starts where replica 0's pull ended and pulls
    back to where it began (read from both pull.csv files, not from the code's records)."""
    cfg = _config(tmp_path, 2)
    cv = cfg["pmf"]["cv"]
    cfg["pull"] = {"cv": cv, "k": "500 kJ/mol/nm**2", "target": "-0.1 nm",
                   "speed": "100 nm/ns", "equilibration": "1 ps"}
    cfg["pmf"]["replica_pulls"] = "alternate"
    path = tmp_path / "pmf.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["pmf", str(path), "--serial"]) == 0
    root = tmp_path / "pmf"
    inward = pd.read_csv(root / "pull.csv")
    outward = pd.read_csv(root / "replicas" / "r1" / "pull.csv")
    centre = next(c for c in inward.columns if c.startswith("center"))
    cv = next(c for c in inward.columns if c.startswith("x"))
    assert inward[centre].iloc[0] < -0.4 and inward[centre].iloc[-1] == pytest.approx(-0.1)
    # out: from where the inward pull ended, back to where it began (one 0.01 nm move
    # of the centre per row at this speed)
    assert outward[centre].iloc[0] == pytest.approx(inward[cv].iloc[-1], abs=0.03)
    assert outward[centre].iloc[-1] == pytest.approx(inward[centre].iloc[0], abs=0.011)
    assert not (root / "replicas" / "r1" / "start").exists()  # no start run: it pulls out


def test_a_packed_pmf_leaves_out_the_pulls_once_every_window_is_seeded(tmp_path):
    """pmf --save-state drops a pull's trajectory only when every window it seeds holds its
    start positions: then the continued PMF extends without it (both pulls' work kept in
    pull.csv); with one window of replica 0 not yet written, that pull's frames stay."""
    import shutil
    import tarfile

    cfg = _config(tmp_path, 2)
    cfg["pull"] = {"cv": cfg["pmf"]["cv"], "k": "500 kJ/mol/nm**2", "target": "-0.1 nm",
                   "speed": "100 nm/ns", "equilibration": "1 ps"}
    cfg["pmf"]["replica_pulls"] = "alternate"
    path = tmp_path / "pmf.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["pmf", str(path), "--serial"]) == 0
    root, archive = tmp_path / "pmf", tmp_path / "s.tar.xz"
    assert main(["pmf", str(path), "--save-state", str(archive)]) == 0
    names = set(tarfile.open(archive).getnames())
    assert "pull/trajectory.dcd" not in names and "replicas/r1/pull/trajectory.dcd" not in names
    assert {"pull.csv", "replicas/r1/pull.csv", "pull/final_state.xml"} <= names
    cfg["pmf"]["stages"][-1]["duration"] = "6 ps"
    longer = tmp_path / "longer.yaml"
    longer.write_text(yaml.safe_dump(cfg))
    new = tmp_path / "elsewhere"
    assert main(["pmf", str(longer), "--serial", "--extend", "--out", str(new), "--continue",
                 str(archive)]) == 0
    rows = pd.read_csv(new / "windows" / "w000" / "state.csv")
    assert rows["time (ps)"].iloc[-1] == pytest.approx(
        pd.read_csv(root / "windows" / "w000" / "state.csv")["time (ps)"].iloc[-1] + 2.0)
    shutil.rmtree(root / "windows" / "w001")
    assert main(["pmf", str(path), "--save-state", str(archive)]) == 0
    names = set(tarfile.open(archive).getnames())
    assert "pull/trajectory.dcd" in names and "replicas/r1/pull/trajectory.dcd" not in names
