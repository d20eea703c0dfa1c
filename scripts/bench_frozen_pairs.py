"""Can frozen-frozen pairs be taken out of the nonbonded forces on the CPU? Measured side by side.

The LJ energy between two frozen electrode atoms is a constant, yet every frozen-frozen
pair within the cutoff is evaluated every step (predesolv excludes only pairs closer than
0.3 nm, to keep mixed-precision energies exact). Three ways to drop all of them, each timed
beside the System as built (process CPU time per force evaluation, interleaved repeats):

``as built``
    predesolv's System (pairs < 0.3 nm excluded).
``exclude, LJ only``
    every frozen pair within the cutoff excluded from the LJ ``CustomNonbondedForce`` only.
``exclude, all forces``
    the same pairs excluded from the LJ force and (as zero exceptions) from the
    ``NonbondedForce`` too (OpenMM requires identical exclusions across nonbonded forces).
``interaction group``
    the LJ force restricted to mobile x all atoms by an interaction group (no exclusions).

For each: forces on mobile atoms against ``as built`` on the Reference platform (relative
to the largest force), the constant energy offset, exclusions added, build time and
``system.xml`` size. ``--scale`` adds the exclusion count, the time to find the pairs and
the estimated XML size for AB graphite slabs of about 2k, 10k and 40k frozen atoms.

Run: ``python scripts/bench_frozen_pairs.py [--config examples/default.yaml] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import openmm
from openmm import unit

import predesolv
from predesolv.forcefields.nonbonded import add_lj_exclusions, lj_forces
from predesolv.simulation import prepare_system
from predesolv.systems import charges as ch


def _lj_only(system: openmm.System, pairs: np.ndarray, frozen: list[int]) -> None:
    add_lj_exclusions(system, pairs.tolist())


def _all_forces(system: openmm.System, pairs: np.ndarray, frozen: list[int]) -> None:
    ch.exclude_pairs(system, pairs)


def _group(system: openmm.System, pairs: np.ndarray, frozen: list[int]) -> None:
    fz = set(frozen)
    mobile = [i for i in range(system.getNumParticles()) if i not in fz]
    for f in lj_forces(system):
        if f.getNumInteractionGroups() == 0:
            f.addInteractionGroup(mobile, list(range(system.getNumParticles())))


VARIANTS: dict[str, Callable[[openmm.System, np.ndarray, list[int]], None] | None] = {
    "as built": None, "exclude, LJ only": _lj_only, "exclude, all forces": _all_forces,
    "interaction group": _group}


def _context(system: openmm.System, positions: Any, platform: str) -> openmm.Context:
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName(platform))
    ctx.setPositions(positions)
    return ctx


def _forces(system: openmm.System, positions: Any) -> tuple[np.ndarray, float]:
    st = _context(system, positions, "Reference").getState(getForces=True, getEnergy=True)
    f = st.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    return np.asarray(f), st.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def _ms_per_eval(system: openmm.System, positions: Any, n: int) -> dict[str, float]:
    """CPU time (ms, process) per evaluation: each force alone and all together."""
    s = copy.deepcopy(system)
    for k, f in enumerate(s.getForces()):
        f.setForceGroup(k)
    ctx = _context(s, positions, "CPU")
    out = {}
    named = [(f"{type(f).__name__}:{f.getName()}", {k}) for k, f in enumerate(s.getForces())]
    for name, groups in [*named, ("all forces", set(range(s.getNumForces())))]:
        ctx.getState(getForces=True, groups=groups)
        t = time.process_time()
        for _ in range(n):
            ctx.getState(getForces=True, groups=groups)
        out[name] = (time.process_time() - t) / n * 1e3
    return out


def _graphite(n_target: int) -> tuple[np.ndarray, np.ndarray]:
    """AB graphite slab of about ``n_target`` atoms (positions nm, box nm), periodic in x, y."""
    a, c = 0.246, 0.335
    basis = np.array([[0.0, 0.0], [a / 2, a / (2 * np.sqrt(3))]])
    nx = ny = int(np.sqrt(n_target / 2 / 6))
    layers = 6
    pts = []
    for k in range(layers):
        shift = np.array([0.0, a / np.sqrt(3)]) * (k % 2)
        for i in range(nx):
            for j in range(ny):
                origin = i * np.array([a, 0.0]) + j * np.array([a / 2, a * np.sqrt(3) / 2])
                for b in basis:
                    x, y = origin + b + shift
                    pts.append((x, y, k * c))
    box = np.array([nx * a, ny * a * np.sqrt(3) / 2 * 2, layers * c + 5.0])
    pos = np.asarray(pts)
    pos[:, 0] = np.mod(pos[:, 0] + pos[:, 1] / np.sqrt(3), box[0])  # shear into a rectangle
    return pos, box


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="examples/default.yaml")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--evals", type=int, default=30)
    ap.add_argument("--scale", action="store_true")
    args = ap.parse_args()
    cfg = predesolv.load_config(args.config)
    built = predesolv.build(cfg)
    base = prepare_system(built, cfg.simulation)
    frozen = built.frozen_indices()
    pos = built.positions
    box = np.diag(np.asarray(built.topology.getPeriodicBoxVectors().value_in_unit(unit.nanometer)))
    rc = lj_forces(base)[0].getCutoffDistance().value_in_unit(unit.nanometer)
    pairs = ch.close_pairs(np.asarray(pos.value_in_unit(unit.nanometer)), frozen, box, rc)
    print(f"{args.config}: {base.getNumParticles()} atoms, {len(frozen)} frozen, "
          f"{len(pairs)} frozen pairs within the {rc:g} nm cutoff")
    systems: dict[str, openmm.System] = {}
    f_ref, e_ref = _forces(base, pos)
    fz = set(frozen)
    mobile = np.array([i for i in range(base.getNumParticles()) if i not in fz])
    for name, fn in VARIANTS.items():
        s = copy.deepcopy(base)
        t = time.perf_counter()
        if fn is not None:
            fn(s, pairs, frozen)
        build_s = time.perf_counter() - t
        xml_mb = len(openmm.XmlSerializer.serialize(s)) / 1e6
        f, e = _forces(s, pos)
        rel = np.abs(f[mobile] - f_ref[mobile]).max() / np.abs(f_ref[mobile]).max()
        print(f"  {name:20s} build {build_s:6.2f} s  system.xml {xml_mb:6.1f} MB  "
              f"max|dF|/max|F| (mobile, Reference) {rel:.1e}  dE {e - e_ref:+.1f} kJ/mol")
        systems[name] = s
    print(f"CPU time per force evaluation (ms, process time, {args.evals} evaluations; "
          f"interleaved, {args.repeats} repeats)")
    for rep in range(args.repeats):
        base_all = None
        for name, s in systems.items():
            try:
                ms = _ms_per_eval(s, pos, args.evals)
            except openmm.OpenMMException as exc:
                print(f"  [{rep}] {name:20s} CPU refuses: {exc}")
                continue
            base_all = base_all or ms["all forces"]
            big = {k.split(":")[-1]: round(v, 1) for k, v in ms.items() if v > 0.5}
            print(f"  [{rep}] {name:20s} {big}  all / as built {ms['all forces'] / base_all:.2f}")
    if args.scale:
        print("exclusions needed at scale (AB graphite, 6 layers, cutoff "
              f"{rc:g} nm; XML at {xml_bytes_per_pair(systems, pairs):.0f} bytes per pair):")
        for n in (2000, 10000, 40000):
            p, b = _graphite(n)
            t = time.perf_counter()
            m = len(ch.close_pairs(p, list(range(len(p))), b, rc))
            dt = time.perf_counter() - t
            print(f"  {len(p):6d} frozen atoms: {m:9d} pairs, found in {dt:.2f} s, "
                  f"~{m * xml_bytes_per_pair(systems, pairs) / 1e6:.0f} MB of system.xml")


def xml_bytes_per_pair(systems: dict[str, openmm.System], pairs: np.ndarray) -> float:
    """system.xml bytes each excluded pair adds (both forces), from the measured variants."""
    a = len(openmm.XmlSerializer.serialize(systems["as built"]))
    b = len(openmm.XmlSerializer.serialize(systems["exclude, all forces"]))
    return (b - a) / max(len(pairs), 1)


if __name__ == "__main__":
    main()
