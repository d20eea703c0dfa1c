"""Platform switch and the small CLI commands (schema, platforms, validate)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import openmm
import pytest
from conftest import base_config

from predesolv.cli import main
from predesolv.errors import PlatformNotAvailableError
from predesolv.platforms import available_platforms, load_failures, select_platform, usable


def _names() -> set[str]:
    return {i.name for i in available_platforms() if usable(i)}


def _gpu_present() -> bool:
    infos = [i for i in available_platforms() if usable(i)]
    return any(i.name in ("CUDA", "HIP") or (i.name == "OpenCL" and not i.cpu_device)
               for i in infos)


def test_auto_picks_fastest_usable_platform():
    platform, props = select_platform("auto")
    infos = [i for i in available_platforms() if usable(i)]
    assert platform.getName() == infos[0].name
    if "CPU" in _names() and not _gpu_present():
        assert platform.getName() == "CPU"  # pocl OpenCL must not beat the CPU platform


def test_missing_platform_lists_available_and_reason():
    if "CUDA" in _names():
        pytest.skip("CUDA is present here")
    with pytest.raises(PlatformNotAvailableError) as info:
        select_platform("CUDA")
    msg = str(info.value)
    assert "simulation.platform" in msg and "Available:" in msg and "CPU" in msg
    cuda_plugin = any("libOpenMMCUDA.so" in f for f in load_failures())
    if cuda_plugin:  # openmm-cuda-12 installed but no driver: show OpenMM's reason
        assert "libcuda.so.1" in msg


def test_precision_only_where_supported():
    _, props = select_platform("Reference", precision="double")
    assert "Precision" not in props
    with pytest.raises(PlatformNotAvailableError, match="precision"):
        select_platform("CPU", precision="double")
    _, props = select_platform("CPU", cpu_threads=1)
    assert props == {"Threads": "1"}


def test_cli_platforms_and_schema(capsys):
    assert main(["platforms"]) == 0
    out = capsys.readouterr().out
    assert "Reference" in out and "auto ->" in out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(schema["required"]) >= {"system", "simulation", "stages", "output"}
    assert "timestep" in json.dumps(schema)


def test_cli_platform_override_missing(tmp_path, write_config, capsys):
    if "CUDA" in _names():
        pytest.skip("CUDA is present here")
    run_dir = tmp_path / "run"
    code = main(["run", str(write_config(base_config(run_dir))), "--platform", "CUDA"])
    err = capsys.readouterr().err
    assert code == 2 and "CUDA" in err and "Available" in err
    assert not run_dir.exists()


@pytest.mark.opencl
def test_opencl_run_minimises_without_segfault(tmp_path, write_config):
    """On pocl, OpenMM's minimiser segfaults; the runner minimises on CPU and hands over."""
    if "OpenCL" not in _names():
        pytest.skip("no OpenCL platform (install pocl-opencl-icd for a CPU one)")
    run_dir = tmp_path / "run"
    cfg = base_config(run_dir)
    cfg["simulation"]["platform"] = "OpenCL"
    cfg["simulation"]["precision"] = "mixed"
    cfg["stages"][1]["duration"] = "0.02 ps"
    cfg["stages"][2]["duration"] = "0.04 ps"
    cfg["output"].update(state_interval="0.02 ps", checkpoint_interval="0.02 ps")
    path = write_config(cfg)
    # A subprocess, so that a segfault fails this test instead of killing pytest.
    proc = subprocess.run([sys.executable, "-m", "predesolv", "run", str(path)],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OPENMM_CPU_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["platform"] == "OpenCL"
    assert prov["platform_properties_requested"]["Precision"] == "mixed"
    # read back from the OpenMM context, not copied from the request
    used = prov["platform_properties_used"]
    assert used["Precision"] == "mixed" and used["OpenCLPlatformName"]
    infos = {i.name: i for i in available_platforms()}
    if infos["OpenCL"].cpu_device:
        assert "minimised on CPU (pocl" in (run_dir / "log.txt").read_text()


@pytest.mark.gpu
def test_gpu_platform_runs(tmp_path, write_config):
    if not _gpu_present():
        pytest.skip("no CUDA/HIP/OpenCL GPU device on this machine")
    run_dir = tmp_path / "run"
    cfg = base_config(run_dir)
    cfg["simulation"]["platform"] = "auto"
    cfg["simulation"]["precision"] = "mixed"
    assert main(["run", str(write_config(cfg))]) == 0
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["platform"] in ("CUDA", "HIP", "OpenCL")
    assert openmm.Platform.getPlatformByName(prov["platform"]).getSpeed() > 10


def test_cli_analyze_writes_tables(tmp_path, capsys):
    """`predesolv analyze` on the shipped NaPF6/DME run directory, with given cutoffs."""
    import pandas as pd
    from conftest import DATA

    out = tmp_path / "an"
    code = main(["analyze", str(DATA / "napf6_dme_run"), "--what", "coordination",
                 "--cutoffs", "DME=0.31,PF6=0.31", "--out", str(out), "--step", "2"])
    assert code == 0, capsys.readouterr().err
    df = pd.read_csv(out / "coordination_per_frame.csv")
    cn = df[["cn_DME", "cn_PF6"]]
    assert len(df) > 0 and (cn >= 0).all().all() and (cn.sum(axis=1) <= 12).all()
    assert df["frame"].diff().dropna().isin([0, 2]).all()  # --step 2
    cut = pd.read_csv(out / "cutoffs.csv")
    assert dict(zip(cut["kind"], cut["cutoff_nm"], strict=True)) == {"DME": 0.31, "PF6": 0.31}
    assert main(["analyze", str(DATA / "napf6_dme_run"), "--cutoffs", "DME=-1"]) == 2
    assert "--cutoffs" in capsys.readouterr().err


def test_cli_export_bad_format_is_input_error(tmp_path, capsys):
    from pathlib import Path

    cfg = Path(__file__).resolve().parents[1] / "examples" / "slit_0.8nm_charged.yaml"
    code = main(["export", str(cfg), "--out", str(tmp_path / "x"), "--formats", "lammps"])
    assert code == 2 and "lammps" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_every_example_config_validates(capsys):
    from pathlib import Path

    examples = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))
    assert len(examples) >= 5
    for path in examples:
        assert main(["validate", str(path)]) == 0, capsys.readouterr().err
