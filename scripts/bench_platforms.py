"""Benchmark: ns/day of predesolv's systems on every OpenMM platform present, each beside a
plain-OpenMM water box (TIP3P, PME) of the same atom count timed in the same run.

Systems (all with the simulation block below: LangevinMiddle, 4 fs, H mass 3 amu, 298 K):

* ``default``   the README's default cell (``examples/default.yaml``; 0.6 nm slit, ~3,000
  atoms, constant charge)
* ``slit_cc``   the 0.8 nm constant-charge slit cell (``examples/slit_0.8nm_charged.yaml``)
* ``slit_cp``   the same cell at constant potential (ΔV = 1 V, matrix solver)
* ``bulk``      1 M NaPF6 in DME (``examples/bulk_napf6_dme.yaml``)

Each predesolv System is made exactly as the runner makes it
(``predesolv.create_simulation``); the water box is ``Modeller.addSolvent`` with
``amber14/tip3p.xml``, PME, the same 1.0 nm cutoff, rigid water, the same integrator, time
step and hydrogen mass. The ratio ``predesolv / water`` is therefore the cost of the model
(PF6/DME/carbon, constant-potential solver) per atom-step against OpenMM's best-case liquid.

Usage::

    python scripts/bench_platforms.py --steps 200            # every platform present
    python scripts/bench_platforms.py --platforms CUDA --steps 2000 --json bench.json

After a 100-iteration minimisation and 20 warm-up steps of each, the two simulations are
timed in ``--repeats`` alternating pairs of ``--steps``-step blocks (ours, water, ours,
water, ...), each block by wall time and by process CPU time; the table gives the median
and range over the pairs of ns/day and of the ratio by either clock (on a shared CPU the
CPU-time ratio is the robust one; on a GPU, wall time). Reference is skipped unless named
in ``--platforms`` (it is a debugging platform, ~100x slower). It runs unchanged on a
CUDA/HIP/OpenCL machine. Prints a Markdown table (for docs/benchmarks.md) and, with
``--json``, writes the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as pyplatform
import statistics
import time
from pathlib import Path
from typing import Any

import openmm
from openmm import app, unit

import predesolv
from predesolv.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
SIMULATION = {"platform": "CPU", "temperature": "298 K", "friction": "1 /ps",
              "timestep": "4 fs", "hydrogen_mass": "3 amu", "seed": 1}
SYSTEMS = {
    "default": ("default cell (0.6 nm slit, constant charge)", "examples/default.yaml", None),
    "slit_cc": ("0.8 nm slit, constant charge", "examples/slit_0.8nm_charged.yaml", None),
    "slit_cp": ("0.8 nm slit, constant potential 1 V (matrix)",
                "examples/slit_0.8nm_charged.yaml",
                {"mode": "constant_potential", "delta_v": "1 V", "method": "matrix"}),
    "bulk": ("1 M NaPF6 in DME (bulk)", "examples/bulk_napf6_dme.yaml", None),
}


def _config(key: str, platform: str) -> RunConfig:
    import yaml

    _, path, charge = SYSTEMS[key]
    raw = yaml.safe_load((ROOT / path).read_text())
    if charge is not None:
        raw["system"]["electrode"]["charge"] = charge
    raw["simulation"] = {**SIMULATION, "platform": platform}
    return predesolv.load_config(raw)


def _prepare(sim: app.Simulation) -> None:
    """Minimise (100 iterations), draw velocities, 20 warm-up steps."""
    sim.minimizeEnergy(tolerance=10.0, maxIterations=100)
    sim.context.setVelocitiesToTemperature(298 * unit.kelvin, 1)
    sim.step(20)


def _block(sim: app.Simulation, steps: int) -> tuple[float, float]:
    """(wall s, process CPU s) of ``steps`` steps (queued GPU work flushed on both ends)."""
    sim.context.getState(getEnergy=True)
    w0, c0 = time.perf_counter(), time.process_time()
    sim.step(steps)
    sim.context.getState(getEnergy=True)
    return time.perf_counter() - w0, time.process_time() - c0


def _ns_per_day(seconds: float, steps: int, dt_fs: float) -> float:
    return steps * dt_fs * 1e-6 / seconds * 86400.0


def interleaved(ours: app.Simulation, water: app.Simulation, steps: int,
                repeats: int) -> dict[str, Any]:
    """Alternate blocks of the two simulations (ours, water, ours, water, ...): per-repeat
    ns/day by wall time and the ratio by wall and by process CPU time (the CPU-time ratio
    is what a shared machine cannot skew; on a GPU the wall ratio is the one that counts)."""
    _prepare(ours)
    _prepare(water)
    pairs = [(_block(ours, steps), _block(water, steps)) for _ in range(repeats)]
    wall = [w[0] / o[0] for o, w in pairs]  # ratio of speeds = inverse ratio of times
    cpu = [w[1] / o[1] if o[1] > 0 else float("nan") for o, w in pairs]
    return {"ns_per_day": [_ns_per_day(o[0], steps, 4.0) for o, _ in pairs],
            "water_ns_per_day": [_ns_per_day(w[0], steps, 4.0) for _, w in pairs],
            "ratio_wall": wall, "ratio_cpu": cpu}


def water_box(n_atoms: int, platform: str, props: dict[str, str]) -> app.Simulation:
    """A TIP3P box with PME of ~``n_atoms`` atoms and the benchmark's integrator."""
    ff = app.ForceField("amber14/tip3p.xml")
    modeller = app.Modeller(app.Topology(), [])
    modeller.addSolvent(ff, model="tip3p", numAdded=max(1, round(n_atoms / 3)),
                        boxShape="cube")
    system = ff.createSystem(modeller.topology, nonbondedMethod=app.PME,
                             nonbondedCutoff=1.0 * unit.nanometer, constraints=app.HBonds,
                             rigidWater=True, hydrogenMass=3.0 * unit.amu)
    integ = openmm.LangevinMiddleIntegrator(298 * unit.kelvin, 1 / unit.picosecond,
                                            4 * unit.femtosecond)
    sim = app.Simulation(modeller.topology, system, integ,
                         openmm.Platform.getPlatformByName(platform), props)
    sim.context.setPositions(modeller.positions)
    return sim


