"""The Python API equals the CLI: load_config, build, BuiltSystem.create_simulation, run,
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
    sim = built.create_simulation(cfg.simulation)
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
    import predesolv.builder
    import predesolv.runner

    assert callable(predesolv.build) and predesolv.build.__module__ == "predesolv"
