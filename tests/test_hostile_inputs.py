"""Hostile input: every case exits 2 with ONE line naming the field and value, writes nothing,
and never shows a traceback."""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import DATA, base_config

from predesolv.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _default(run_dir: Path) -> dict:
    cfg = yaml.safe_load((EXAMPLES / "default.yaml").read_text())
    cfg["output"]["directory"] = str(run_dir)
    return cfg


def _set(cfg: dict, path: str, value) -> dict:
    cfg = copy.deepcopy(cfg)
    node = cfg
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return cfg


def _refused(capsys, argv: list[str], *needles: str) -> str:
    capsys.readouterr()
    t0 = time.perf_counter()
    code = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert len(lines[0]) < 600
    assert time.perf_counter() - t0 < 10
    return lines[0]


@pytest.mark.parametrize("path, value, needles", [
    ("simulation.seed", True, ["simulation.seed", "True"]),
    ("system.seed", "12", ["system.seed"]),
    ("stages.0.max_iterations", "1e20", ["stages[0].max_iterations", "1e20"]),
    ("stages.0.max_iterations", 10**12, ["stages[0].max_iterations", "2147483647"]),
    ("system.electrolyte.n_solvent", 0, ["system.electrolyte.n_solvent", "0"]),
    ("system.electrolyte.n_solvent", 10**12, ["system.electrolyte.n_solvent", "1000000000000"]),
    ("system.electrode.width", "1e6 nm", ["system.electrode.width", "1e6 nm", "50 nm"]),
    ("system.electrode.charge.sigma", "-0.05 nm", ["system.electrode.charge.sigma", "C/m**2"]),
    ("system.electrolyte.concentration", "1 K", ["system.electrolyte.concentration"]),
    ("simulation.timestep", "1e-12 fs", ["simulation.timestep", "1e-12 fs"]),
    ("simulation.temperature", "1e-300 K", ["simulation.temperature", "1e-300 K"]),
    ("output.trajectory.interval", "20 ps", ["output.trajectory.interval", "20 ps", "8 ps"]),
    ("stages.2.duration", "1 s", ["stages[2].duration", "unit mistake"]),
    ("stages.1.name", "production2", ["stages[2].name", "'production2'"]),
])
def test_bad_values(path, value, needles, tmp_path, write_config, capsys):
    cfg = _set(_default(tmp_path / "run"), path, value)
    cfg_path = write_config(cfg)
    _refused(capsys, ["validate", str(cfg_path)], *needles)
    _refused(capsys, ["run", str(cfg_path)], *needles)
    assert not (tmp_path / "run").exists()


def test_duplicate_stage_names_fill_in_the_name(tmp_path, write_config, capsys):
    cfg = _default(tmp_path / "run")
    cfg["stages"][1]["name"] = "eq"
    cfg["stages"][2]["name"] = "eq"
    _refused(capsys, ["validate", str(write_config(cfg))], "duplicate stage name 'eq'")


