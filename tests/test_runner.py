"""Runner: outputs, resume after kill -9 and Ctrl-C, blow-up handling, HMR, frozen atoms."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import openmm
import pandas as pd
import pytest
from conftest import DATA, FlagAfter, base_config
from openmm import unit

from predesolv.cli import main
from predesolv.reporters import degrees_of_freedom


def _times_dcd(run_dir: Path) -> list[float]:
    import MDAnalysis as mda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(run_dir / "topology.pdb"), str(run_dir / "trajectory.dcd"))
        return [round(ts.time, 6) for ts in u.trajectory]


def test_run_writes_complete_run_directory(tmp_path, write_config, capsys):
    run_dir = tmp_path / "run"
    assert main(["run", str(write_config(base_config(run_dir)))]) == 0
    for name in ("config.yaml", "provenance.json", "system.xml", "topology.pdb",
                 "metadata.json", "state.csv", "trajectory.dcd", "progress.json",
                 "final_state.xml", "log.txt"):
        assert (run_dir / name).is_file(), name
    # 0.4 ps production / 0.02 ps = 20 frames; (0.1 + 0.4) / 0.02 = 25 state rows.
    times = _times_dcd(run_dir)
    assert len(times) == 20
    assert times[0] == pytest.approx(0.12) and times[-1] == pytest.approx(0.5)
    import mdtraj

    traj = mdtraj.load(str(run_dir / "trajectory.dcd"), top=str(run_dir / "topology.pdb"))
    assert traj.n_frames == 20 and traj.n_atoms == 770
    df = pd.read_csv(run_dir / "state.csv")
    assert len(df) == 25 and df["step"].is_unique
    assert list(df["stage"].unique()) == ["nvt1", "production2"]
    assert np.all(np.isfinite(df["potential_energy (kJ/mol)"]))
    assert 150 < df["temperature (K)"].iloc[-1] < 450
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["platform"] == "CPU" and prov["simulation_seed"] == 11
    assert "openmm" in prov["versions"]
    # The resolved config is itself a valid config that reproduces the run settings.
    assert main(["validate", str(run_dir / "config.yaml")]) == 0
    # A finished run is never overwritten silently.
    assert main(["run", str(write_config(base_config(run_dir)))]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_degrees_of_freedom_excludes_frozen_and_constraints():
    system = openmm.XmlSerializer.deserialize((DATA / "nacl_water.xml").read_text())
    n = system.getNumParticles()
    n_con = system.getNumConstraints()
    has_cmm = any(isinstance(f, openmm.CMMotionRemover) for f in system.getForces())
    assert degrees_of_freedom(system) == 3 * n - n_con - 3 * has_cmm
    # Freeze a whole water (O, H, H): its 9 dof and its 3 constraints disappear.
    o = next(i for i in range(n) if system.getParticleMass(i).value_in_unit(unit.dalton) > 15)
    for i in (o, o + 1, o + 2):
        system.setParticleMass(i, 0.0)
    cons = sum(1 for k in range(n_con) if system.getConstraintParameters(k)[0] in (o, o + 1, o + 2))
    assert cons == 3
    assert degrees_of_freedom(system) == 3 * (n - 3) - (n_con - 3) - 3 * has_cmm


def test_frozen_particles_do_not_move(tmp_path, write_config):
    system = openmm.XmlSerializer.deserialize((DATA / "nacl_water.xml").read_text())
    frozen = [i for i in range(system.getNumParticles())
              if system.getParticleMass(i).value_in_unit(unit.dalton) > 20]  # Na, Cl
    for i in frozen:
        system.setParticleMass(i, 0.0)
    xml = tmp_path / "frozen.xml"
    xml.write_text(openmm.XmlSerializer.serialize(system))
    run_dir = tmp_path / "run"
    cfg = base_config(run_dir)
    cfg["system"]["from_files"]["system_xml"] = str(xml)
    cfg["stages"] = cfg["stages"][1:]  # no minimisation: positions stay as in the PDB
    assert main(["run", str(write_config(cfg))]) == 0
    import mdtraj

    traj = mdtraj.load(str(run_dir / "trajectory.dcd"), top=str(run_dir / "topology.pdb"))
    pdb = mdtraj.load(str(DATA / "nacl_water.pdb"))
    box = traj.unitcell_lengths[0]
    for i in frozen:
        d = traj.xyz[:, i, :] - pdb.xyz[0, i, :]
        d -= np.round(d / box) * box  # the DCD is wrapped into the box
        assert np.abs(d).max() < 1e-3


def test_hydrogen_mass_repartitioning(tmp_path, write_config):
    run_dir = tmp_path / "run"
    cfg = base_config(run_dir)
    cfg["simulation"].update(timestep="4 fs", hydrogen_mass="3 amu")
    cfg["stages"][1]["duration"] = "0.12 ps"
    cfg["stages"][2]["duration"] = "0.2 ps"
    cfg["output"].update(state_interval="0.04 ps", checkpoint_interval="0.2 ps",
                         trajectory={"interval": "0.04 ps"})
    assert main(["run", str(write_config(cfg))]) == 0
    before = openmm.XmlSerializer.deserialize((DATA / "nacl_water.xml").read_text())
    after = openmm.XmlSerializer.deserialize((run_dir / "system.xml").read_text())
    m0 = np.array([before.getParticleMass(i).value_in_unit(unit.dalton)
                   for i in range(before.getNumParticles())])
    m1 = np.array([after.getParticleMass(i).value_in_unit(unit.dalton)
                   for i in range(after.getNumParticles())])
    assert m1.sum() == pytest.approx(m0.sum(), rel=1e-12)
    h = np.isclose(m0, 1.008, atol=0.01)
    assert np.allclose(m1[h], 3.0)
    assert np.allclose(m1[np.isclose(m0, 15.999, atol=0.01)], 15.999 - 2 * (3.0 - 1.008), atol=1e-3)


def test_blow_up_is_reported_with_stage_and_step(tmp_path, write_config, capsys):
    """Two overlapping atoms without minimisation: non-finite energy -> exit 1."""
    from openmm import app

    pdb = app.PDBFile(str(DATA / "nacl_water.pdb"))
    pos = pdb.getPositions(asNumpy=True).value_in_unit(unit.nanometer).copy()
    pos[3] = pos[0] + 0.001  # O of water 2 on top of O of water 1
    bad = tmp_path / "overlap.pdb"
    with open(bad, "w") as fh:
        app.PDBFile.writeFile(pdb.topology, pos * unit.nanometer, fh)
    run_dir = tmp_path / "run"
    cfg = base_config(run_dir)
    cfg["system"]["from_files"]["pdb"] = str(bad)
    cfg["stages"] = cfg["stages"][1:]
    code = main(["run", str(write_config(cfg))])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "nvt0" in err and "step" in err and "checkpoint" in err
    assert not (run_dir / "final_state.xml").exists()


def _spawn(config: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, OPENMM_CPU_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "predesolv", "run", str(config), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _wait_for_production(run_dir: Path, proc: subprocess.Popen, timeout: float = 120) -> dict:
    t0 = time.time()
    while time.time() - t0 < timeout:
        prog = run_dir / "progress.json"
        if prog.exists():
            try:
                p = json.loads(prog.read_text())["checkpoints"][0]
            except (json.JSONDecodeError, KeyError, IndexError):
                p = {}
            if p.get("stage", "").startswith("production") and not p.get("stage_complete"):
                return p
        if proc.poll() is not None:
            raise AssertionError(f"run ended early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("production never started")


def _long_config(run_dir: Path, fmt: str = "dcd") -> dict:
    cfg = base_config(run_dir)
    cfg["stages"][2]["duration"] = "3 ps"  # 1500 steps
    cfg["output"].update(checkpoint_interval="0.2 ps", trajectory={"format": fmt,
                                                                   "interval": "0.1 ps"})
    return cfg


def _check_complete(run_dir: Path, n_frames: int, n_rows: int, fmt: str = "dcd") -> None:
    if fmt == "dcd":
        times = _times_dcd(run_dir)
    else:
        import mdtraj

        times = list(np.round(mdtraj.load(str(run_dir / "trajectory.xtc"),
                                          top=str(run_dir / "topology.pdb")).time, 4))
    assert len(times) == n_frames and len(set(times)) == n_frames
    assert np.all(np.diff(times) > 0)
    df = pd.read_csv(run_dir / "state.csv")
    assert len(df) == n_rows and df["step"].is_unique and df["step"].is_monotonic_increasing
    assert json.loads((run_dir / "progress.json").read_text())["completed"] is True


@pytest.mark.parametrize("fmt", ["dcd", "xtc"])
def test_kill_9_then_resume(tmp_path, write_config, fmt):
    run_dir = tmp_path / "run"
    cfg_path = write_config(_long_config(run_dir, fmt))
    proc = _spawn(cfg_path)
    p = _wait_for_production(run_dir, proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert p["stage_complete"] is False
    assert main(["run", str(cfg_path), "--resume"]) == 0
    # 3 ps / 0.1 ps = 30 frames; (0.1 + 3) / 0.02 = 155 state rows.
    _check_complete(run_dir, 30, 155, fmt)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_signal_checkpoints_then_resume(sig, tmp_path, write_config):
    """Ctrl-C and SIGTERM (batch schedulers) write a checkpoint, exit 130, and resume."""
    run_dir = tmp_path / "run"
    cfg_path = write_config(_long_config(run_dir))
    proc = _spawn(cfg_path)
    _wait_for_production(run_dir, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert b"--resume" in err and signal.Signals(sig).name.encode() in err
    prog = json.loads((run_dir / "progress.json").read_text())["checkpoints"][0]
    assert prog["stage"] == "production2" and prog["stage_complete"] is False
    assert (run_dir / prog["chk"]).is_file() and (run_dir / prog["xml"]).is_file()
    assert main(["run", str(cfg_path), "--resume"]) == 0
    _check_complete(run_dir, 30, 155)


def test_resume_without_checkpoint_is_input_error(tmp_path, write_config, capsys):
    code = main(["run", str(write_config(base_config(tmp_path / "none"))), "--resume"])
    assert code == 2 and "no config.yaml" in capsys.readouterr().err


def test_resume_before_first_checkpoint_starts_over(tmp_path, write_config):
    """Killed before any checkpoint (inputs written, no progress.json): --resume restarts."""
    from predesolv.builder import build_system
    from predesolv.config import load_config
    from predesolv.runner import Runner

    run_dir = tmp_path / "run"
    cfg_path = write_config(base_config(run_dir))
    cfg = load_config(cfg_path)
    Runner(cfg, build_system(cfg.system), run_dir).write_inputs(overwrite=False)
    with open(run_dir / "state.csv", "a") as fh:
        fh.write("999,1.0,junk\n")  # a partial row from the killed process
    assert not (run_dir / "progress.json").exists()
    assert main(["run", str(cfg_path), "--resume"]) == 0
    _check_complete(run_dir, 20, 25)




def test_resumed_run_is_bitwise_identical_on_reference(tmp_path, write_config, monkeypatch):
    """The checkpoint carries the Langevin random stream: interrupt + resume reproduces the
    uninterrupted trajectory exactly (Reference platform, deterministic)."""
    import predesolv.runner as runner_mod
    from predesolv.builder import build_system
    from predesolv.config import load_config
    from predesolv.runner import Interrupted, Runner

    def cfg_for(run_dir):
        cfg = base_config(run_dir)
        cfg["simulation"]["platform"] = "Reference"
        cfg["stages"] = [{"type": "nvt", "duration": "0.02 ps"},
                         {"type": "production", "duration": "0.06 ps"}]
        cfg["output"].update(checkpoint_interval="0.02 ps", state_interval="0.02 ps",
                             trajectory={"interval": "0.02 ps"})
        return load_config(write_config(cfg, f"{run_dir.name}.yaml"))

    cfg_a = cfg_for(tmp_path / "a")
    Runner(cfg_a, build_system(cfg_a.system), tmp_path / "a").run()

    cfg_b = cfg_for(tmp_path / "b")
    # trips at: the nvt block, the end of nvt, the first production block
    monkeypatch.setattr(runner_mod, "_InterruptFlag", lambda: FlagAfter(3))
    with pytest.raises(Interrupted):
        Runner(cfg_b, build_system(cfg_b.system), tmp_path / "b").run()
    prog = json.loads((tmp_path / "b" / "progress.json").read_text())["checkpoints"][0]
    assert prog["stage"] == "production1" and prog["stage_complete"] is False
    monkeypatch.undo()
    Runner.resume(tmp_path / "b").run()

    def final_positions(d):
        st = openmm.XmlSerializer.deserialize((d / "final_state.xml").read_text())
        return st.getPositions(asNumpy=True).value_in_unit(unit.nanometer)

    assert np.array_equal(final_positions(tmp_path / "a"), final_positions(tmp_path / "b"))
    sa = pd.read_csv(tmp_path / "a" / "state.csv")
    sb = pd.read_csv(tmp_path / "b" / "state.csv")
    assert list(sa["step"]) == list(sb["step"])
    assert np.array_equal(sa["potential_energy (kJ/mol)"], sb["potential_energy (kJ/mol)"])


def test_progress_bar_only_when_enabled(tmp_path, write_config, capsys):
    """output.progress: 'on' draws a tqdm bar (steps, ns/day, elapsed<remaining) on stderr;
    'off' (and auto without a TTY, as under pytest or in CI logs) writes nothing."""
    for mode, expect in (("on", True), ("off", False), ("auto", False)):
        run_dir = tmp_path / mode
        cfg = base_config(run_dir)
        cfg["stages"] = cfg["stages"][1:]
        cfg["output"]["progress"] = mode
        assert main(["run", str(write_config(cfg, f"{mode}.yaml"))]) == 0
        err = capsys.readouterr().err
        drawn = "ns/day" in err and "production1" in err and re.search(r"\d\d:\d\d<", err)
        assert bool(drawn) is expect, (mode, err)


def test_stop_after_checkpoints_at_the_stop_time_then_resumes(tmp_path, write_config,
                                                              monkeypatch, capsys):
    """--stop-after: once the stop time has passed, a run writes a checkpoint at its next
    block and stops with exit 130 (a stop time already passed stops it at its first MD
    block: no wall-clock race); --resume then finishes it with every frame and row once.
    A stop time set by the CLI reaches the runner through the environment, as in worker
    processes; a bad duration is an input error naming the option."""
    from predesolv.stage_io import STOP_AT_ENV, parse_duration_s

    assert parse_duration_s("3.5 h") == 12600 and parse_duration_s("01:02:03") == 3723
    assert parse_duration_s("50 min") == 3000 and parse_duration_s("90 s") == 90
    run_dir = tmp_path / "run"
    cfg_path = write_config(_long_config(run_dir))
    assert main(["run", str(cfg_path), "--stop-after", "soon"]) == 2
    assert "--stop-after" in capsys.readouterr().err and not run_dir.exists()
    monkeypatch.setenv(STOP_AT_ENV, str(time.time() - 1.0))
    assert main(["run", str(cfg_path)]) == 130
    assert "--stop-after time has passed" in capsys.readouterr().err
    prog = json.loads((run_dir / "progress.json").read_text())
    assert prog["completed"] is False and not prog["checkpoints"][0]["stage_complete"]
    monkeypatch.delenv(STOP_AT_ENV)
    assert main(["run", str(cfg_path), "--resume", "--stop-after", "1 h"]) == 0
    _check_complete(run_dir, 30, 155)
