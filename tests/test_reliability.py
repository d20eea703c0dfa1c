"""Reliability of the run directory: one writer, verified checkpoints, config drift on resume,
prompt signals, faults while running. Tiny NaCl/water box on CPU/Reference."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import openmm
import pandas as pd
import pytest
from conftest import DATA, FlagAfter, base_config
from openmm import unit

import predesolv.runner as runner_mod
from predesolv import layout
from predesolv.builder import build_system
from predesolv.cli import main
from predesolv.config import load_config
from predesolv.errors import Interrupted
from predesolv.rundir import RunDir
from predesolv.runner import Runner


def _reference_cfg(run_dir: Path, write_config, production: str = "0.06 ps") -> Path:
    cfg = base_config(run_dir)
    cfg["simulation"]["platform"] = "Reference"
    cfg["stages"] = [{"type": "nvt", "duration": "0.02 ps"},
                     {"type": "production", "duration": production}]
    cfg["output"].update(checkpoint_interval="0.02 ps", state_interval="0.02 ps",
                         trajectory={"interval": "0.02 ps"})
    return write_config(cfg, f"{run_dir.name}.yaml")


def _interrupted_run(run_dir: Path, cfg_path: Path, monkeypatch, checks: int = 4) -> None:
    """Run until the flag trips inside production (nvt block, stage end, production blocks)."""
    cfg = load_config(cfg_path)
    monkeypatch.setattr(runner_mod, "_InterruptFlag", lambda: FlagAfter(checks))
    with pytest.raises(Interrupted):
        Runner(cfg, build_system(cfg.system), run_dir).run()
    monkeypatch.undo()


def _progress(run_dir: Path) -> dict:
    return json.loads((run_dir / layout.PROGRESS).read_text())


def _one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------ one writer
def test_second_writer_refused_while_first_holds_the_lock(tmp_path, write_config, capsys):
    run_dir = tmp_path / "run"
    holder = RunDir(run_dir)
    holder.acquire()  # the "first" run (flock: a second open file description conflicts)
    try:
        code = main(["run", str(write_config(base_config(run_dir)))])
        line = _one_line(capsys.readouterr().err)
        assert code == 2 and f"pid {os.getpid()}" in line and socket.gethostname() in line
        assert sorted(p.name for p in run_dir.iterdir()) == [layout.LOCK]
    finally:
        holder.release()


def test_overwrite_and_resume_of_a_live_run_refused(tmp_path, write_config, capsys):
    run_dir = tmp_path / "run"
    cfg_path = write_config(base_config(run_dir))
    assert main(["run", str(cfg_path)]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()
              if p.is_file() and p.name != layout.LOCK}
    holder = RunDir(run_dir)
    holder.acquire()
    try:
        for extra in (["--overwrite"], ["--resume"]):
            assert main(["run", str(cfg_path), *extra]) == 2
            assert "in use by another predesolv process" in _one_line(capsys.readouterr().err)
    finally:
        holder.release()
    after = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()
             if p.is_file() and p.name != layout.LOCK}
    assert before == after


def test_concurrent_cli_runs(tmp_path, write_config):
    """Two real processes into one new directory: exactly one runs, the other exits 2."""
    cfg = base_config(tmp_path / "run")
    cfg["stages"][2]["duration"] = "2 ps"
    cfg_path = write_config(cfg)
    env = dict(os.environ, OPENMM_CPU_THREADS="1")
    cmd = [sys.executable, "-m", "predesolv", "run", str(cfg_path)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    t0 = time.time()
    while not (tmp_path / "run" / layout.LOCK).exists() and time.time() - t0 < 30:
        time.sleep(0.02)
    time.sleep(0.2)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 2 and f"pid {first.pid}" in second.stderr
    df = pd.read_csv(tmp_path / "run" / layout.STATE)
    assert df["step"].is_unique and len(df) == 105  # (0.1 + 2.0) ps / 0.02 ps


def test_lock_released_by_kernel_after_kill_9(tmp_path):
    """A process killed while holding the lock leaves no stale lock."""
    code = ("import sys, time; from predesolv.rundir import RunDir; "
            f"RunDir({str(tmp_path / 'r')!r}).acquire(); print('locked', flush=True); "
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    with pytest.raises(Exception, match="in use"):
        RunDir(tmp_path / "r").acquire()
    proc.kill()
    proc.wait()
    rd = RunDir(tmp_path / "r")
    rd.acquire()
    rd.release()


# ------------------------------------------------------------------ checkpoints
def _final_positions(run_dir: Path) -> np.ndarray:
    st = openmm.XmlSerializer.deserialize((run_dir / layout.FINAL_STATE).read_text())
    return st.getPositions(asNumpy=True).value_in_unit(unit.nanometer)


@pytest.mark.parametrize("size", [1000, 20000])
def test_truncated_binary_checkpoint_falls_back_to_xml(size, tmp_path, write_config,
                                                       monkeypatch):
    ref = tmp_path / "ref"
    Runner(load_config(_reference_cfg(ref, write_config)),
           build_system(load_config(_reference_cfg(ref, write_config)).system), ref).run()
    run_dir = tmp_path / "b"
    cfg_path = _reference_cfg(run_dir, write_config)
    _interrupted_run(run_dir, cfg_path, monkeypatch)
    ck = _progress(run_dir)["checkpoints"][0]
    chk = run_dir / ck["chk"]
    chk.write_bytes(chk.read_bytes()[:size])
    assert main(["run", str(cfg_path), "--resume"]) == 0
    log = (run_dir / layout.LOG).read_text()
    assert "truncated or changed" in log and "using the portable State XML" in log
    a = pd.read_csv(ref / layout.STATE)
    b = pd.read_csv(run_dir / layout.STATE)
    assert list(a["step"]) == list(b["step"])
    # Rows up to the checkpoint are identical; after it the random stream restarted, so the
    # trajectories drift apart only slowly: no jump in energy or temperature at the resume.
    n = ck["state_rows"]
    pe, temp = "potential_energy (kJ/mol)", "temperature (K)"
    assert np.array_equal(a[pe][:n], b[pe][:n])
    assert np.allclose(a[pe][n:], b[pe][n:], rtol=0.02)
    assert np.allclose(a[temp][n:], b[temp][n:], atol=25)
    assert np.abs(_final_positions(ref) - _final_positions(run_dir)).max() < 0.05


def test_both_files_damaged_falls_back_to_previous_checkpoint(tmp_path, write_config,
                                                             monkeypatch):
    run_dir = tmp_path / "b"
    cfg_path = _reference_cfg(run_dir, write_config, production="0.1 ps")
    _interrupted_run(run_dir, cfg_path, monkeypatch, checks=6)
    prog = _progress(run_dir)["checkpoints"]
    assert len(prog) == 2 and prog[0]["global_step"] > prog[1]["global_step"]
    for key in ("chk", "xml"):
        (run_dir / prog[0][key]).write_bytes(b"garbage")
    assert main(["run", str(cfg_path), "--resume"]) == 0
    assert "falling back to the previous checkpoint" in (run_dir / layout.LOG).read_text()
    df = pd.read_csv(run_dir / layout.STATE)
    assert df["step"].is_unique and len(df) == 6  # (0.02 + 0.1) / 0.02
    times = _dcd_times(run_dir)
    assert len(times) == 5 and np.all(np.diff(times) > 0)


def _dcd_times(run_dir: Path) -> list[float]:
    import warnings

    import MDAnalysis as mda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(run_dir / layout.TOPOLOGY), str(run_dir / "trajectory.dcd"))
        return [round(ts.time, 6) for ts in u.trajectory]


def test_stale_checkpoints_are_removed(tmp_path, write_config, monkeypatch):
    run_dir = tmp_path / "b"
    cfg_path = _reference_cfg(run_dir, write_config, production="0.1 ps")
    _interrupted_run(run_dir, cfg_path, monkeypatch, checks=5)
    stale = run_dir / layout.CHECKPOINTS / "step000000000001.chk"  # left by a killed writer
    stale.write_bytes(b"x")
    assert main(["run", str(cfg_path), "--resume"]) == 0
    names = sorted(p.name for p in (run_dir / layout.CHECKPOINTS).iterdir())
    kept = {Path(c[k]).name for c in _progress(run_dir)["checkpoints"] for k in ("chk", "xml")}
    assert set(names) == kept and not stale.exists()


@pytest.mark.parametrize("damage, needle", [
    ("progress", "progress.json is damaged"),
    ("checkpoints", "no checkpoint passed verification"),
    ("xml_only_finished", "no checkpoint passed verification"),
])
def test_damaged_run_directory_is_one_line(damage, needle, tmp_path, write_config,
                                           monkeypatch, capsys):
    import shutil

    run_dir = tmp_path / "b"
    cfg_path = _reference_cfg(run_dir, write_config)
    _interrupted_run(run_dir, cfg_path, monkeypatch, checks=2)  # stops after nvt (complete)
    if damage == "progress":
        (run_dir / layout.PROGRESS).write_text('{"checkpoints": [{"stage": ')
    elif damage == "checkpoints":
        shutil.rmtree(run_dir / layout.CHECKPOINTS)
    else:  # a finished stage needs its State XML to hand over: truncate it
        xml = run_dir / _progress(run_dir)["checkpoints"][0]["xml"]
        xml.write_text(xml.read_text()[:500])
    capsys.readouterr()
    code = main(["run", str(cfg_path), "--resume"])
    line = _one_line(capsys.readouterr().err)
    assert code in (1, 2) and needle in line


def test_finished_run_missing_final_state_is_rewritten(tmp_path, write_config):
    run_dir = tmp_path / "r"
    cfg_path = _reference_cfg(run_dir, write_config)
    assert main(["run", str(cfg_path)]) == 0
    expected = _final_positions(run_dir)
    (run_dir / layout.FINAL_STATE).unlink()
    assert main(["run", str(cfg_path), "--resume"]) == 0
    assert np.array_equal(_final_positions(run_dir), expected)
    assert "final_state.xml was missing" in (run_dir / layout.LOG).read_text()


def test_deleted_trajectory_is_refused(tmp_path, write_config, monkeypatch, capsys):
    run_dir = tmp_path / "b"
    cfg_path = _reference_cfg(run_dir, write_config, production="0.1 ps")
    _interrupted_run(run_dir, cfg_path, monkeypatch, checks=5)
    assert _progress(run_dir)["checkpoints"][0]["frames"] > 0
    (run_dir / "trajectory.dcd").unlink()
    assert main(["run", str(cfg_path), "--resume"]) == 2
    assert "trajectory.dcd is missing" in _one_line(capsys.readouterr().err)


# ------------------------------------------------------------------ config drift
def _with(cfg_path: Path, edit) -> Path:
    import yaml

    data = yaml.safe_load(cfg_path.read_text())
    edit(data)
    out = cfg_path.with_name("changed.yaml")
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def test_resume_refuses_changed_physics(tmp_path, write_config, monkeypatch, capsys):
    run_dir = tmp_path / "b"
    cfg_path = _reference_cfg(run_dir, write_config)
    _interrupted_run(run_dir, cfg_path, monkeypatch)

    def hotter_and_longer(d):
        d["simulation"]["temperature"] = "350 K"
        d["stages"][1]["duration"] = "0.1 ps"

    capsys.readouterr()
    assert main(["run", str(_with(cfg_path, hotter_and_longer)), "--resume"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "simulation.temperature: 300" in line and "350" in line
    assert "stages[1].duration" in line and "--extend" in line
    # Not physics: platform and progress display may change; seeds left out are kept.
    def cosmetic(d):
        d["simulation"]["platform"] = "CPU"
        d["simulation"].pop("seed")
        d["output"]["progress"] = "on"

    assert main(["run", str(_with(cfg_path, cosmetic)), "--resume"]) == 0


def test_extend_allows_a_longer_last_stage_only(tmp_path, write_config, capsys):
    run_dir = tmp_path / "r"
    cfg_path = _reference_cfg(run_dir, write_config)
    assert main(["run", str(cfg_path)]) == 0
    longer = _with(cfg_path, lambda d: d["stages"][1].update(duration="0.1 ps"))
    assert main(["run", str(longer), "--resume"]) == 2  # needs --extend
    capsys.readouterr()
    assert main(["run", str(longer), "--resume", "--extend"]) == 0
    assert len(_dcd_times(run_dir)) == 5 and pd.read_csv(run_dir / layout.STATE)["step"].is_unique
    assert load_config(run_dir / layout.CONFIG).stages[1].duration.value_in_unit(
        unit.picosecond) == pytest.approx(0.1)
    shorter = _with(cfg_path, lambda d: d["stages"][1].update(duration="0.04 ps"))
    assert main(["run", str(shorter), "--resume", "--extend"]) == 2
    assert main(["run", str(cfg_path), "--extend"]) == 2  # --extend without --resume


# ------------------------------------------------------------------ signals
def test_interrupt_checkpoint_comes_before_the_block_boundary(tmp_path, write_config,
                                                               monkeypatch):
    """Blocks are bounded by wall time, not only by 1000 steps or the checkpoint interval."""
    cfg = base_config(tmp_path / "r")
    cfg["stages"] = [{"type": "production", "duration": "4 ps"}]  # 2000 steps
    cfg["output"]["checkpoint_interval"] = "4 ps"
    cfg_path = write_config(cfg)
    monkeypatch.setattr(runner_mod, "SIGNAL_LATENCY_S", 0.02)
    _interrupted_run(tmp_path / "r", cfg_path, monkeypatch, checks=3)
    step = _progress(tmp_path / "r")["checkpoints"][0]["global_step"]
    assert 0 < step < 1000 and step % 1000 != 0


def test_sigterm_is_honoured_within_seconds(tmp_path, write_config):
    cfg = base_config(tmp_path / "r")
    cfg["stages"][2]["duration"] = "40 ps"
    cfg["output"].update(checkpoint_interval="40 ps")
    cfg_path = write_config(cfg)
    proc = subprocess.Popen([sys.executable, "-m", "predesolv", "run", str(cfg_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, OPENMM_CPU_THREADS="1"))
    t0 = time.time()
    while "nvt1" not in (tmp_path / "r" / layout.LOG).read_text(errors="ignore") \
            if (tmp_path / "r" / layout.LOG).exists() else True:
        assert time.time() - t0 < 120 and proc.poll() is None
        time.sleep(0.05)
    time.sleep(1.0)
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert time.time() - sent < runner_mod.SIGNAL_LATENCY_S + 8
    ck = _progress(tmp_path / "r")["checkpoints"][0]
    assert ck["stage"] == "production2" and not ck["stage_complete"]


def test_sigterm_during_build_exits_cleanly(tmp_path, write_config):
    import yaml

    cfg = yaml.safe_load((Path(__file__).parents[1] / "examples" / "default.yaml").read_text())
    cfg["output"]["directory"] = str(tmp_path / "r")
    cfg_path = write_config(cfg)
    proc = subprocess.Popen([sys.executable, "-m", "predesolv", "run", str(cfg_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not (tmp_path / "r" / layout.LOCK).exists():
        assert time.time() - t0 < 60 and proc.poll() is None
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "SIGTERM" in err


# ------------------------------------------------------------------ faults while running
def test_minimisation_blow_up_names_the_stage(tmp_path, write_config, capsys):
    """Two atoms on one spot: the minimiser fails; exit 1 naming the stage, logged."""
    from openmm import app

    pdb = app.PDBFile(str(DATA / "nacl_water.pdb"))
    pos = pdb.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    pos[1] = pos[0]  # Na and Cl on one spot
    bad = tmp_path / "overlap.pdb"
    with open(bad, "w") as fh:
        app.PDBFile.writeFile(pdb.topology, pos * unit.nanometer, fh)
    cfg = base_config(tmp_path / "r")
    cfg["system"]["from_files"]["pdb"] = str(bad)
    capsys.readouterr()
    code = main(["run", str(write_config(cfg))])
    line = _one_line(capsys.readouterr().err)
    assert code == 1 and "minimize0" in line
    assert "failed:" in (tmp_path / "r" / layout.LOG).read_text()


def test_disk_full_names_stage_and_step_then_resumes(tmp_path, write_config, monkeypatch,
                                                     capsys):
    import errno

    import predesolv.rundir as rundir_mod

    run_dir = tmp_path / "r"
    cfg_path = _reference_cfg(run_dir, write_config, production="0.1 ps")
    real = rundir_mod.atomic_write_bytes
    calls = {"n": 0}

    def full_after_some(path, data):
        if "checkpoints" in str(path):
            calls["n"] += 1
            if calls["n"] > 4:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(rundir_mod, "atomic_write_bytes", full_after_some)
    capsys.readouterr()
    assert main(["run", str(cfg_path)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "production1" in line and "step" in line and "free space, then --resume" in line
    monkeypatch.undo()
    assert main(["run", str(cfg_path), "--resume"]) == 0
    assert pd.read_csv(run_dir / layout.STATE)["step"].is_unique


def test_incomplete_inputs_are_not_a_run(tmp_path, write_config, capsys):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / layout.CONFIG).write_text("partial")  # a run that died writing its inputs
    cfg_path = write_config(base_config(run_dir))
    assert main(["run", str(cfg_path), "--resume"]) == 0
    assert "incomplete run" in capsys.readouterr().err
    assert RunDir(run_dir).has_inputs() and _progress(run_dir)["completed"] is True


def test_run_files_have_normal_permissions(tmp_path, write_config):
    old = os.umask(0o022)
    try:
        run_dir = tmp_path / "r"
        assert main(["run", str(_reference_cfg(run_dir, write_config))]) == 0
    finally:
        os.umask(old)
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    modes = {str(p.relative_to(run_dir)): stat.S_IMODE(p.stat().st_mode) for p in files}
    assert modes and all(m == 0o644 for m in modes.values()), modes


def test_api_resume_repartitions_masses_exactly_once(tmp_path, write_config, monkeypatch):
    """A resumed run integrates the stored system.xml; its H masses equal the config's
    value and a fresh run's (read from the XML text, not through predesolv)."""
    import xml.etree.ElementTree as ET

    import predesolv

    run_dir = tmp_path / "b"
    cfg_path = _reference_cfg(run_dir, write_config)
    import yaml

    data = yaml.safe_load(cfg_path.read_text())
    data["simulation"]["hydrogen_mass"] = "2 amu"
    cfg_path.write_text(yaml.safe_dump(data))
    _interrupted_run(run_dir, cfg_path, monkeypatch)
    cfg = load_config(cfg_path)
    runner = Runner.resume(run_dir, config=cfg)
    fresh = Runner(cfg, build_system(cfg.system), tmp_path / "fresh")
    masses = [runner.system.getParticleMass(i).value_in_unit(unit.dalton)
              for i in range(runner.system.getNumParticles())]
    assert masses == [fresh.system.getParticleMass(i).value_in_unit(unit.dalton)
                      for i in range(fresh.system.getNumParticles())]
    root = ET.parse(run_dir / layout.SYSTEM).getroot()
    stored = [float(p.get("mass")) for p in root.find("Particles")]
    top = ET.parse(DATA / "nacl_water.xml").getroot()
    original = [float(p.get("mass")) for p in top.find("Particles")]
    h = [i for i, m in enumerate(original) if abs(m - 1.008) < 1e-3]
    assert h and all(stored[i] == pytest.approx(2.0) for i in h)
    assert sum(stored) == pytest.approx(sum(original))  # mass moved, not created
    assert predesolv.run(cfg, out=run_dir, resume=True).steps == 40  # (0.02 + 0.06) ps / 2 fs
    root = ET.parse(run_dir / layout.SYSTEM).getroot()
    assert [float(p.get("mass")) for p in root.find("Particles")] == stored


