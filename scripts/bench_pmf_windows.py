"""Benchmark: 8 umbrella windows of a small system, serial vs 2 local Dask workers.

System: one Na+ between two rigid AB graphene sheets 0.45 nm apart (481 atoms, PME, CPU
platform), position CV along x, windows every 0.03 nm, 2 ps NVT + 10 ps production each.
The same 8 window run directories are written three times and run

  A. serially in this process, OpenMM CPU platform with 2 threads,
  B. serially in this process, 1 thread,
  C. on a LocalCluster of 2 worker processes x 1 thread (predesolv.freeenergy.distributed),

and the wall times and their ratios are printed side by side.

    .venv/bin/python scripts/bench_pmf_windows.py
"""

from __future__ import annotations

import functools
import tempfile
import time
from pathlib import Path

from predesolv import build, load_config
from predesolv.config.cluster import ClusterConfig
from predesolv.freeenergy.distributed import Task, run_tasks
from predesolv.freeenergy.protocol import plan_windows, window_config
from predesolv.freeenergy.umbrella import run_window
from predesolv.rundir import RunDir
from predesolv.runner import Runner

CONFIG = {
    "system": {"ion_slit": {"spacing": "0.45 nm", "stacking": "AB"}},
    "simulation": {"platform": "CPU", "temperature": "300 K", "timestep": "2 fs", "seed": 1},
    "stages": [{"type": "minimize"}],
    "output": {"directory": "unused", "trajectory": {"interval": "1 ps"},
               "state_interval": "1 ps", "checkpoint_interval": "5 ps"},
    "pmf": {"cv": {"type": "position", "group": "cation[0]", "axis": "x",
                   "origin": "1.704 nm"},
            "windows": {"start": "0 nm", "stop": "0.21 nm", "count": 8},
            "k": "4000 kJ/mol/nm**2",
            "stages": [{"type": "nvt", "duration": "2 ps"},
                       {"type": "production", "duration": "10 ps"}],
            "sample_interval": "0.05 ps"},
}


def _windows(root: Path, threads: int) -> list[Task]:
    data = {**CONFIG, "simulation": {**CONFIG["simulation"], "cpu_threads": threads}}
    cfg = load_config(data)
    built = build(cfg)
    tasks = []
    for plan in plan_windows(cfg):
        wcfg = window_config(cfg, root, plan)
        rd = RunDir(wcfg.output.directory)
        with rd.locked():
            Runner(wcfg, built, rd).write_inputs(overwrite=True)
        tasks.append(Task(plan.name, functools.partial(run_window, str(rd.path), None)))
    return tasks


def _time(tasks: list[Task], **kwargs: object) -> float:
    t0 = time.perf_counter()
    run_tasks(tasks, progress=False, **kwargs)  # type: ignore[arg-type]
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        a = _time(_windows(Path(tmp) / "a", 2), serial=True)
        b = _time(_windows(Path(tmp) / "b", 1), serial=True)
        c = _time(_windows(Path(tmp) / "c", 1),
                  cluster=ClusterConfig(kind="local", n_workers=2, threads_per_worker=1))
    print("8 windows x (2 ps NVT + 10 ps production), 481 atoms, CPU platform")
    print(f"A serial, 2 OpenMM threads      : {a:7.1f} s")
    print(f"B serial, 1 OpenMM thread       : {b:7.1f} s")
    print(f"C Dask LocalCluster 2 x 1 thread: {c:7.1f} s")
    print(f"speed-up C vs A: {a / c:.2f}x   C vs B: {b / c:.2f}x")


if __name__ == "__main__":
    main()
