"""``predesolv analyze`` refuses bad options before writing anything, warns about truncated
trajectories and writes strict JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from predesolv.cli import main

RUN = Path(__file__).parent / "data" / "analysis_run"
CUT = ["--cutoffs", "DME=0.3,PF6=0.3"]


@pytest.fixture
def run(tmp_path) -> Path:
    d = tmp_path / "run"
    shutil.copytree(RUN, d)
    return d


def _refused(capsys, run: Path, *argv: str, needle: str) -> None:
    capsys.readouterr()
    code = main(["analyze", str(run), *argv])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert needle in lines[0], lines[0]
    assert not (run / "analysis").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--start", "1000"], "selects no frame"),
    (["--start", "10", "--stop", "5"], "selects no frame"),
    (["--step", "0"], "--step"),
    (["--step", "-1"], "--step"),
    (["--ion", "9999", "--what", "tracked"], "--ion: 9999"),
    (["--profile-regions", "nowhere", "--what", "profile"], "--profile-regions: nowhere"),
    (["--cutoffs", "EC=0.3"], "--cutoffs: unknown kind"),
    (["--cutoffs", "DME=-1"], "--cutoffs"),
    (["--what", "bogus"], "--what: unknown analysis bogus"),
])
def test_bad_options_write_nothing(run, capsys, argv, needle):
    _refused(capsys, run, *argv, needle=needle)


def test_out_naming_a_file(run, tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    _refused(capsys, run, "--out", str(f), needle="--out")


def test_empty_dcd(run, capsys):
    dcd = run / "trajectory.dcd"
    dcd.write_bytes(b"")
    _refused(capsys, run, needle="trajectory.dcd")


def test_truncated_dcd_is_reported_with_counts(run, capsys):
    """A DCD cut to 60 % of its size: the frames present are analysed and the header's count
    is reported (read independently from the header bytes)."""
    import struct

    import MDAnalysis as mda

    dcd = run / "trajectory.dcd"
    header_frames = struct.unpack("<i", dcd.read_bytes()[8:12])[0]
    dcd.write_bytes(dcd.read_bytes()[: int(dcd.stat().st_size * 0.6)])
    present = len(mda.Universe(str(run / "topology.pdb"), str(dcd)).trajectory)
    assert 0 < present < header_frames
    capsys.readouterr()
    assert main(["analyze", str(run), "--what", "coordination", *CUT]) == 0
    err = capsys.readouterr().err
    assert f"header records {header_frames} frames" in err and f"holds {present}" in err
    summary = json.loads((run / "analysis" / "summary.json").read_text())
    assert summary["frames"] == present and summary["warnings"]


def _reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def test_summary_is_strict_json(run):
    """An empty region gives NaN averages: summary.json must still be standard JSON."""
    assert main(["analyze", str(run), *CUT]) == 0
    text = (run / "analysis" / "summary.json").read_text()
    data = json.loads(text, parse_constant=_reject_constant)
    assert data["frames"] > 0 and "NaN" not in text and "Infinity" not in text


def test_analyze_refuses_a_live_run_and_live_writes_outside(tmp_path, capsys):
    """A run whose lock another process holds is refused (holder named, nothing written);
    --live analyses it into a folder outside the run."""
    import subprocess
    import sys

    src = Path(__file__).parent / "data" / "napf6_dme_run"
    run = tmp_path / "run"
    shutil.copytree(src, run)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from predesolv.rundir import RunDir; rd = RunDir(sys.argv[1]); "
        "rd.acquire(); print('held', flush=True); time.sleep(600)"), str(run)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["analyze", str(run), "--what", "coordination"]) == 2
        err = capsys.readouterr().err
        assert "live predesolv process" in err and f"pid {holder.pid}" in err
        assert not (run / "analysis").exists()
        assert main(["analyze", str(run), "--what", "coordination", "--live"]) == 0
        assert (tmp_path / "run_live_analysis" / "summary.json").is_file()
        assert not (run / "analysis").exists()
    finally:
        holder.kill()
        holder.wait()
