"""A PMF folder has one owner (predesolv.workflows.pmfdir.PMFDir): physics changes are
refused before MD, a damaged finished window never reaches the estimator, one pmf at a time,
Ctrl-C exits 130 with the command that continues. Tiny analytic double well, Reference."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import double_well_pmf_config

from predesolv.cli import main

HANG_GUARD_S = 1800  # a hung subprocess only, never a speed limit


def _write(tmp: Path, cfg: dict) -> str:
    path = tmp / "pmf.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _samples(root: Path) -> dict[str, bytes]:
    return {w.name: (w / "state.csv").read_bytes() for w in sorted((root / "windows").iterdir())}


@pytest.fixture
def done(tmp_path):
    cfg = double_well_pmf_config(tmp_path)
    assert main(["pmf", _write(tmp_path, cfg), "--serial"]) == 0
    return tmp_path, cfg


@pytest.mark.parametrize("field, value", [
    (("simulation", "temperature"), "310 K"), (("simulation", "timestep"), "1 fs"),
    (("simulation", "seed"), 4), (("pmf", "sample_interval"), "0.04 ps"),
    (("pmf", "k"), "600 kJ/mol/nm**2"),
])
def test_physics_change_is_refused_before_any_md(done, capsys, field, value):
    tmp, cfg = done
    before = _samples(tmp / "pmf")
    cfg[field[0]][field[1]] = value
    path = _write(tmp, cfg)
    capsys.readouterr()
    for extra in ([], ["--estimate-only"]):
        assert main(["pmf", path, "--serial", *extra]) == 2
        err = capsys.readouterr().err
        assert f"{field[0]}.{field[1]}" in err and "--overwrite" in err and "--out" in err
    assert _samples(tmp / "pmf") == before  # nothing ran


def test_estimator_settings_may_change_and_overwrite_starts_anew(done, capsys):
    tmp, cfg = done
    before = _samples(tmp / "pmf")
    cfg["pmf"]["estimator"]["bins"] = 12
    path = _write(tmp, cfg)
    assert main(["pmf", path, "--serial"]) == 0
    assert "2 of 2 windows already complete: skipped" in capsys.readouterr().err
    assert _samples(tmp / "pmf") == before
    cfg["simulation"]["temperature"] = "310 K"
    path = _write(tmp, cfg)
    assert main(["pmf", path, "--serial", "--overwrite"]) == 0
    manifest = json.loads((tmp / "pmf" / "pmf.json").read_text())
    assert manifest["config"]["simulation"]["temperature"].startswith("310")


def test_damaged_finished_window_is_refused_by_name(done, capsys):
    tmp, cfg = done
    state = tmp / "pmf" / "windows" / "w001" / "state.csv"
    lines = state.read_text().splitlines(keepends=True)
    state.write_text("".join(lines[: len(lines) // 2]))
    capsys.readouterr()
    assert main(["pmf", _write(tmp, cfg), "--estimate-only"]) == 2
    err = capsys.readouterr().err
    assert "window w001 is damaged" in err and f"{len(lines) // 2 - 1} rows" in err


def test_second_pmf_on_the_same_folder_is_refused(done, capsys):
    tmp, cfg = done
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from predesolv.rundir import RunDir; RunDir(sys.argv[1]).acquire(); "
        "print('held', flush=True); time.sleep(600)"), str(tmp / "pmf")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        assert main(["pmf", _write(tmp, cfg), "--serial"]) == 2
        assert "another predesolv pmf" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()


def test_ctrl_c_exits_130_with_the_command_that_continues(tmp_path):
    """SIGINT once a window has checkpointed mid-run (event-based: a window that finishes
    before it is seen mid-run is retried 4x longer); then the printed command finishes it."""
    production = 40.0
    for attempt in range(5):
        tmp = tmp_path / f"try{attempt}"
        cfg = double_well_pmf_config(tmp, production)
        path = _write(tmp, cfg)
        proc = subprocess.Popen([sys.executable, "-m", "predesolv", "pmf", path, "--serial"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        w0 = tmp / "pmf" / "windows" / "w000" / "progress.json"
        seen = False
        while proc.poll() is None:
            try:
                p = json.loads(w0.read_text())
            except (OSError, ValueError):
                time.sleep(0.01)
                continue
            if p["checkpoints"] and not p["completed"]:
                proc.send_signal(signal.SIGINT)
                seen = True
                break
            if p["completed"]:
                break
            time.sleep(0.01)
        _, err = proc.communicate(timeout=HANG_GUARD_S)
        if seen:
            break
        production *= 4
    else:
        pytest.fail("the window always finished before it was seen mid-run")
    assert proc.returncode == 130, err[-2000:]
    assert "predesolv pmf CONFIG" in err and "predesolv run" not in err
    assert main(["pmf", path, "--serial"]) == 0
    assert (tmp / "pmf" / "pmf.csv").is_file()


@pytest.mark.parametrize("change, field, text", [
    (lambda c: c["pmf"].update(k="1e308 kJ/mol/nm**2"), "pmf.k", "ω Δt"),
    (lambda c: c["pmf"].update(windows={"start": "-0.12 nm", "stop": "0.12 nm",
                                        "count": 1000}), "pmf.windows", "thermal width"),
    (lambda c: c.update(pull={"cv": c["pmf"]["cv"], "k": "500 kJ/mol/nm**2",
                              "target": "50 nm", "speed": "10 nm/ns"}),
     "pull.target", "half the box"),
])
def test_absurd_settings_refused_before_anything_is_written(tmp_path, capsys, change, field,
                                                            text):
    """k = 1e308 on a 10 amu particle at 2 fs: ω Δt = sqrt(1e308/10) x 0.002 >> 0.63; 1000
    windows over 0.24 nm are 2.4e-4 nm apart, below 0.1 sqrt(kT/k) = 7e-3 nm; a 50 nm target
    in a 6 nm box."""
    cfg = double_well_pmf_config(tmp_path)
    change(cfg)
    assert main(["pmf", _write(tmp_path, cfg), "--serial"]) == 2
    err = capsys.readouterr().err
    assert field in err and text in err
    assert not (tmp_path / "pmf").exists()


def test_stiffness_limit_by_hand():
    """ω Δt = sqrt(k/m) Δt <= 2π/10: at Δt = 2 fs on 23 amu the largest k is
    (0.2π / 0.002 ps)^2 x 23 amu = 2.27e6 kJ/mol/nm² (by hand); 1 % below passes, 1 % above
    is refused naming the field."""
    import math

    from predesolv.errors import ConfigError
    from predesolv.workflows.sanity import check_stiffness

    k_max = (2 * math.pi / 10 / 0.002) ** 2 * 23.0
    assert k_max == pytest.approx(2.27e6, rel=0.01)
    check_stiffness(23.0, 0.99 * k_max, 0.002, "pmf.k")
    check_stiffness(None, 1e308, 0.002, "pmf.k")  # a CV without a mass is not checked
    with pytest.raises(ConfigError, match=r"pmf\.k: .*ω Δt"):
        check_stiffness(23.0, 1.01 * k_max, 0.002, "pmf.k")


def test_pmf_folder_names_are_spelled_only_by_their_owners():
    """Every file and folder name of a PMF folder is spelled in its owners only (PMFDir, the
    protocol that derives the run configs, the estimate's writer); the barrier-scan folder
    has its own owner. Everything else goes through PMFDir."""
    import re

    from predesolv.analysis import pmf_outputs
    from predesolv.workflows import pmfdir

    root = Path(__file__).resolve().parents[1]
    owners = {"predesolv/workflows/pmfdir.py", "predesolv/workflows/protocol.py",
              "analysis/pmf_outputs.py", "predesolv/workflows/barrier_output.py",
              "analysis/fes2d_outputs.py"}
    name = re.compile(r'"(pmf\.csv|windows\.csv|pull\.csv|barriers\.json|overlap\.csv|'
                      r'pmf\.json|fes\.csv|fes\.json|fes\.png|fes_[a-z]+\.csv)"|'
                      r'/ "(windows|pull|start)"')
    offenders = [f"{p.relative_to(root)}:{i + 1}"
                 for d in ("predesolv", "systems", "analysis", "forcefields", "scripts")
                 for p in sorted((root / d).rglob("*.py"))
                 if str(p.relative_to(root)) not in owners
                 for i, line in enumerate(p.read_text().splitlines()) if name.search(line)]
    assert offenders == []
    assert (pmf_outputs.PMF_CSV, pmf_outputs.WINDOWS_CSV, pmf_outputs.BARRIERS_JSON) == (
        pmfdir.PMF_CSV, pmfdir.WINDOWS_CSV, pmfdir.BARRIERS_JSON)


def test_extend_runs_only_the_extra_steps_and_records_it(done, capsys):
    """A longer last window stage: refused without --extend (naming the field and the
    flag), refused with --extend when anything else changes too; with --extend alone every
    window continues from its last checkpoint: its first rows are the earlier run's, byte
    for byte, and it ends with the rows 8 ps at 0.02 ps give (counted here, not by the code)."""
    tmp, cfg = done
    before = _samples(tmp / "pmf")
    cfg["pmf"]["stages"][0]["duration"] = "8 ps"
    path = _write(tmp, cfg)
    capsys.readouterr()
    assert main(["pmf", path, "--serial"]) == 2
    err = capsys.readouterr().err
    assert "pmf.stages[0].duration" in err and "--extend" in err
    both = json.loads(json.dumps(cfg))
    both["simulation"]["temperature"] = "310 K"
    assert main(["pmf", _write(tmp, both), "--serial", "--extend"]) == 2
    assert "simulation.temperature" in capsys.readouterr().err
    assert _samples(tmp / "pmf") == before  # nothing ran
    path = _write(tmp, cfg)
    assert main(["pmf", path, "--serial", "--extend"]) == 0
    after = _samples(tmp / "pmf")
    rows_4ps, rows_8ps = round(4.0 / 0.02), round(8.0 / 0.02)
    for name, old in before.items():
        assert len(old.splitlines()) == 1 + rows_4ps
        assert len(after[name].splitlines()) == 1 + rows_8ps
        assert after[name].startswith(old)  # continued, not rerun
    history = json.loads((tmp / "pmf" / "pmf.json").read_text())["history"]
    assert [(h["field"], h["from"], h["to"]) for h in history] == [
        ("pmf.stages[0].duration", "4.0 ps", "8.0 ps")]
    assert main(["pmf", path, "--serial"]) == 0  # the extended folder is the new normal
    assert "2 of 2 windows already complete" in capsys.readouterr().err


def _production_neff(state: Path) -> float:
    """Effective samples of a window's CV, recomputed here with pymbar from state.csv."""
    import pandas as pd
    from pymbar import timeseries

    df = pd.read_csv(state)
    x = df[df["stage"] == df["stage"].iloc[-1]]["cv (nm)"].to_numpy(float)
    return x.size / float(timeseries.statistical_inefficiency(x))


def test_extend_only_short_extends_the_windows_below_the_gate(tmp_path, capsys):
    """--extend --only-short: the gate sits between the two windows' effective sample counts
    (recomputed here with pymbar), so exactly the poorer window runs to 8 ps (its first rows
    the earlier run's, byte for byte) while the other keeps its 4 ps rows unchanged; the
    manifest keeps 4 ps and records the extended window; a plain rerun runs nothing. A soft
    and a stiff window make the two counts differ."""
    tmp, cfg = tmp_path, double_well_pmf_config(tmp_path)
    cfg["pmf"]["k"] = ["100 kJ/mol/nm**2", "4000 kJ/mol/nm**2"]
    assert main(["pmf", _write(tmp, cfg), "--serial"]) == 0
    root = tmp / "pmf"
    before = _samples(root)
    neff = {w: _production_neff(root / "windows" / w / "state.csv") for w in before}
    poor, rich = sorted(neff, key=neff.__getitem__)
    gate = int(neff[rich])
    assert neff[poor] < gate <= neff[rich], neff  # the two windows differ enough
    cfg["pmf"]["estimator"]["min_effective_samples"] = gate
    cfg["pmf"]["stages"][0]["duration"] = "8 ps"
    path = _write(tmp, cfg)
    capsys.readouterr()
    assert main(["pmf", path, "--serial", "--only-short"]) == 2  # needs --extend
    assert "--only-short goes with --extend" in capsys.readouterr().err
    rc = main(["pmf", path, "--serial", "--extend", "--only-short"])
    err = capsys.readouterr().err
    assert f"extending 1 of 2 windows: {poor}" in err
    after = _samples(root)
    assert after[rich] == before[rich]
    assert len(after[poor].splitlines()) == 1 + round(8.0 / 0.02)
    assert after[poor].startswith(before[poor])
    assert rc == (0 if _production_neff(root / "windows" / poor / "state.csv") >= gate else 2)
    manifest = json.loads((root / "pmf.json").read_text())
    assert manifest["config"]["pmf"]["stages"][0]["duration"].startswith("4")
    assert [(h["from"], h["to"], h["windows"]) for h in manifest["history"]] == [
        ("4.0 ps", "8.0 ps", [poor])]
    cfg["pmf"]["stages"][0]["duration"] = "4 ps"
    cfg["pmf"]["estimator"]["min_effective_samples"] = 2
    assert main(["pmf", _write(tmp, cfg), "--serial"]) == 0
    assert "2 of 2 windows already complete" in capsys.readouterr().err
    assert _samples(root) == after


def test_a_saved_pmf_goes_on_elsewhere_and_extends_without_its_trajectories(done, capsys):
    """pmf --save-state packs the finished folder without the windows' trajectories and
    binary checkpoints (the newest XML stays); --continue unpacks it into another folder and
    --extend runs there: every window's first rows are the original's, byte for byte, it
    ends with the rows 8 ps at 0.02 ps give, writes no trajectory (its frame count is the
    original's) and says why in its log. A trajectory lost by hand, not left out, is still
    refused; a second --continue into the filled folder too."""
    import tarfile

    from predesolv.rundir import RunDir
    from predesolv.state_archive import read_state

    tmp, cfg = done
    root, new, archive = tmp / "pmf", tmp / "elsewhere", tmp / "pmf.tar.xz"
    before = _samples(root)
    assert main(["pmf", _write(tmp, cfg), "--save-state", str(archive)]) == 0
    assert "saved PMF folder" in capsys.readouterr().out
    left = set(read_state(archive).left_out)
    names = set(tarfile.open(archive).getnames())
    frames = {}
    for w in before:
        latest = RunDir(root / "windows" / w).read_progress().latest
        frames[w] = latest.frames
        assert f"windows/{w}/trajectory.dcd" in left and frames[w] > 0
        assert sorted(n for n in names if n.startswith(f"windows/{w}/checkpoints/")) == [
            f"windows/{w}/{latest.xml}"]
    cfg["pmf"]["stages"][0]["duration"] = "8 ps"
    path = _write(tmp, cfg)
    assert main(["pmf", path, "--serial", "--extend", "--out", str(new),
                 "--continue", str(archive)]) == 0
    after = _samples(new)
    for w, old in before.items():
        run = new / "windows" / w
        assert len(after[w].splitlines()) == 1 + round(8.0 / 0.02)
        assert after[w].startswith(old)  # continued, not rerun
        assert not (run / "trajectory.dcd").exists()
        assert RunDir(run).read_progress().latest.frames == frames[w]
        assert "left out of a packed state" in (run / "log.txt").read_text()
    capsys.readouterr()
    assert main(["pmf", path, "--serial", "--out", str(new), "--continue", str(archive)]) == 2
    assert "is not empty" in capsys.readouterr().err
    first = sorted(before)[0]
    (root / "windows" / first / "trajectory.dcd").unlink()
    assert main(["pmf", path, "--serial", "--extend"]) != 0
    assert "trajectory.dcd is missing" in capsys.readouterr().err


def test_save_state_only_short_keeps_the_extension_point_of_the_short_windows(tmp_path,
                                                                              capsys):
    """pmf --save-state --only-short: the window below the gate (its effective samples
    recomputed here with pymbar) keeps its newest checkpoint XML and final state, the other
    loses both; continued elsewhere, --extend --only-short extends exactly the short one."""
    import tarfile

    tmp, cfg = tmp_path, double_well_pmf_config(tmp_path)
    cfg["pmf"]["k"] = ["100 kJ/mol/nm**2", "4000 kJ/mol/nm**2"]
    assert main(["pmf", _write(tmp, cfg), "--serial"]) == 0
    root, archive = tmp / "pmf", tmp / "s.tar.xz"
    before = _samples(root)
    neff = {w: _production_neff(root / "windows" / w / "state.csv") for w in before}
    poor, rich = sorted(neff, key=neff.__getitem__)
    cfg["pmf"]["estimator"]["min_effective_samples"] = int(neff[rich])
    assert neff[poor] < int(neff[rich]) <= neff[rich], neff
    path = _write(tmp, cfg)
    capsys.readouterr()
    assert main(["pmf", path, "--save-state", str(archive), "--only-short"]) == 0
    assert "1 windows at or above the sample gate" in capsys.readouterr().out
    names = set(tarfile.open(archive).getnames())
    assert f"windows/{poor}/final_state.xml" in names
    assert any(n.startswith(f"windows/{poor}/checkpoints/") for n in names)
    assert f"windows/{rich}/final_state.xml" not in names
    assert not any(n.startswith(f"windows/{rich}/checkpoints/") for n in names)
    cfg["pmf"]["stages"][0]["duration"] = "8 ps"
    new = tmp / "elsewhere"
    assert main(["pmf", _write(tmp, cfg), "--serial", "--extend", "--only-short", "--out",
                 str(new), "--continue", str(archive)]) in (0, 2)  # 2: still below the gate
    assert f"extending 1 of 2 windows: {poor}" in capsys.readouterr().err
    after = _samples(new)
    assert after[rich] == before[rich]
    assert len(after[poor].splitlines()) == 1 + round(8.0 / 0.02)
    assert after[poor].startswith(before[poor])
