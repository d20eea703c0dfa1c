"""Benchmark: predesolv's runner (normal reporters) vs a bare ``integrator.step()`` loop.

Both run the same System (from ``--system-xml/--pdb`` or a generated TIP3P box with NaCl)
for the same number of steps on the same platform, alternating A/B ``--repeats`` times.
Each side's wall time includes creating its Context; the runner's also includes writing
its run directory, state.csv, trajectory and checkpoints at the intervals below.
Prints ns/day for each repeat and the ratio runner/raw (target >= 0.97).

    python scripts/bench_runner.py --platform CPU --steps 5000 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import openmm
from openmm import app, unit

from predesolv.built import BuiltSystem
from predesolv.config import parse_config
from predesolv.platforms import select_platform
from predesolv.runner import Runner
from predesolv.system_files import load_files


def water_box(edge_nm: float) -> BuiltSystem:
    ff = app.ForceField("amber14-all.xml", "amber14/tip3p.xml")
    mod = app.Modeller(app.Topology(), [])
    mod.addSolvent(ff, boxSize=openmm.Vec3(edge_nm, edge_nm, edge_nm) * unit.nanometer,
                   positiveIon="Na+", negativeIon="Cl-", ionicStrength=1.0 * unit.molar)
    system = ff.createSystem(mod.topology, nonbondedMethod=app.PME,
                             nonbondedCutoff=0.9 * unit.nanometer, constraints=app.HBonds)
    return BuiltSystem(system, mod.topology, mod.positions)


def raw_loop(built: BuiltSystem, state: openmm.State, platform: str, steps: int) -> float:
    plat, props = select_platform(platform)
    t0 = time.perf_counter()
    integ = openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond,
                                            2 * unit.femtosecond)
    ctx = openmm.Context(built.system, integ, plat, props)
    ctx.setPeriodicBoxVectors(*state.getPeriodicBoxVectors())
    ctx.setPositions(state.getPositions())
    ctx.setVelocitiesToTemperature(300 * unit.kelvin, 1)
    integ.step(steps)
    ctx.getState(getEnergy=True)  # make sure the work is finished
    return time.perf_counter() - t0


def runner_run(built: BuiltSystem, platform: str, steps: int, out: Path) -> float:
    ps = steps * 0.002
    cfg = parse_config({
        "system": {"from_files": {"system_xml": str(out.parent / "in.xml"),
                                  "pdb": str(out.parent / "in.pdb")}},
        "simulation": {"platform": platform, "temperature": "300 K", "timestep": "2 fs",
                       "seed": 1},
        "stages": [{"type": "production", "duration": f"{ps:g} ps"}],
        "output": {"directory": str(out), "trajectory": {"interval": "1 ps"},
                   "state_interval": "1 ps", "checkpoint_interval": f"{ps / 2:g} ps",
                   "progress": "off"},
    })
    t0 = time.perf_counter()
    Runner(cfg, built, out).run(overwrite=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--platform", default="CPU")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--box-nm", type=float, default=3.0, help="edge of the generated water box")
    ap.add_argument("--system-xml")
    ap.add_argument("--pdb")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="predesolv-bench-"))
    if args.system_xml:
        built = load_files(args.system_xml, args.pdb)
    else:
        built = water_box(args.box_nm)
    (tmp / "in.xml").write_text(openmm.XmlSerializer.serialize(built.system))
    with open(tmp / "in.pdb", "w") as fh:
        app.PDBFile.writeFile(built.topology, built.positions, fh)
    # Minimise once so that both sides start from the same relaxed structure.
    plat, props = select_platform(args.platform)
    ctx = openmm.Context(built.system, openmm.VerletIntegrator(0.001), plat, props)
    ctx.setPeriodicBoxVectors(*built.topology.getPeriodicBoxVectors())
    ctx.setPositions(built.positions)
    openmm.LocalEnergyMinimizer.minimize(ctx, 10, 500)
    state = ctx.getState(getPositions=True)
    built.positions = state.getPositions(asNumpy=True)
    del ctx

    ns = args.steps * 0.002 / 1000.0
    raw_t, run_t = [], []
    print(f"{built.n_atoms} atoms, {args.steps} steps of 2 fs, platform {args.platform}")
    for rep in range(args.repeats):
        raw_t.append(raw_loop(built, state, args.platform, args.steps))
        run_t.append(runner_run(built, args.platform, args.steps, tmp / f"run{rep}"))
        print(f"repeat {rep}: raw {ns / (raw_t[-1] / 86400):8.2f} ns/day   "
              f"runner {ns / (run_t[-1] / 86400):8.2f} ns/day   "
              f"ratio {raw_t[-1] / run_t[-1]:.3f}")
    ratio = statistics.median(raw_t) / statistics.median(run_t)
    print(f"median ns/day: raw {ns / (statistics.median(raw_t) / 86400):.2f}, runner "
          f"{ns / (statistics.median(run_t) / 86400):.2f}; runner/raw ratio = {ratio:.3f}")


if __name__ == "__main__":
    main()
