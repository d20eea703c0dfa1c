"""The Python API equals the CLI: load_config, build, predesolv.create_simulation, run,
analyze."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import openmm
import pytest
from conftest import base_config
from openmm import unit

import predesolv


def test_api_round_trip(tmp_path):
    cfg_dict = base_config(tmp_path / "unused")
    cfg_dict["simulation"]["hydrogen_mass"] = "2 amu"
    cfg = predesolv.load_config(cfg_dict)
    built = predesolv.build(cfg)
    sim = predesolv.create_simulation(built, cfg.simulation)
    # same integrator as the runner: LangevinMiddle, the config's dt/T/friction, and the
    # stage-0 seed derivation written out by hand: (seed + 7919) % (2**31 - 2) + 1
    integ = sim.integrator
    assert isinstance(integ, openmm.LangevinMiddleIntegrator)
    assert integ.getStepSize().value_in_unit(unit.femtosecond) == pytest.approx(2.0)
    assert integ.getTemperature().value_in_unit(unit.kelvin) == pytest.approx(300.0)
    assert integ.getRandomNumberSeed() == (11 + 7919) % (2**31 - 2) + 1
    assert sim.context.getPlatform().getName() == "CPU"
    # same masses as the System the runner writes (read from system.xml as text)
    result = predesolv.run(cfg, out=tmp_path / "run")
    assert result.frames == 20 and result.platform == "CPU"
    stored = [float(p.get("mass")) for p in
              ET.parse(tmp_path / "run" / "system.xml").getroot().find("Particles")]
    masses = [sim.system.getParticleMass(i).value_in_unit(unit.dalton)
              for i in range(sim.system.getNumParticles())]
    assert masses == pytest.approx(stored, abs=1e-9)
    assert 2.0 in stored
    # the same state the runner starts from
    pos = sim.context.getState(getPositions=True).getPositions(asNumpy=True)
    assert pos.value_in_unit(unit.nanometer) == pytest.approx(
        built.positions.value_in_unit(unit.nanometer))
    from predesolv.errors import AnalysisError

    with pytest.raises(AnalysisError, match="no cation"):  # a from_files run without groups
        predesolv.analyze(result.run_dir, "density")
    # resume of a finished run through the API is a no-op that reports the same result
    again = predesolv.run(cfg, out=tmp_path / "run", resume=True)
    assert (again.steps, again.frames) == (result.steps, result.frames)


def test_api_analyze_equals_cli(tmp_path):
    import shutil
    from pathlib import Path

    from predesolv.cli import main

    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "data" / "analysis_run", run)
    api = predesolv.analyze(run, "coordination", cutoffs_nm={"DME": 0.3, "PF6": 0.3},
                            out_dir=tmp_path / "api")
    assert main(["analyze", str(run), "--what", "coordination", "--cutoffs",
                 "DME=0.3,PF6=0.3", "--out", str(tmp_path / "cli")]) == 0
    for name in ("coordination_per_frame.csv", "coordination_by_region.csv"):
        assert api[name].read_text() == (tmp_path / "cli" / name).read_text()


def test_api_errors_are_package_errors(tmp_path):
    from predesolv.errors import ConfigError

    with pytest.raises(ConfigError, match="simulation"):
        predesolv.load_config({"system": {}, "stages": [], "output": {}})
    cfg = predesolv.load_config(base_config(tmp_path / "r"))
    with pytest.raises(ConfigError, match="--extend"):
        predesolv.run(cfg, extend=True)


def test_build_stays_the_api_function_after_internal_imports():
    """Importing predesolv's internals must not replace predesolv.build by a module."""
    import predesolv.api
    import predesolv.builder
    import predesolv.runner

    for verb in ("load_config", "build", "create_simulation", "run", "analyze"):
        assert callable(getattr(predesolv, verb))
        assert getattr(predesolv, verb) is getattr(predesolv.api, verb)


