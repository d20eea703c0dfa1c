"""Speed measurements for the electrolyte builder (numbers go into docs/validation.md).

1. LJ combining rule: ms/step of a 1 M NaPF6/DME box with the geometric-rule
   ``CustomNonbondedForce`` (predesolv default) against the same System with LJ left in
   OpenMM's ``NonbondedForce`` (Lorentz-Berthelot, i.e. physically *different* for OPLS).
2. Packers: wall time of Packmol and of the random-insertion packer for the same
   composition at the experimental density and at 70 % of it.

Run: ``OPENMM_CPU_THREADS=1 python scripts/bench_electrolyte.py --box 2.6 --steps 300``
"""

from __future__ import annotations

import argparse
import json
import time

import openmm
from openmm import unit

from predesolv.config.electrolyte import ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.errors import BuildError
from predesolv.forcefields import parameterize
from predesolv.systems.electrolyte import (
    build_electrolyte,
    compute_composition,
    electrolyte_species,
)
from predesolv.systems.packing import pack_molecules


def _ms_per_step(system, positions, platform: str, steps: int, repeats: int) -> float:
    integ = openmm.LangevinMiddleIntegrator(298 * unit.kelvin, 1 / unit.picosecond,
                                            2 * unit.femtosecond)
    ctx = openmm.Context(system, integ, openmm.Platform.getPlatformByName(platform))
    ctx.setPositions(positions)
    openmm.LocalEnergyMinimizer.minimize(ctx, 50.0, 100)
    integ.step(20)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        integ.step(steps)
        ctx.getState(getEnergy=True)
        best = min(best, (time.perf_counter() - t0) / steps * 1e3)
    return best


def bench_lj(box: float, steps: int, repeats: int, platform: str) -> dict:
    cfg = ElectrolyteConfig(salt="NaPF6", solvents={"DME": 1.0}, concentration="1.0 M",
                            box_length=f"{box} nm")
    ff = ForceFieldConfig(nonbonded_cutoff="1.0 nm")
    built = build_electrolyte(cfg, ff, seed=1)
    custom = _ms_per_step(built.system, built.positions, platform, steps, repeats)
    # same topology, LJ left in NonbondedForce (no apply_combining_rule)
    ffobj = parameterize.load_forcefield()
    plain_sys = ffobj.createSystem(built.topology, nonbondedMethod=openmm.app.PME,
                                   nonbondedCutoff=1.0 * unit.nanometer,
                                   constraints=openmm.app.HBonds, ewaldErrorTolerance=5e-4)
    plain = _ms_per_step(plain_sys, built.positions, platform, steps, repeats)
    return {"n_atoms": built.n_atoms, "platform": platform, "steps": steps,
            "ms_per_step_custom_geometric": custom, "ms_per_step_plain_nonbonded": plain,
            "slowdown_pct": 100.0 * (custom - plain) / plain}


def bench_pack(box: float) -> dict:
    out = {}
    for frac in (1.0, 0.7):
        vol = box ** 3
        cfg = ElectrolyteConfig(salt="NaPF6", solvents={"DME": 1.0}, concentration="1.0 M",
                                box_length=f"{box} nm")
        comp = compute_composition(cfg, volume_nm3=vol * frac)
        species = electrolyte_species(comp, "NaPF6")
        for packer in ("packmol", "random"):
            t0 = time.perf_counter()
            try:
                pack_molecules(species, [box] * 3, seed=1, tolerance=0.2, packer=packer)
                status = "ok"
            except BuildError as exc:
                status = f"failed: {str(exc).splitlines()[0][:80]}"
            out[f"{packer}@{frac:.0%} density"] = {
                "seconds": time.perf_counter() - t0, "status": status,
                "n_atoms": sum(s.count * len(s.xyz) for s in species)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--box", type=float, default=2.6)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--platform", default="CPU")
    a = p.parse_args()
    res = {"lj": bench_lj(a.box, a.steps, a.repeats, a.platform), "packing": bench_pack(a.box)}
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
