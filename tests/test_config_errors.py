"""Bad configs: exit status 2, a one-line message naming the field, and no run directory."""

from __future__ import annotations

import copy

import pytest
from conftest import DATA, base_config

from predesolv.cli import main


def _set(path: str, value):
    """Return a mutator setting a dotted path (``stages.1.duration``) to ``value``."""

    def mutate(cfg: dict) -> None:
        keys = path.split(".")
        node = cfg
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


_DELETE = object()


BAD = [
    # (id, mutator, text the message must contain)
    ("timestep-length", _set("simulation.timestep", "2 nm"), "simulation.timestep"),
    ("timestep-no-unit", _set("simulation.timestep", "2"), "simulation.timestep"),
    ("timestep-bare-number", _set("simulation.timestep", 2), "simulation.timestep"),
    ("timestep-negative", _set("simulation.timestep", "-2 fs"), "simulation.timestep"),
    ("timestep-zero", _set("simulation.timestep", "0 fs"), "simulation.timestep"),
    ("timestep-huge", _set("simulation.timestep", "10 fs"), "simulation.timestep"),
    ("timestep-4fs-no-hmr", _set("simulation.timestep", "4 fs"), "hydrogen_mass"),
    ("temperature-unit", _set("simulation.temperature", "300 bar"), "simulation.temperature"),
    ("temperature-negative", _set("simulation.temperature", "-5 K"), "simulation.temperature"),
    ("temperature-missing", _set("simulation.temperature", _DELETE), "simulation.temperature"),
    ("friction-unit", _set("simulation.friction", "1 ps"), "simulation.friction"),
    ("pressure-unit", _set("simulation.pressure", "1 K"), "simulation.pressure"),
    ("hmr-too-light", _set("simulation.hydrogen_mass", "0.5 amu"), "simulation.hydrogen_mass"),
    ("seed-negative", _set("simulation.seed", -1), "simulation.seed"),
    ("platform-unknown", _set("simulation.platform", "CUDAX"), "simulation.platform"),
    ("precision-unknown", _set("simulation.precision", "quad"), "simulation.precision"),
    ("precision-unsupported", _set("simulation.precision", "double"), "simulation.precision"),
    ("device-index-text", _set("simulation.device_index", "first"), "simulation.device_index"),
    ("device-index-on-cpu", _set("simulation.device_index", "0"), "simulation.device_index"),
    ("unknown-top-key", _set("extra", 1), "extra"),
    ("unknown-sim-key", _set("simulation.tempertaure", "300 K"), "simulation.tempertaure"),
    ("unknown-stage-key", _set("stages.1.temperature", "300 K"), "stages[1].temperature"),
    ("stage-type-unknown", _set("stages.1.type", "nve"), "stages[1]"),
    ("duration-negative", _set("stages.1.duration", "-1 ps"), "stages[1].duration"),
    ("duration-zero", _set("stages.1.duration", "0 ps"), "stages[1].duration"),
    ("duration-unit", _set("stages.1.duration", "1 nm"), "stages[1].duration"),
    ("duration-not-multiple", _set("stages.1.duration", "0.003 ps"), "stages[1].duration"),
    ("duration-missing", _set("stages.1.duration", _DELETE), "stages[1].duration"),
    ("stages-empty", _set("stages", []), "stages"),
    ("production-not-last", lambda c: c["stages"].append({"type": "nvt", "duration": "1 ps"}),
     "stages[2]"),
    ("duplicate-stage-names", lambda c: (c["stages"][1].update(name="eq"),
                                         c["stages"][2].update(name="eq")), "name"),
    ("min-tolerance-unit", _set("stages.0.tolerance", "10 K"), "stages[0].tolerance"),
    ("min-iterations-negative", _set("stages.0.max_iterations", -3), "stages[0].max_iterations"),
    ("barostat-unknown", _set("stages.1", {"type": "npt", "duration": "1 ps", "barostat": "zz"}),
     "stages[1].barostat"),
    ("interval-not-multiple", _set("output.state_interval", "0.001 ps"), "output.state_interval"),
    ("traj-format", _set("output.trajectory.format", "trr"), "output.trajectory.format"),
    ("traj-interval-negative", _set("output.trajectory.interval", "-1 ps"),
     "output.trajectory.interval"),
    ("checkpoint-unit", _set("output.checkpoint_interval", "10 K"), "output.checkpoint_interval"),
    ("output-missing", _set("output", _DELETE), "output"),
    ("missing-system-xml", _set("system.from_files.system_xml", "nope.xml"),
     "system.from_files.system_xml"),
    ("missing-pdb", _set("system.from_files.pdb", "nope.pdb"), "system.from_files.pdb"),
    ("no-system", _set("system", {}), "system"),
    ("both-sources", _set("system.electrolyte", {}), "system"),
    ("electrode-without-electrolyte", _set("system", {"electrode": {}}), "electrode"),
    ("pdb-is-not-pdb", _set("system.from_files.pdb", str(DATA / "nacl_water.xml")),
     "system.from_files"),
    ("xml-is-not-system", _set("system.from_files.system_xml", str(DATA / "nacl_water.pdb")),
     "system.from_files.system_xml"),
]