def bench(key: str, platform: str, steps: int, repeats: int) -> dict[str, Any]:
    """One row: the predesolv system and the water box of its size on ``platform``,
    timed in alternating blocks (:func:`interleaved`)."""
    cfg = _config(key, platform)
    built = predesolv.build(cfg)
    sim = predesolv.create_simulation(built, cfg.simulation)
    props = {n: sim.context.getPlatform().getPropertyValue(sim.context, n)
             for n in sim.context.getPlatform().getPropertyNames()}
    wsim = water_box(built.n_atoms, platform, {k: v for k, v in props.items()
                                               if k in ("Threads", "Precision", "DeviceIndex")})
    timing = interleaved(sim, wsim, steps, repeats)
    return {"system": SYSTEMS[key][0], "key": key, "platform": platform,
            "atoms": built.n_atoms, "water_atoms": wsim.topology.getNumAtoms(), **timing,
            "properties": props}


def _span(values: list[float]) -> str:
    """``median (min–max)`` to 2 decimals."""
    v = sorted(values)
    return f"{statistics.median(v):.2f} ({v[0]:.2f}–{v[-1]:.2f})"


def present_platforms(asked: str | None) -> list[str]:
    names = [openmm.Platform.getPlatform(i).getName()
             for i in range(openmm.Platform.getNumPlatforms())]
    if asked:
        want = [p.strip() for p in asked.split(",")]
        missing = [p for p in want if p not in names]
        if missing:
            raise SystemExit(f"--platforms: {', '.join(missing)} not present; "
                             f"present: {', '.join(names)}")
        return want
    return [n for n in names if n != "Reference"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--platforms", help="comma-separated (default: every one but Reference)")
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help=f"comma-separated from {', '.join(SYSTEMS)}")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    rows = []
    for plat in present_platforms(args.platforms):
        for key in [k.strip() for k in args.systems.split(",")]:
            try:
                rows.append(bench(key, plat, args.steps, args.repeats))
            except Exception as exc:  # a platform that cannot run here: say so, go on
                rows.append({"system": SYSTEMS[key][0], "key": key, "platform": plat,
                             "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "properties"}),
                  flush=True)
    print(f"\nOpenMM {openmm.__version__}, {pyplatform.processor() or pyplatform.machine()}, "
          f"{os.cpu_count()} cores, OPENMM_CPU_THREADS={os.environ.get('OPENMM_CPU_THREADS')}"
          f", {args.repeats} interleaved pairs of {args.steps}-step blocks, 4 fs, H 3 amu; "
          f"median (min–max) over the pairs\n")
    print("| platform | system | atoms | ns/day | water box (atoms) | water ns/day | "
          "predesolv / water, wall | predesolv / water, CPU time |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['platform']} | {r['system']} | — | failed: {r['error'][:60]} "
                  f"| | | | |")
            continue
        print(f"| {r['platform']} | {r['system']} | {r['atoms']} | {_span(r['ns_per_day'])} | "
              f"{r['water_atoms']} | {_span(r['water_ns_per_day'])} | "
              f"{_span(r['ratio_wall'])} | {_span(r['ratio_cpu'])} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