def test_old_flat_progress_record_still_resumes(tmp_path, write_config, monkeypatch):
    """A run directory written by predesolv 0.1 (flat progress.json, no hashes) resumes;
    the log says the checkpoint could not be verified."""
    run_dir = tmp_path / "b"
    cfg_path = _reference_cfg(run_dir, write_config)
    _interrupted_run(run_dir, cfg_path, monkeypatch)
    ck = _progress(run_dir)["checkpoints"][0]
    old = {"state_rows": ck["state_rows"], "frames": ck["frames"],
           "stage_index": ck["stage_index"], "stage": ck["stage"],
           "stage_step": ck["stage_step"], "stage_complete": ck["stage_complete"],
           "global_step": ck["global_step"], "time_ps": ck["time_ps"],
           "has_velocities": ck["has_velocities"], "checkpoint": ck["chk"],
           "checkpoint_xml": ck["xml"], "platform": ck["platform"], "completed": False}
    (run_dir / layout.PROGRESS).write_text(json.dumps(old))
    assert main(["run", str(cfg_path), "--resume"]) == 0
    assert "not verified" in (run_dir / layout.LOG).read_text()
    df = pd.read_csv(run_dir / layout.STATE)
    assert df["step"].is_unique and len(df) == 4  # (0.02 + 0.06) ps / 0.02 ps
    assert _progress(run_dir)["completed"] is True