def test_create_simulation_draws_velocities_like_the_runner(tmp_path):
    """Velocities at step 0 are OpenMM's Maxwell-Boltzmann draw with the runner's seed for
    that stage (seed derivation written out by hand), so the kinetic energy is nonzero and
    of the order of (DOF/2) kT (DOF counted here from the System). On this rigid-TIP3P box
    OpenMM's draw lands at 1.8-2.0x (DOF/2) kT (measured; its constraint projection, not
    predesolv's); the Langevin thermostat relaxes it within ~1/friction."""
    cfg = predesolv.load_config(base_config(tmp_path / "unused"))
    built = predesolv.build(cfg)
    sim = predesolv.create_simulation(built, cfg.simulation, stage_index=1)
    v = sim.context.getState(getVelocities=True).getVelocities(asNumpy=True)
    from predesolv.simulation import make_integrator

    ref = openmm.Context(sim.system, make_integrator(cfg.simulation, 1),
                         openmm.Platform.getPlatformByName("CPU"))
    ref.setPeriodicBoxVectors(*built.topology.getPeriodicBoxVectors())
    ref.setPositions(built.positions)
    ref.setVelocitiesToTemperature(300 * unit.kelvin, (11 + 7919 * 2) % (2**31 - 2) + 1)
    v_ref = ref.getState(getVelocities=True).getVelocities(asNumpy=True)
    assert v.value_in_unit(unit.nanometer / unit.picosecond) == pytest.approx(
        v_ref.value_in_unit(unit.nanometer / unit.picosecond), rel=1e-5, abs=1e-6)
    system = sim.system
    moving = sum(system.getParticleMass(i).value_in_unit(unit.dalton) > 0
                 for i in range(system.getNumParticles()))
    cm = any(isinstance(f, openmm.CMMotionRemover) for f in system.getForces())
    dof = 3 * moving - system.getNumConstraints() - (3 if cm else 0)
    ke = sim.context.getState(getEnergy=True).getKineticEnergy().value_in_unit(
        unit.kilojoule_per_mole)
    assert 0.8 < ke / (0.5 * dof * 0.00831446261815324 * 300.0) < 2.5
    cold = predesolv.create_simulation(built, cfg.simulation, velocities=False)
    assert cold.context.getState(getEnergy=True).getKineticEnergy().value_in_unit(
        unit.kilojoule_per_mole) == 0.0


_REPORTING_CHILD = """
import os, signal, sys
import predesolv

class Steps:
    def __init__(self, path, kill_at):
        self.path, self.kill_at = path, kill_at
    def describeNextReport(self, simulation):
        return {"steps": 10 - simulation.currentStep % 10, "periodic": None, "include": []}
    def report(self, simulation, state):
        with open(self.path, "a") as fh:
            fh.write(f"{simulation.currentStep}\\n")
        if simulation.currentStep >= self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # kill -9, mid-production

predesolv.run(predesolv.load_config(sys.argv[1]), reporters=[Steps(sys.argv[2], int(sys.argv[3]))])
"""


def test_run_feeds_user_reporters_and_resumes_after_kill_9(tmp_path):
    """A reporter passed to run() gets production steps only; after kill -9 mid-production,
    a resumed run() feeds its own reporter from the last checkpoint to the end."""
    import subprocess
    import sys

    import yaml

    cfg = base_config(tmp_path / "run")
    cfg["stages"][2]["duration"] = "2 ps"  # production: global steps 50..1050 (2 fs)
    cfg["output"]["checkpoint_interval"] = "0.5 ps"
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    first = tmp_path / "first.txt"
    child = subprocess.run([sys.executable, "-c", _REPORTING_CHILD, str(path), str(first),
                            "650"], capture_output=True, text=True)
    assert child.returncode == -9, child.stderr[-2000:]
    seen = [int(x) for x in first.read_text().split()]
    assert seen == list(range(60, 660, 10))  # production only (nvt ends at step 50)

    class Steps:
        def __init__(self):
            self.steps: list[int] = []

        def describeNextReport(self, simulation):
            return {"steps": 10 - simulation.currentStep % 10, "periodic": None, "include": []}

        def report(self, simulation, state):
            self.steps.append(simulation.currentStep)

    again = Steps()
    result = predesolv.run(predesolv.load_config(path), resume=True, reporters=[again])
    assert result.steps == 1050
    assert again.steps[-1] == 1050 and 60 < again.steps[0] <= 660
    assert again.steps == list(range(again.steps[0], 1060, 10))
