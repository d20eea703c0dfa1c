"""Windows are seeded inside their walls, and a window whose wall let go never reaches the
estimator. Expected values are computed here by brute force or from the analytic potential,
not by the code under test."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from predesolv.cli import main
from predesolv.config.freeenergy import BiasConfig
from predesolv.testing import write_double_well
from predesolv.workflows.protocol import seed_frames
from predesolv.workflows.wallcheck import (
    WallEscapeError,
    check_walls,
    inside_walls,
    worst_escape,
)

KB = 0.00831446261815324  # kJ/mol/K (CODATA 2018 R, as OpenMM)


def _synthetic_pull(rng: np.random.Generator, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """A distance pulled from ~1.5 nm to ~0.45 nm with noise, and a coordination number that
    wanders independently of it (as CN(EC) does during a distance pull)."""
    d = np.linspace(rng.uniform(1.0, 1.6), rng.uniform(0.40, 0.50), n)
    d += rng.normal(0.0, 0.03, n)
    cn = np.clip(3.0 + np.cumsum(rng.normal(0.0, 0.25, n)), 0.0, 6.0)
    return d, cn


@pytest.mark.parametrize("seed", range(40))
def test_seed_frames_never_start_outside_a_wall(seed):
    rng = np.random.default_rng(seed)
    d, cn = _synthetic_pull(rng)
    upper = 0.55
    centres = [1.0, 2.0, 3.0, 4.0]
    picks = seed_frames(cn, inside_walls(d[:, None], [(None, upper)]), centres)
    for c, f in zip(centres, picks, strict=True):
        assert d[f] <= upper
        # brute force: the inside frame nearest in CN (first one on ties)
        best = min((i for i in range(len(d)) if d[i] <= upper), key=lambda i: abs(cn[i] - c))
        assert abs(cn[f] - c) == abs(cn[best] - c)


def test_nearest_frame_alone_would_start_outside():
    """What the old seeding did (nearest CN over all frames) starts windows outside the wall
    for most of these pulls: the case the wall-aware choice exists for."""
    outside = 0
    for seed in range(40):
        d, cn = _synthetic_pull(np.random.default_rng(seed))
        outside += any(d[int(np.argmin(np.abs(cn - c)))] > 0.55 for c in (1.0, 2.0, 3.0, 4.0))
    assert outside >= 30


def test_inside_walls_both_sides_and_none_inside():
    v = np.array([[0.1, 5.0], [0.3, 2.0], [0.6, 2.0], [0.3, 0.5]])
    ok = inside_walls(v, [(0.2, 0.5), (1.0, None)])
    assert ok.tolist() == [False, True, False, False]
    with pytest.raises(ValueError, match="no frame"):
        seed_frames(v[:, 0], np.zeros(4, bool), [0.3])


def test_worst_escape_by_hand():
    past, at = worst_escape(np.array([0.50, 0.58, 0.71, 0.52]), None, 0.55)
    assert at == 2 and past == pytest.approx(0.16)
    past, at = worst_escape(np.array([0.3, -0.4, 0.0]), -0.1, 0.1)
    assert at == 1 and past == pytest.approx(0.3)
    assert worst_escape(np.array([0.0, 0.05]), -0.1, 0.1)[0] == 0.0


def _bias(k: str = "2000 kJ/mol/nm**2") -> BiasConfig:
    return BiasConfig.model_validate({
        "cv": {"type": "coordination", "cation": "cation[0]", "partner": "EC",
               "r0": "0.31 nm"},
        "center": 2.0, "k": "50 kJ/mol",
        "walls": [{"cv": {"type": "distance", "group_a": "cation[0]", "group_b": [5]},
                   "upper": "0.55 nm", "k": k}]})


def test_check_walls_allows_five_sigma_and_names_the_window():
    sigma = math.sqrt(KB * 298.0 / 2000.0)  # nm: thermal width of the wall at 298 K
    check_walls("w000", _bias(), {0: np.array([0.5, 0.55 + 4.9 * sigma])}, 298.0)
    with pytest.raises(WallEscapeError) as err:
        check_walls("w001", _bias(), {0: np.array([0.5, 1.525, 0.6])}, 298.0)
    msg = str(err.value)
    assert "window w001" in msg and "1.525 nm" in msg and "upper 0.55" in msg
    assert f"{5 * sigma:.3g} nm" in msg


def _fighting_config(tmp: Path, k_wall: float) -> Path:
    """Double well (from_files); window w001's umbrella (centre +0.5 nm, k 5000) pulls the
    particle past a wall at x - x0 = 0 nm."""
    dw = write_double_well(tmp / "in", mass_amu=10.0)
    cv = {"type": "position", "group": [0], "axis": "x", "origin": f"{dw.center_nm} nm"}
    cfg = {
        "system": {"from_files": {"system_xml": str(dw.system_xml), "pdb": str(dw.pdb)}},
        "simulation": {"platform": "Reference", "temperature": "300 K", "timestep": "2 fs",
                       "friction": "5 /ps", "seed": 3},
        "stages": [{"type": "minimize"}],
        "output": {"directory": str(tmp / "pmf")},
        "pmf": {"cv": cv, "windows": {"values": ["-0.5 nm", "0.5 nm"]},
                "k": "5000 kJ/mol/nm**2",
                "walls": [{"cv": cv, "upper": "0.0 nm", "k": f"{k_wall} kJ/mol/nm**2"}],
                "stages": [{"type": "production", "duration": "4 ps"}],
                "sample_interval": "0.02 ps",
                "estimator": {"bins": 10, "bootstraps": 0, "decorrelate": False,
                              "min_effective_samples": 2}},
    }
    path = tmp / "pmf.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_window_whose_umbrella_beats_its_wall_is_refused(tmp_path, capsys):
    """Analytic: umbrella k_u = 5000 at +0.5 nm against a wall k_w = 1000 at 0 nm puts the
    particle at k_u c / (k_u + k_w) = 0.417 nm (the double well adds < 20 kJ/mol/nm there),
    far past 5 sqrt(kT/k_w) = 0.25 nm: w001 must be refused, by name, before MBAR."""
    path = _fighting_config(tmp_path, 1000.0)
    assert main(["pmf", str(path), "--serial"]) == 1
    err = capsys.readouterr().err
    assert "window w001" in err and "did not hold" in err
    assert not (tmp_path / "pmf" / "pmf.csv").exists()
    state = pd.read_csv(tmp_path / "pmf" / "windows" / "w001" / "state.csv")
    assert state["wall0 (nm)"].max() > 5 * math.sqrt(KB * 300.0 / 1000.0)


def test_wall_columns_recorded_and_held(tmp_path):
    """Windows inside their wall (centres -0.5 and -0.3 nm, wall at 0 nm) are estimated; the
    wall's CV is recorded beside the umbrella's (the same CV here, so equal)."""
    path = _fighting_config(tmp_path, 1000.0)
    data = yaml.safe_load(path.read_text())
    data["pmf"]["windows"] = {"values": ["-0.5 nm", "-0.3 nm"]}
    path.write_text(yaml.safe_dump(data))
    assert main(["pmf", str(path), "--serial"]) == 0
    state = pd.read_csv(tmp_path / "pmf" / "windows" / "w001" / "state.csv")
    np.testing.assert_allclose(state["wall0 (nm)"], state["cv (nm)"], atol=1e-6)
    assert (tmp_path / "pmf" / "pmf.csv").is_file()


def test_window_recorded_before_wall_columns_is_checked_on_its_trajectory(tmp_path, capsys):
    """A window whose state.csv predates the wall columns: the walls are checked on its
    trajectory frames instead, and the same window is refused."""
    path = _fighting_config(tmp_path, 1000.0)
    assert main(["pmf", str(path), "--serial"]) == 1
    for w in ("w000", "w001"):
        state = tmp_path / "pmf" / "windows" / w / "state.csv"
        df = pd.read_csv(state)
        df.drop(columns=["wall0 (nm)"]).to_csv(state, index=False)
    capsys.readouterr()
    assert main(["pmf", str(path), "--estimate-only"]) == 1
    err = capsys.readouterr().err
    assert "window w001" in err and "trajectory frames" in err
