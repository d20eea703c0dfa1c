"""Windows as Dask tasks: same results as serial, errors named, a killed worker's window
resumes from its checkpoint, a rerun skips finished windows, batch job scripts."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import double_well_pmf_config

from predesolv.config.cluster import ClusterConfig
from predesolv.errors import ConfigError, PredesolvRuntimeError
from predesolv.workflows.distributed import Task, make_cluster, run_tasks


def _tasks(n: int) -> list[Task]:
    return [Task(f"t{i}", functools.partial(str.format, f"{i}-{{}}")) for i in range(n)]


def test_local_cluster_equals_serial():
    serial = run_tasks(_tasks(5), serial=True, progress=False)
    assert serial == [f"{i}-None" for i in range(5)]
    cfg = ClusterConfig(n_workers=2, threads_per_worker=1)
    assert run_tasks(_tasks(5), cfg, progress=False) == serial


def test_failing_task_is_named():
    bad = [Task("good", functools.partial(str.format, "{}")),
           Task("broken", functools.partial(int, "not a number"))]
    with pytest.raises(PredesolvRuntimeError, match="'broken'"):
        run_tasks(bad, serial=True, progress=False)
    with pytest.raises(PredesolvRuntimeError, match="'broken' failed after 0 retries"):
        run_tasks(bad, ClusterConfig(n_workers=1, retries=0), progress=False)


def _stop_requested(device):
    from predesolv.stage_io import InterruptFlag

    return InterruptFlag().requested()


def _stop_if_asked(device):
    from predesolv.errors import Interrupted
    from predesolv.stage_io import InterruptFlag

    if InterruptFlag().requested():
        raise Interrupted("stopped at the stop time; checkpoint written", "go on with --resume")
    return "ran"


def test_a_stop_time_reaches_dask_workers_and_stops_cleanly(monkeypatch):
    """--stop-after sets the stop time in the environment before the cluster starts: a
    worker process (no signal handler there) sees it, and a window that stops for it ends
    the run as an interruption (exit 130, 'stopped'), not as a failure."""
    from predesolv.errors import Interrupted
    from predesolv.stage_io import STOP_AT_ENV

    cfg = ClusterConfig(n_workers=1, threads_per_worker=1, retries=0)
    monkeypatch.delenv(STOP_AT_ENV, raising=False)
    assert run_tasks([Task("w", _stop_requested)], cfg, progress=False) == [False]
    monkeypatch.setenv(STOP_AT_ENV, str(time.time() - 1.0))
    assert run_tasks([Task("w", _stop_requested)], cfg, progress=False) == [True]
    with pytest.raises(Interrupted, match="'w': stopped at the stop time") as err:
        run_tasks([Task("w", _stop_if_asked)], cfg, progress=False)
    assert err.value.advice == "go on with --resume"


def test_gpus_give_each_worker_its_device():
    cfg = ClusterConfig(gpus=["3", "5"])
    assert cfg.local_layout() == (2, 1)
    out = run_tasks([Task(f"t{i}", functools.partial(str.format, "{}")) for i in range(6)],
                    cfg, progress=False)
    assert set(out) <= {"3", "5"} and out


def test_slurm_job_script_without_submitting():
    cfg = ClusterConfig(kind="slurm", queue="gpu", account="chem123", walltime="01:30:00",
                        cores=4, memory="8GB", job_directives=["--gres=gpu:1"],
                        job_script_prologue=["module load cuda"])
    cluster = make_cluster(cfg)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p gpu", "#SBATCH -A chem123", "#SBATCH -t 01:30:00",
                 "#SBATCH --gres=gpu:1", "module load cuda"):
        assert line in script


@pytest.mark.parametrize("data, text", [
    ({"kind": "slurm", "queue": "q"}, "cores"),
    ({"kind": "address"}, "address"),
    ({"kind": "local", "queue": "q"}, "batch-system"),
    ({"kind": "pbs", "cores": 2, "memory": "1GB", "gpus": ["0"]}, "gpus"),
])
def test_cluster_config_errors(data, text):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=text):
        ClusterConfig(**data)


def _kill_config(tmp: Path, production_ps: float = 500.0) -> Path:
    """The conftest double-well PMF with two windows far apart, long windows and a local
    cluster of two workers that retries a killed window."""
    cfg = double_well_pmf_config(tmp, production_ps)
    cfg["simulation"].update({"friction": "3 /ps", "seed": 5})
    cfg["output"]["checkpoint_interval"] = "20 ps"
    cfg["pmf"].update({
        "windows": {"start": "-0.5 nm", "stop": "0.5 nm", "count": 2},
        "k": "300 kJ/mol/nm**2", "sample_interval": "0.5 ps",
        "estimator": {"bins": 20, "bootstraps": 0},
        "cluster": {"kind": "local", "n_workers": 2, "retries": 3}})
    path = tmp / "pmf.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


#: Guard against a hung subprocess only (never a speed limit: a loaded machine may be slow).
HANG_GUARD_S = 1800


def _worker_pid(window: Path, proc: subprocess.Popen) -> int | None:
    """pid of the process writing ``window`` once it has written a mid-run checkpoint; None
    when the window finished before it could be seen mid-run. Bound by events (the window's
    progress, the driver's exit), not by time."""
    while proc.poll() is None:
        try:
            progress = json.loads((window / "progress.json").read_text())
            pid = int((window / ".lock").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            time.sleep(0.01)
            continue
        if progress["completed"]:
            return None
        if progress["checkpoints"]:
            return pid
        time.sleep(0.01)
    raise AssertionError(f"pmf exited ({proc.returncode}) before {window} was seen mid-run")


def _kill_one_window(tmp: Path) -> tuple[Path, list[str], subprocess.Popen, int]:
    """Start ``pmf`` and SIGKILL the worker of w000 mid-run. A window that finishes before it
    is seen mid-run (a fast or a busy machine) is retried in a new folder, 4x longer."""
    production_ps = 500.0
    for attempt in range(6):
        folder = tmp / f"try{attempt}"
        path = _kill_config(folder, production_ps)
        cmd = [sys.executable, "-m", "predesolv", "pmf", str(path)]
        with (folder / "stderr.txt").open("w") as err:  # a file: a pipe could fill and block
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True)
        pid = None
        try:
            pid = _worker_pid(folder / "pmf" / "windows" / "w000", proc)
            if pid is not None:
                assert pid != proc.pid  # a Dask worker process, not the driver
                os.kill(pid, signal.SIGKILL)
                return folder, cmd, proc, round(production_ps / 0.5)
            proc.wait(timeout=HANG_GUARD_S)
        finally:
            if pid is None and proc.poll() is None:
                proc.kill()
        production_ps *= 4
    raise AssertionError("w000 always finished before it could be seen mid-run")


def test_killed_worker_window_resumes_and_rerun_skips(tmp_path):
    folder, cmd, proc, n_rows = _kill_one_window(tmp_path)
    window = folder / "pmf" / "windows" / "w000"
    try:
        proc.wait(timeout=HANG_GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (folder / "stderr.txt").read_text()[-2000:]
    assert (folder / "pmf" / "pmf.csv").is_file()
    log = (window / "log.txt").read_text()
    assert "resuming at stage production0" in log
    # the window's first start is not a resume (its inputs were only written in advance)
    assert "starting from stage 0 (inputs written earlier, no MD run yet)" in log
    assert "resuming before the first checkpoint" not in log
    rows = [r for r in (window / "state.csv").read_text().splitlines()[1:]]
    steps = [int(r.split(",")[0]) for r in rows]
    assert steps == sorted(set(steps)) and len(steps) == n_rows  # every sample once
    before = {w.name: (w / "state.csv").read_bytes() for w in window.parent.iterdir()}
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert again.returncode == 0
    assert "2 of 2 windows already complete: skipped" in again.stderr
    # skipped means no MD: no window's samples changed
    assert {w.name: (w / "state.csv").read_bytes() for w in window.parent.iterdir()} == before


def test_config_error_for_cluster_in_yaml(tmp_path, capsys):
    from predesolv.cli import main

    path = _kill_config(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["pmf"]["cluster"] = {"kind": "slurm"}
    path.write_text(yaml.safe_dump(data))
    assert main(["validate", str(path)]) == 2
    assert "pmf.cluster" in capsys.readouterr().err
    assert not (tmp_path / "pmf").exists()
    assert ConfigError  # the CLI maps it to exit 2
