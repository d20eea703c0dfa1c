"""0 K filling of closed graphitic pores with Na atoms, one at a time (study E0).

Ren et al., *Nano-Micro Lett.* **18**, 382 (2026), Experimental section and Fig. 1: with the
carbon fixed, Na atoms are added one by one "in energy competing positions", only Na is
relaxed, and the formation enthalpy of each addition is

    H(n) = E[Na_n C] - E[Na_(n-1) C] - mu_Na            (eV per added atom)

along the lowest-enthalpy path; H < 0 means the addition happens at a potential V > 0 vs
Na/Na+. Here every energy comes from an ASE calculator (a machine-learned potential of
:mod:`predesolv.mlip`, optionally with D3) and ``mu_Na`` is the energy per atom of bcc Na
relaxed with the same calculator (the seed writes "the Na atom on the surface of its
metallic crystal form"; the bulk is the usual reference of an average potential and is what
is used here).

The path is greedy: for atom n, ``candidates`` starting sites (half at random in the region,
half one Na–Na bond from a random Na already there) are screened by single-point energy and
the ``n_relax`` lowest are relaxed (BFGS, framework atoms fixed); the lowest relaxed
structure is kept. This is a lowest-of-a-few search, not a global one: the number of
candidates is recorded with every step.

The nucleation barrier read from H(n) (:func:`nucleation_barrier`) is the largest H before
the first addition with H < 0 (0 when the first atom already has H < 0).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from predesolv.errors import ConfigError
from predesolv.mlip.errors import require
from predesolv.mlip.structures import ANGSTROM_PER_NM, add_atoms
from predesolv.progress import ProgressLog
from predesolv.systems.closed_pore import NA_PLANE_NM, PoreCarbon, PoreRegion

#: Nearest-neighbour distance of bcc Na (nm; a = 0.4225 nm at 5 K): where "near" candidates
#: start from an existing Na atom.
NA_NA_NM = 0.366
#: Lattice constants scanned for bcc Na (Å) before the parabola refinement.
BCC_SCAN_A = tuple(np.round(np.arange(3.90, 4.61, 0.05), 3))


@dataclass(frozen=True)
class FillSettings:
    """How each Na is placed and relaxed.

    Attributes
    ----------
    candidates : int
        Starting sites screened by single-point energy per added atom.
    n_relax : int
        Lowest screened sites relaxed; the lowest relaxed one is kept.
    fmax_eV_per_A : float
        BFGS force criterion on the Na atoms (eV/Å).
    max_steps : int
        BFGS step cap per relaxation.
    min_na_na_nm : float
        Smallest Na–Na distance of a starting site (nm).
    min_na_c_nm : float
        Smallest distance of a starting site to a framework atom (nm).
    """

    candidates: int = 8
    n_relax: int = 2
    fmax_eV_per_A: float = 0.05
    max_steps: int = 200
    min_na_na_nm: float = 0.28
    min_na_c_nm: float = 0.18


@dataclass(frozen=True)
class FillStep:
    """One added Na atom.

    Attributes
    ----------
    n : int
        Na atoms in the region after this step.
    energy_eV : float
        Total energy of the kept structure (eV).
    H_eV : float
        Formation enthalpy of this addition, E(n) - E(n-1) - mu_Na (eV).
    screened, relaxed : int
        Starting sites screened and relaxed.
    spread_eV : float
        Highest minus lowest relaxed energy among the relaxed sites (eV; 0 with one).
    converged : bool
        The kept relaxation reached ``fmax``.
    steps : int
        BFGS steps of the kept relaxation.
    na_nm : list of list of float
        Positions (nm) of every atom beyond the framework after this step (pre-filled Na
        first, then this path's), shape (n_prefill + n, 3).
    """

    n: int
    energy_eV: float
    H_eV: float
    screened: int
    relaxed: int
    spread_eV: float
    converged: bool
    steps: int
    na_nm: list[list[float]]

    def row(self) -> dict[str, Any]:
        """The step without positions (a table row)."""
        d = asdict(self)
        d.pop("na_nm")
        return d


@dataclass(frozen=True)
class Barrier:
    """The nucleation barrier of an H(n) path (eV), where it peaks, and where growth starts
    (first n with H < 0; None when H never falls below 0 on the computed path, and then
    ``value_eV`` is only a lower bound)."""

    value_eV: float
    n_peak: int
    n_grow: int | None


def framework_atoms(pore: PoreCarbon) -> Any:
    """The pore's framework as ASE ``Atoms`` (Å, periodic in x, y, z)."""
    ase = require("ase", "pore filling")
    return ase.Atoms(symbols=list(pore.symbols), positions=pore.positions_nm * ANGSTROM_PER_NM,
                     cell=np.diag(pore.box_nm) * ANGSTROM_PER_NM, pbc=True)


def relax_mobile(atoms: Any, n_fixed: int, fmax: float, max_steps: int) -> tuple[float, bool, int]:
    """Relax the atoms after the first ``n_fixed`` (BFGS); return (energy eV, converged, steps).

    ``atoms`` must carry a calculator; it is changed in place.
    """
    constraints = require("ase.constraints", "pore filling")
    optimize = require("ase.optimize", "pore filling")
    atoms.set_constraint(constraints.FixAtoms(indices=list(range(n_fixed))))
    opt = optimize.BFGS(atoms, logfile=None)
    opt.run(fmax=fmax, steps=max_steps)
    forces = atoms.get_forces()[n_fixed:]
    converged = bool(len(forces) == 0 or np.max(np.linalg.norm(forces, axis=1)) <= fmax)
    return float(atoms.get_potential_energy()), converged, int(opt.nsteps)


def bcc_sodium_eV(calc: Any) -> tuple[float, float]:
    """Energy per atom (eV) and lattice constant (Å) of bcc Na with ``calc``.

    A scan over :data:`BCC_SCAN_A` (one-atom primitive cell), refined by a parabola through
    the lowest point and its two neighbours.
    """
    build = require("ase.build", "bcc sodium")
    energies = []
    for a in BCC_SCAN_A:
        atoms = build.bulk("Na", "bcc", a=float(a))
        atoms.calc = calc
        energies.append(float(atoms.get_potential_energy()))
    i = int(np.argmin(energies))
    if i in (0, len(energies) - 1):
        raise ConfigError(f"bcc Na: the lowest energy of the scan lies at its end (a = "
                          f"{BCC_SCAN_A[i]} Å); this model has no bcc Na minimum between "
                          f"{BCC_SCAN_A[0]} and {BCC_SCAN_A[-1]} Å", "model")
    a3, e3 = np.array(BCC_SCAN_A[i - 1:i + 2]), np.array(energies[i - 1:i + 2])
    c2, c1, _ = np.polyfit(a3, e3, 2)
    if c2 <= 0:
        raise ConfigError("bcc Na: the energy has no minimum between "
                          f"{BCC_SCAN_A[0]} and {BCC_SCAN_A[-1]} Å with this model", "model")
    a_min = float(-c1 / (2 * c2))
    atoms = build.bulk("Na", "bcc", a=a_min)
    atoms.calc = calc
    return float(atoms.get_potential_energy()), a_min


def _too_close(atoms: Any, point_A: np.ndarray, n_fixed: int, s: FillSettings) -> bool:
    """True when ``point_A`` lies within the minimum distances of an atom of ``atoms``."""
    geometry = require("ase.geometry", "pore filling")
    _, d = geometry.get_distances(point_A[None, :], atoms.positions, cell=atoms.cell, pbc=True)
    d = d[0] / ANGSTROM_PER_NM
    return bool(np.any(d[:n_fixed] < s.min_na_c_nm) or np.any(d[n_fixed:] < s.min_na_na_nm))


def _random_point(region: PoreRegion, box_nm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A point (nm) in ``region``, at least :data:`NA_PLANE_NM` from its carbon planes
    (on the mid-plane where the region is narrower than that)."""
    x0, x1 = region.x_nm if region.x_nm is not None else (0.0, float(box_nm[0]))
    z0, z1 = region.z_nm[0] + NA_PLANE_NM, region.z_nm[1] - NA_PLANE_NM
    z = rng.uniform(z0, z1) if z1 > z0 else 0.5 * sum(region.z_nm)
    return np.array([rng.uniform(x0, x1), rng.uniform(0.0, box_nm[1]), z])


def candidate_sites(atoms: Any, n_fixed: int, na_in_region: Sequence[int], region: PoreRegion,
                    box_nm: np.ndarray, rng: np.random.Generator,
                    s: FillSettings) -> np.ndarray:
    """Up to ``s.candidates`` starting sites (Å, shape (k, 3)): half one Na–Na distance from
    a random Na of ``na_in_region`` (all at random while there is none), the rest at random
    in ``region``; none closer than the minimum distances to any atom."""
    sites: list[np.ndarray] = []
    n_near = s.candidates // 2 if len(na_in_region) else 0
    for _ in range(50 * s.candidates):
        if len(sites) == s.candidates:
            break
        if len(sites) < n_near:
            v = rng.normal(size=3)
            centre = atoms.positions[int(rng.choice(na_in_region))] / ANGSTROM_PER_NM
            p = centre + NA_NA_NM * v / np.linalg.norm(v)
            lo, hi = region.z_nm[0] + NA_PLANE_NM, region.z_nm[1] - NA_PLANE_NM
            p[2] = np.clip(p[2], lo, hi) if hi > lo else 0.5 * sum(region.z_nm)
            if region.x_nm is not None and not region.x_nm[0] <= p[0] <= region.x_nm[1]:
                continue
        else:
            p = _random_point(region, box_nm, rng)
        p_A = p * ANGSTROM_PER_NM
        if not _too_close(atoms, p_A, n_fixed, s):
            sites.append(p_A)
    return np.array(sites).reshape(-1, 3)


def add_one(atoms: Any, n_fixed: int, na_in_region: Sequence[int], region: PoreRegion,
            box_nm: np.ndarray, calc: Any, rng: np.random.Generator,
            s: FillSettings) -> tuple[Any, dict[str, Any]]:
    """Add one Na to ``region`` of ``atoms`` (not changed): screen, relax, keep the lowest.

    Returns
    -------
    (ase.Atoms, dict)
        The kept structure (new Na last, calculator attached) and ``energy_eV``,
        ``screened``, ``relaxed``, ``spread_eV``, ``converged``, ``steps``.

    Raises
    ------
    ConfigError
        No starting site is left in the region (it is full at these minimum distances).
    """
    sites = candidate_sites(atoms, n_fixed, na_in_region, region, box_nm, rng, s)
    if len(sites) == 0:
        raise ConfigError(f"no room for another Na in region {region.name!r} (minimum "
                          f"distances {s.min_na_na_nm} nm Na-Na, {s.min_na_c_nm} nm Na-C)",
                          "n_max")
    screened = []
    for p in sites:
        trial = add_atoms(atoms, "Na", p / ANGSTROM_PER_NM)
        trial.calc = calc
        screened.append((float(trial.get_potential_energy()), trial))
    screened.sort(key=lambda t: t[0])
    relaxed = []  # every Na relaxes, earlier ones too; only the framework is fixed
    for _, trial in screened[:s.n_relax]:
        e, conv, steps = relax_mobile(trial, n_fixed, s.fmax_eV_per_A, s.max_steps)
        relaxed.append((e, conv, steps, trial))
    relaxed.sort(key=lambda t: t[0])
    e, conv, steps, best = relaxed[0]
    return best, {"energy_eV": e, "screened": len(sites), "relaxed": len(relaxed),
                  "spread_eV": relaxed[-1][0] - e, "converged": conv, "steps": steps}


def fill_region(pore: PoreCarbon, region: str, calc: Any, mu_na_eV: float, n_max: int,
                s: FillSettings, seed: int = 0, *, start: Any = None,
                done: Sequence[FillStep] = (),
                on_step: Callable[[FillStep], None] | None = None) -> list[FillStep]:
    """Add Na atoms one by one to ``region`` of ``pore`` up to ``n_max`` in it.

    Parameters
    ----------
    pore : PoreCarbon
    region : str
        Region name (``"cavity"``).
    calc : ase calculator
    mu_na_eV : float
        Energy of one Na in its reference (bcc) phase (eV).
    n_max : int
        Na atoms in the region at the end.
    s : FillSettings
    seed : int
        Random seed of the starting sites (step n uses ``seed + n``, so a resumed path draws
        the same sites as an uninterrupted one).
    start : ase.Atoms, optional
        Framework plus Na already elsewhere (pre-filled parts); default the bare framework.
    done : sequence of FillStep
        Steps of this path already computed (a resumed run): continued from the last.
    on_step : callable, optional
        Called with every new step (to record progress).

    Returns
    -------
    list of FillStep
        ``done`` followed by the new steps.
    """
    n_fixed = len(pore.symbols)
    atoms = (start if start is not None else framework_atoms(pore)).copy()
    atoms.calc = calc
    n_before = len(atoms)
    steps = list(done)
    if steps:
        atoms = add_atoms(atoms[:n_fixed], "Na", steps[-1].na_nm)
        atoms.calc = calc
        energy = steps[-1].energy_eV
    else:
        energy = float(atoms.get_potential_energy())
    box = pore.box_nm
    for n in range(len(steps) + 1, n_max + 1):
        mine = list(range(n_before, len(atoms)))
        atoms, info = add_one(atoms, n_fixed, mine, pore.region(region), box, calc,
                              np.random.default_rng(seed + n), s)
        step = FillStep(n=n, H_eV=info["energy_eV"] - energy - mu_na_eV,
                        na_nm=(atoms.positions[n_fixed:] / ANGSTROM_PER_NM).round(6).tolist(),
                        **info)
        energy = step.energy_eV
        steps.append(step)
        if on_step is not None:
            on_step(step)
    return steps


def nucleation_barrier(h_eV: Sequence[float]) -> Barrier:
    """The nucleation barrier of a filling path H(1), H(2), ... (eV).

    The largest H before the first addition with H < 0; 0 when H(1) < 0 (no barrier). When
    no H is negative the largest H is returned as a lower bound and ``n_grow`` is None.
    """
    h = np.asarray(h_eV, dtype=float)
    if h.size == 0:
        raise ValueError("nucleation_barrier: empty path")
    negative = np.flatnonzero(h < 0)
    if negative.size and negative[0] == 0:
        return Barrier(0.0, 0, 1)
    end = int(negative[0]) if negative.size else h.size
    peak = int(np.argmax(h[:end]))
    return Barrier(float(h[peak]), peak + 1, end + 1 if negative.size else None)


def square_law(d_nm: Sequence[float], barrier_eV: Sequence[float]) -> dict[str, float]:
    """Least-squares fit barrier = a d^2 + c (Ren et al. Fig. 1c: "a square relationship").

    Returns
    -------
    dict
        ``a_eV_per_nm2``, ``c_eV``, ``r2`` (coefficient of determination; NaN with fewer
        than 3 points).
    """
    d, b = np.asarray(d_nm, dtype=float), np.asarray(barrier_eV, dtype=float)
    if d.size < 2:
        return {"a_eV_per_nm2": float("nan"), "c_eV": float("nan"), "r2": float("nan")}
    design = np.column_stack([d ** 2, np.ones_like(d)])
    (a, c), *_ = np.linalg.lstsq(design, b, rcond=None)
    resid = b - design @ np.array([a, c])
    ss_tot = float(np.sum((b - b.mean()) ** 2))
    r2 = 1 - float(np.sum(resid ** 2)) / ss_tot if d.size >= 3 and ss_tot > 0 else float("nan")
    return {"a_eV_per_nm2": float(a), "c_eV": float(c), "r2": r2}


def intercalation_enthalpy(pore: PoreCarbon, calc: Any, mu_na_eV: float, s: FillSettings,
                           seed: int = 0) -> FillStep:
    """One Na intercalated between the sheets of ``pore`` (region ``"cavity"``):
    H = E[Na C] - E[C] - mu_Na (eV), Ren et al. Fig. 1d; the lowest of ``s.n_relax``
    relaxed starting sites."""
    (step,) = fill_region(pore, "cavity", calc, mu_na_eV, 1, s, seed)
    return step


def prefilled(pore: PoreCarbon, region: str, n: int, calc: Any, mu_na_eV: float,
              s: FillSettings, seed: int = 0, *, done: Sequence[FillStep] = (),
              on_step: Callable[[FillStep], None] | None = None) -> tuple[Any, list[FillStep]]:
    """The framework with ``n`` Na added to ``region`` first (the pre-nucleation of a
    stage-wise pore, Ren et al. Fig. 1b/1e), and those steps (``done``/``on_step`` as for
    :func:`fill_region`)."""
    steps = fill_region(pore, region, calc, mu_na_eV, n, s, seed, done=done, on_step=on_step)
    return add_atoms(framework_atoms(pore), "Na", steps[-1].na_nm), steps


class FillLog(ProgressLog):
    """The progress file of a filling study (:class:`~predesolv.progress.ProgressLog`), one
    line per added atom: ``{"model", "path", "wall_s", "step": {FillStep fields}}``."""

    def append_step(self, model: str, path_key: str, step: FillStep,
                    wall_s: float | None = None) -> None:
        """Record one step and the wall time it took (s)."""
        self.append({"model": model, "path": path_key, "wall_s": wall_s, "step": asdict(step)})

    def steps(self, model: str, path_key: str) -> list[FillStep]:
        """The recorded steps of one path, in order (empty when none or no file)."""
        found = [FillStep(**r["step"]) for r in self.records()
                 if r["model"] == model and r["path"] == path_key]
        return sorted(found, key=lambda s: s.n)

    def recorder(self, model: str, path_key: str) -> Callable[[FillStep], None]:
        """A callback for :func:`fill_region` that appends every new step here, with the
        wall time since the callback was made or since the previous step."""
        clock = [time.perf_counter()]

        def record(step: FillStep) -> None:
            now = time.perf_counter()
            self.append_step(model, path_key, step, now - clock[0])
            clock[0] = now

        return record

    def continuing(self, model: str, path_key: str) -> dict[str, Any]:
        """``done`` and ``on_step`` of :func:`fill_region` for one path: resume it from its
        recorded steps and record the new ones."""
        return {"done": self.steps(model, path_key), "on_step": self.recorder(model, path_key)}
