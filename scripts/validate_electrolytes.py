"""Validate the electrolyte force field against experiment (NPT, 1 bar). Not a test.

Systems (``--systems``, comma separated):

* ``dme``   neat DME, 298 K: density (exp. 0.862-0.868 g/cm3)
* ``ec``    neat EC, 313 K: density (exp. ~1.32 g/cm3)
* ``dmc``   neat DMC, 298 K: density (exp. ~1.063 g/cm3)
* ``emc``   neat EMC, 298 K: density (exp. ~1.006 g/cm3)
* ``napf6_dme``   1 M NaPF6 in DME, 298 K: Na-O(DME) CN, distinct DME per Na+, Na-F CN,
  D(Na+), D(DME)
* ``napf6_ecdmc`` 1 M NaPF6 in EC:DMC 1:1 (v/v), 298 K: Na-O(carbonyl) CN and first-shell
  composition

Each system: build (predesolv builder), minimise, NPT (Langevin middle, 1/ps; Monte Carlo
barostat 1 bar), HMR (H mass ``--hmass``) with ``--timestep-fs``. Density: block average over
the production part (``--blocks`` blocks, error = standard error of block means). Structure:
from frames every ``--frame-ps``; coordination cutoffs at the first minimum of g(r) (searched
in 0.26-0.40 nm). Diffusion: slope of the centre-of-mass MSD between 20 % and 80 % of the
production window (no finite-size correction; stated as such).

Example::

    OPENMM_CPU_THREADS=1 python scripts/validate_electrolytes.py --systems dme,ec \\
        --equil-ps 20 --prod-ps 60 --out validation_runs
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

from predesolv.config.electrolyte import ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.systems.electrolyte import build_electrolyte

SYSTEMS = {
    "dme": dict(salt="NaPF6", solvents={"DME": 1.0}, n_salt=0, T=298.15, n=100,
                target=0.8637),
    "ec": dict(salt="NaPF6", solvents={"EC": 1.0}, n_salt=0, T=313.15, n=150, target=1.3214),
    "dmc": dict(salt="NaPF6", solvents={"DMC": 1.0}, n_salt=0, T=298.15, n=125,
                target=1.0636),
    "emc": dict(salt="NaPF6", solvents={"EMC": 1.0}, n_salt=0, T=298.15, n=110,
                target=1.006),
    "napf6_dme": dict(salt="NaPF6", solvents={"DME": 1.0}, conc="1.0 M", T=298.15, n=100,
                      target=None),
    "napf6_ecdmc": dict(salt="NaPF6", solvents={"EC": 0.5, "DMC": 0.5}, conc="1.0 M",
                        T=298.15, n=140, target=None),
}


def repartition_hydrogen_mass(system: openmm.System, topology: app.Topology,
                              hmass: float) -> None:
    """Move mass from heavy atoms to bonded H so that every H weighs ``hmass`` (amu)."""
    for a1, a2 in topology.bonds():
        if a1.element is not None and a1.element.symbol == "H":
            a1, a2 = a2, a1
        if a2.element is None or a2.element.symbol != "H" or a1.element.symbol == "H":
            continue
        mh = system.getParticleMass(a2.index).value_in_unit(unit.dalton)
        mx = system.getParticleMass(a1.index).value_in_unit(unit.dalton)
        system.setParticleMass(a2.index, hmass)
        system.setParticleMass(a1.index, mx - (hmass - mh))


def block_average(x: np.ndarray, nblocks: int) -> tuple[float, float]:
    """Mean and standard error of ``nblocks`` block means."""
    blocks = np.array_split(np.asarray(x, float), nblocks)
    means = np.array([b.mean() for b in blocks if len(b)])
    return float(means.mean()), float(means.std(ddof=1) / np.sqrt(len(means)))


def _first_min(d: np.ndarray, box_vol: float, n_ref: int, n_sel: int) -> tuple[float, float]:
    """First minimum of g(r) between 0.26 and 0.40 nm, and the peak position."""
    edges = np.linspace(0.15, 0.6, 91)
    h, _ = np.histogram(d, edges)
    r = 0.5 * (edges[1:] + edges[:-1])
    shell = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    g = h / (shell * n_ref * n_sel / box_vol)
    peak = r[np.argmax(g)]
    win = (r > max(peak, 0.26)) & (r < 0.40)
    rmin = float(r[win][np.argmin(g[win])]) if win.any() else 0.33
    return rmin, float(peak)


def _pair_d(xa: np.ndarray, xb: np.ndarray, box: np.ndarray) -> np.ndarray:
    d = xa[:, None, :] - xb[None, :, :]
    d -= np.round(d / box) * box
    return np.sqrt((d * d).sum(-1))


def structure(frames, boxes, groups, residue_of, solvent_O, label) -> dict:
    """Coordination numbers of Na+ by O(solvent) and F(anion), shell composition."""
    na = np.array(groups["cation"])
    out: dict = {}
    stats: dict[str, list] = {}
    for key, sel in [*solvent_O.items(), ("F(PF6)", np.array(groups["anion_coord"]))]:
        dall = [(_pair_d(f[na], f[sel], b), b) for f, b in zip(frames, boxes, strict=False)]
        vol = float(np.mean([np.prod(b) for _, b in dall]))
        rmin, peak = _first_min(np.concatenate([d.ravel() for d, _ in dall]), vol,
                                len(na), len(sel))
        cn = np.array([(d < rmin).sum(axis=1).mean() for d, _ in dall])
        distinct = np.array([np.mean([len({residue_of[sel[j]] for j in np.nonzero(row)[0]})
                                      for row in (d < rmin)]) for d, _ in dall])
        stats[key] = [cn, distinct]
        out[key] = {"peak_nm": peak, "cutoff_nm": rmin,
                    "CN": block_average(cn, 5), "distinct_molecules": block_average(distinct, 5)}
    out["label"] = label
    return out


def msd_diffusion(com: np.ndarray, dt_ps: float) -> float:
    """Self-diffusion coefficient (1e-9 m^2/s) from the COM MSD (multiple time origins)."""
    n = len(com)
    lags = np.arange(1, n // 2)
    msd = np.array([((com[lag:] - com[:-lag]) ** 2).sum(-1).mean() for lag in lags])
    t = lags * dt_ps
    sel = (t >= 0.2 * t.max()) & (t <= 0.8 * t.max()) if len(t) > 4 else slice(None)
    slope = np.polyfit(t[sel], msd[sel], 1)[0]  # nm^2/ps
    return float(slope / 6.0 * 1e3)  # nm^2/ps -> 1e-9 m^2/s


def _electrolyte(spec: dict) -> ElectrolyteConfig:
    ekw = dict(salt=spec["salt"], solvents=spec["solvents"], n_solvent=spec["n"],
               temperature=f"{spec['T']} K")
    if "conc" in spec:
        ekw["concentration"] = spec["conc"]
    else:
        ekw["n_salt"] = spec["n_salt"]
    return ElectrolyteConfig(**ekw)


def run_system(name: str, args: argparse.Namespace, outdir: Path) -> dict:
    spec = SYSTEMS[name]
    ff = ForceFieldConfig(nonbonded_cutoff=f"{args.cutoff} nm", constraints="hbonds",
                          charge_scaling=args.charge_scaling)
    built = build_electrolyte(_electrolyte(spec), ff, seed=args.seed)
    system, top = built.system, built.topology
    repartition_hydrogen_mass(system, top, args.hmass)
    T = spec["T"] * unit.kelvin
    system.addForce(openmm.MonteCarloBarostat(1.0 * unit.bar, T, 25))
    integ = openmm.LangevinMiddleIntegrator(T, 1.0 / unit.picosecond,
                                            args.timestep_fs * unit.femtosecond)
    integ.setRandomNumberSeed(args.seed)
    platform = openmm.Platform.getPlatformByName(args.platform)
    sim = app.Simulation(top, system, integ, platform)
    sim.context.setPositions(built.positions)
    openmm.LocalEnergyMinimizer.minimize(sim.context, 10.0, 500)
    sim.context.setVelocitiesToTemperature(T, args.seed)
    mass_g = sum(system.getParticleMass(i).value_in_unit(unit.dalton)
                 for i in range(system.getNumParticles())) / 6.02214076e23
    steps_per_ps = int(round(1000.0 / args.timestep_fs))
    t0 = time.time()
    sim.step(int(args.equil_ps * steps_per_ps))
    t_equil = time.time() - t0
    frame_every = max(1, int(round(args.frame_ps * steps_per_ps)))
    n_frames = int(args.prod_ps * steps_per_ps) // frame_every
    dens, frames, boxes = [], [], []
    t0 = time.time()
    for _ in range(n_frames):
        sim.step(frame_every)
        st = sim.context.getState(getPositions=True)
        box = np.diag(st.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
        dens.append(mass_g / (np.prod(box) * 1e-21))
        frames.append(st.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
        boxes.append(box)
    t_prod = time.time() - t0
    dens = np.array(dens)
    res: dict = {"system": name, "n_atoms": built.n_atoms,
                 "composition": built.metadata.composition, "T_K": spec["T"],
                 "platform": args.platform, "timestep_fs": args.timestep_fs,
                 "hmass_amu": args.hmass, "equil_ps": args.equil_ps, "prod_ps": args.prod_ps,
                 "cutoff_nm": args.cutoff, "charge_scaling": args.charge_scaling,
                 "wall_s": {"equil": t_equil, "prod": t_prod},
                 "ns_per_day": (args.prod_ps / 1000.0) / (t_prod / 86400.0),
                 "density_g_cm3": block_average(dens, args.blocks)}
    if spec["target"]:
        m = res["density_g_cm3"][0]
        res["density_target"] = spec["target"]
        res["density_error_pct"] = 100.0 * (m - spec["target"]) / spec["target"]
    np.savez_compressed(outdir / f"{name}_series.npz", density=dens, boxes=np.array(boxes))
    if "conc" in spec:
        groups = built.metadata.groups
        residue_of = {a.index: a.residue.index for a in top.atoms()}
        solvent_O = {f"O({s})": np.array(groups[f"solvent_O:{s}"]) for s in spec["solvents"]}
        res["structure"] = structure(frames, boxes, groups, residue_of, solvent_O, name)
        xyz = np.array(frames)
        masses = np.array([system.getParticleMass(i).value_in_unit(unit.dalton)
                           for i in range(system.getNumParticles())])
        res["D_1e-9_m2_s"] = {"Na+": msd_diffusion(xyz[:, groups["cation"]], args.frame_ps)}
        for s in spec["solvents"]:
            idx = [[a.index for a in r.atoms()] for r in top.residues() if r.name == s]
            com = np.stack([(xyz[:, i] * masses[i][None, :, None]).sum(1) / masses[i].sum()
                            for i in idx], axis=1)
            res["D_1e-9_m2_s"][s] = msd_diffusion(com, args.frame_ps)
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--systems", default="dme,ec,dmc,napf6_dme,napf6_ecdmc")
    p.add_argument("--equil-ps", type=float, default=20.0)
    p.add_argument("--prod-ps", type=float, default=60.0)
    p.add_argument("--frame-ps", type=float, default=0.5)
    p.add_argument("--timestep-fs", type=float, default=4.0)
    p.add_argument("--hmass", type=float, default=3.0)
    p.add_argument("--cutoff", type=float, default=1.0)
    p.add_argument("--charge-scaling", type=float, default=0.8)
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--platform", default="CPU")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--out", default="validation_runs")
    args = p.parse_args()
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    for name in args.systems.split(","):
        t0 = time.time()
        res = run_system(name.strip(), args, outdir)
        res["wall_total_s"] = time.time() - t0
        (outdir / f"{name}.json").write_text(json.dumps(res, indent=2))
        print(json.dumps(res, indent=1), flush=True)


if __name__ == "__main__":
    main()