@pytest.mark.parametrize("text, needles", [
    ("simulation: {seed: 11}\nsimulation: {seed: 12}\n", ["duplicate key 'simulation'", "line 2"]),
    ("simulation:\n  seed: 11\n  seed: 12\n", ["duplicate key 'seed'", "line 3"]),
    ("a: " + "[" * 20000 + "]" * 20000 + "\n", ["nested"]),
    ("a: " + "[" * 70 + "]" * 70 + "\n", ["nested deeper than"]),
])
def test_malformed_yaml(text, needles, tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    _refused(capsys, ["validate", str(p)], str(p), *needles)


def test_alias_bomb_is_refused_fast(tmp_path, capsys):
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x","x"]']
    for k in range(1, 9):
        lines.append(f"l{k}: &l{k} [" + ",".join([f"*l{k - 1}"] * 10) + "]")
    lines.append("system: *l8")  # 10**9 leaves once expanded
    p = tmp_path / "bomb.yaml"
    p.write_text("\n".join(lines) + "\n")
    t0 = time.perf_counter()
    _refused(capsys, ["validate", str(p)], "expands to more than")
    assert time.perf_counter() - t0 < 2


@pytest.mark.parametrize("data, needle", [
    ("system: {}\n".encode("utf-16"), "UTF-16"),
    (b"system: \xff\xfe\xfa\n", "not UTF-8"),
    (b"x" * (2 << 20), "larger than"),
])
def test_undecodable_or_huge_files(data, needle, tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_bytes(data)
    _refused(capsys, ["validate", str(p)], needle)


def _output_dirs(tmp_path: Path) -> list[tuple[str, str]]:
    afile = tmp_path / "afile"
    afile.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = [(str(afile / "run"), "is a file"), ("/proc/predesolv_run", "/proc"),
             (str(tmp_path / ("a" * 300)), "255 bytes")]
    if os.geteuid() != 0:  # root may write anywhere
        cases.append((str(locked / "run"), "no write permission"))
    return cases


def test_unusable_output_directory(tmp_path, write_config, capsys):
    for directory, needle in _output_dirs(tmp_path):
        cfg = base_config(Path(directory))
        _refused(capsys, ["run", str(write_config(cfg))], "output.directory", needle)
    nul = tmp_path / "nul.yaml"
    nul.write_text(yaml.safe_dump(base_config(tmp_path / "x")).replace(
        str(tmp_path / "x"), "a\\0b").replace("directory: ", 'directory: "', 1).replace(
        "a\\0b", 'a\\0b"'))
    _refused(capsys, ["validate", str(nul)], "output.directory", "NUL")


def test_tilde_is_expanded(tmp_path, write_config, monkeypatch):
    from predesolv.config import load_config

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    cfg = load_config(write_config(base_config(Path("~/runs/x"))))
    assert cfg.output.directory == str(tmp_path / "home" / "runs" / "x")


def test_platform_name_any_case(tmp_path, write_config, capsys):
    """--platform cpu is accepted (the run then proceeds to its config); --platform gpu is
    refused in one line listing the names."""
    cfg = write_config(base_config(tmp_path / "run"))
    assert main(["validate", str(cfg)]) == 0
    capsys.readouterr()
    missing = str(tmp_path / "absent.yaml")
    assert main(["run", missing, "--platform", "cpu"]) == 2
    assert "absent.yaml" in capsys.readouterr().err  # got past the platform argument
    with pytest.raises(SystemExit) as exc:
        main(["run", missing, "--platform", "gpu"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "'gpu' is not a platform" in err and "Reference" in err


# ------------------------------------------------------------------ from_files
def _from_files(tmp_path: Path, pdb_text: str) -> dict:
    pdb = tmp_path / "mod.pdb"
    pdb.write_text(pdb_text)
    cfg = base_config(tmp_path / "run")
    cfg["system"]["from_files"]["pdb"] = str(pdb)
    return cfg


def test_from_files_box_shorter_than_twice_the_cutoff(tmp_path, write_config, capsys):
    text = (DATA / "nacl_water.pdb").read_text().replace(
        "CRYST1   20.000   20.000   20.000", "CRYST1   15.000   15.000   15.000")
    cfg_path = write_config(_from_files(tmp_path, text))
    _refused(capsys, ["validate", "--build", str(cfg_path)], "system.from_files.pdb",
             "twice the nonbonded cutoff")
    _refused(capsys, ["run", str(cfg_path)], "system.from_files.pdb")
    assert not (tmp_path / "run").exists()


def test_from_files_nan_coordinates(tmp_path, write_config, capsys):
    lines = (DATA / "nacl_water.pdb").read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith(("ATOM", "HETATM")))
    lines[i] = lines[i][:30] + f"{'nan':>8}" + lines[i][38:]
    cfg_path = write_config(_from_files(tmp_path, "\n".join(lines) + "\n"))
    _refused(capsys, ["validate", "--build", str(cfg_path)], "system.from_files.pdb", "nan")
    assert not (tmp_path / "run").exists()


def test_from_files_metadata_of_the_wrong_shape(tmp_path, write_config, capsys):
    for content in (b'{"groups": [1, 2]}', b"\xff\xfe{}", b'"just a string"'):
        md = tmp_path / "md.json"
        md.write_bytes(content)
        cfg = base_config(tmp_path / "run")
        cfg["system"]["from_files"]["metadata"] = str(md)
        _refused(capsys, ["validate", "--build", str(write_config(cfg))],
                 "system.from_files.metadata")


# ------------------------------------------------------------------ build / export
def test_build_writes_the_system_the_run_uses(tmp_path, write_config, capsys):
    """build applies the config's hydrogen mass (read back from system.xml directly)."""
    import xml.etree.ElementTree as ET

    cfg = base_config(tmp_path / "run")
    cfg["simulation"]["hydrogen_mass"] = "2 amu"
    cfg_path = write_config(cfg)
    assert main(["build", str(cfg_path), "--out", str(tmp_path / "b")]) == 0
    masses = [float(p.get("mass")) for p in ET.parse(tmp_path / "b" / "system.xml")
              .getroot().find("Particles")]
    original = [float(p.get("mass")) for p in ET.parse(DATA / "nacl_water.xml")
                .getroot().find("Particles")]
    h = [i for i, m in enumerate(original) if abs(m - 1.008) < 1e-3]
    assert h and np.allclose([masses[i] for i in h], 2.0)
    assert sum(masses) == pytest.approx(sum(original))
    line = _refused(capsys, ["build", str(cfg_path), "--out", str(tmp_path / "b")], "--out",
                    "--overwrite")
    assert "output.directory" not in line and "--resume" not in line
    assert main(["build", str(cfg_path), "--out", str(tmp_path / "b"), "--overwrite"]) == 0


def test_export_refusals(tmp_path, write_config, capsys):
    cfg_path = write_config(base_config(tmp_path / "run"))
    _refused(capsys, ["export", str(cfg_path), "--out", str(tmp_path / "e")],
             "system.from_files")
    assert not (tmp_path / "e").exists()
    assert main(["run", str(cfg_path)]) == 0
    d = _default(tmp_path / "unused")
    _refused(capsys, ["export", str(write_config(d, "d.yaml")), "--out", str(tmp_path / "run")],
             "--out", "run or build folder")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    _refused(capsys, ["export", str(write_config(d, "d.yaml")), "--out", str(tmp_path / "full")],
             "--out", "--overwrite")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_debug_works_after_the_verb(tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text("simulation: {seed: 1}\nsimulation: {seed: 2}\n")
    from predesolv.errors import ConfigError

    with pytest.raises(ConfigError):
        main(["validate", str(p), "--debug"])
    with pytest.raises(ConfigError):
        main(["--debug", "validate", str(p)])