@pytest.mark.parametrize("name, mutate, needle", BAD, ids=[b[0] for b in BAD])
def test_bad_config_exit_2(name, mutate, needle, tmp_path, write_config, capsys):
    run_dir = tmp_path / "run"
    cfg = copy.deepcopy(base_config(run_dir))
    mutate(cfg)
    path = write_config(cfg)
    code = main(["run", str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err, err
    assert err.count("\n") == 1, "the message must be one line"
    assert "Traceback" not in err
    assert not run_dir.exists(), "a rejected config must not create the run directory"


def test_at_least_30_bad_configs():
    assert len(BAD) >= 30


def test_yaml_syntax_error(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("simulation: [unclosed\n")
    assert main(["validate", str(path)]) == 2
    assert "YAML syntax error at line" in capsys.readouterr().err


def test_missing_config_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "none.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_isotropic_npt_with_frozen_particles_from_files(tmp_path, write_config, capsys):
    """A user system with mass-0 particles: isotropic NPT is refused before anything is written."""
    import openmm

    system = openmm.XmlSerializer.deserialize((DATA / "nacl_water.xml").read_text())
    system.setParticleMass(0, 0.0)  # freeze one atom (an "electrode")
    xml = tmp_path / "frozen.xml"
    xml.write_text(openmm.XmlSerializer.serialize(system))
    run_dir = tmp_path / "run"
    cfg = base_config(run_dir)
    cfg["system"]["from_files"]["system_xml"] = str(xml)
    cfg["stages"].insert(1, {"type": "npt", "duration": "0.1 ps", "barostat": "isotropic"})
    code = main(["run", str(write_config(cfg))])
    err = capsys.readouterr().err
    assert code == 2 and "stages[1].barostat" in err and "frozen" in err
    assert not run_dir.exists()


def test_existing_run_not_overwritten(tmp_path, write_config, capsys):
    """A folder holding a run's complete inputs is refused without --overwrite, untouched."""
    from predesolv import layout

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in layout.INPUT_FILES:
        (run_dir / name).write_text("x: 1\n")
    code = main(["run", str(write_config(base_config(run_dir)))])
    err = capsys.readouterr().err
    assert code == 2 and "--overwrite" in err and "--resume" in err
    assert all((run_dir / n).read_text() == "x: 1\n" for n in layout.INPUT_FILES)


def _example_system(name: str) -> dict:
    import yaml

    path = DATA.parent.parent / "examples" / name
    return yaml.safe_load(path.read_text())["system"]


@pytest.mark.parametrize("barostat, needle", [
    ("isotropic", "run this system NVT"),
    ("x", "run this system NVT"),
    ("z", "run this system NVT"),
])
def test_isotropic_npt_with_electrode_block(barostat, needle, tmp_path, write_config, capsys):
    """Contradictory settings caught from the config alone: no build, no run directory."""
    run_dir = tmp_path / "run"
    cfg = base_config(run_dir)
    cfg["system"] = _example_system("default.yaml")
    cfg["stages"].insert(1, {"type": "npt", "duration": "0.1 ps", "barostat": barostat})
    code = main(["validate", str(write_config(cfg))])
    err = capsys.readouterr().err
    assert code == 2 and "stages[1].barostat" in err and needle in err
    assert main(["run", str(write_config(cfg))]) == 2
    assert not run_dir.exists()


def test_axis_barostat_on_fixed_electrode_axes_refused(tmp_path, write_config, capsys):
    """The slit builder marks its axes fixed; a z barostat is refused before writing."""
    run_dir = tmp_path / "run"
    cfg = base_config(run_dir)
    cfg["system"] = _example_system("default.yaml")
    cfg["stages"].insert(1, {"type": "npt", "duration": "0.1 ps", "barostat": "z"})
    code = main(["run", str(write_config(cfg))])
    err = capsys.readouterr().err
    assert code == 2 and "stages[1].barostat" in err and "fixed" in err, err
    assert not run_dir.exists()


def test_validate_many_configs_names_each_bad_one(tmp_path, capsys):
    """`predesolv validate examples/*.yaml`: every config is checked; a bad one is named and
    makes the exit status 2 without hiding the others."""
    from pathlib import Path

    from predesolv.cli import main

    examples = sorted(str(p) for p in (Path(__file__).parent.parent / "examples").glob("*.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("simulation: {timestep: 'fast'}\n")
    assert main(["validate", *examples]) == 0
    assert main(["validate", examples[0], str(bad), examples[-1]]) == 2
    out, err = capsys.readouterr()
    assert f"{examples[-1]}: OK" in out and str(bad) in err
