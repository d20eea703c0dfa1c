"""Benchmark: 8 umbrella windows of a small system, serial vs 2 local Dask workers.

Two systems, each run as the same 8 window run directories written three times:

* ``electrolyte`` (the headline): 1 M NaPF6 in 40 DME, ~670 atoms, PME 0.9 nm, HBonds + HMR,
  4 fs; distance CV Na+ - PF6- (centres 0.30-0.65 nm, k = 1000 kJ/mol/nm^2);
  2 ps NVT + 10 ps production per window;
* ``lone-ion``: one Na+ between rigid AB graphene sheets 0.45 nm apart (481 atoms, the
  lone-ion model: ion-carbon LJ only, ~0.2 ms/step), position CV along x; 2 ps NVT +
  60 ps production. So cheap per step that per-window set-up (Context creation, run
  files) and the Dask workers' start-up weigh in.

Each case is run

  A. serially in this process, OpenMM CPU platform with 2 threads,
  B. serially in this process, 1 thread,
  C. on a LocalCluster of 2 worker processes x 1 thread (predesolv.workflows.distributed),

and the wall times and their ratios are printed side by side.

    .venv/bin/python scripts/bench_pmf_windows.py [--cases electrolyte lone-ion]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path

from predesolv import build, load_config
from predesolv.config.cluster import ClusterConfig
from predesolv.rundir import RunDir
from predesolv.runner import Runner
from predesolv.workflows.distributed import Task, run_tasks
from predesolv.workflows.protocol import plan_windows, window_config
from predesolv.workflows.umbrella import run_window

_OUTPUT = {"directory": "unused", "trajectory": {"interval": "1 ps"},
           "state_interval": "1 ps", "checkpoint_interval": "5 ps"}
CASES = {
    "electrolyte": {
        "system": {"seed": 1,
                   "forcefield": {"nonbonded_cutoff": "0.9 nm", "constraints": "hbonds"},
                   "electrolyte": {"salt": "NaPF6", "solvents": {"DME": 1.0},
                                   "concentration": "1.0 M", "n_solvent": 40,
                                   "temperature": "298 K"}},
        "simulation": {"platform": "CPU", "temperature": "298 K", "timestep": "4 fs",
                       "hydrogen_mass": "3 amu", "seed": 1},
        "stages": [{"type": "minimize"}],
        "output": _OUTPUT,
        "pmf": {"cv": {"type": "distance", "group_a": "cation[0]", "group_b": "anion[0]"},
                "windows": {"start": "0.30 nm", "stop": "0.65 nm", "count": 8},
                "k": "1000 kJ/mol/nm**2",
                "stages": [{"type": "nvt", "duration": "2 ps"},
                           {"type": "production", "duration": "10 ps"}],
                "sample_interval": "0.1 ps"},
    },
    "lone-ion": {
        "system": {"ion_slit": {"spacing": "0.45 nm", "stacking": "AB"}},
        "simulation": {"platform": "CPU", "temperature": "300 K", "timestep": "2 fs",
                       "seed": 1},
        "stages": [{"type": "minimize"}],
        "output": _OUTPUT,
        "pmf": {"cv": {"type": "position", "group": "cation[0]", "axis": "x",
                       "origin": "1.704 nm"},
                "windows": {"start": "0 nm", "stop": "0.21 nm", "count": 8},
                "k": "4000 kJ/mol/nm**2",
                "stages": [{"type": "nvt", "duration": "2 ps"},
                           {"type": "production", "duration": "60 ps"}],
                "sample_interval": "0.05 ps"},
    },
}


def _windows(case: dict, root: Path, threads: int) -> list[Task]:
    data = {**case, "simulation": {**case["simulation"], "cpu_threads": threads}}
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    args = ap.parse_args()
    rows = []
    for name in args.cases:
        case = CASES[name]
        with tempfile.TemporaryDirectory() as tmp:
            a = _time(_windows(case, Path(tmp) / "a", 2), serial=True)
            b = _time(_windows(case, Path(tmp) / "b", 1), serial=True)
            c = _time(_windows(case, Path(tmp) / "c", 1),
                      cluster=ClusterConfig(kind="local", n_workers=2, threads_per_worker=1))
        rows.append((name, a, b, c))
    print("8 windows per case, CPU platform; wall time (s)")
    print(f"{'case':<12} {'A serial 2 thr':>15} {'B serial 1 thr':>15} "
          f"{'C Dask 2x1':>11} {'C vs A':>7} {'C vs B':>7}")
    for name, a, b, c in rows:
        print(f"{name:<12} {a:15.1f} {b:15.1f} {c:11.1f} {a / c:6.2f}x {b / c:6.2f}x")


if __name__ == "__main__":
    main()
