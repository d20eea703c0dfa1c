"""E7-search: how far the 0 K search for Na+(EC)n minima has converged.

E7 reports, per cluster size, the lowest of ``n_starts`` random-start minimisations. This
study measures what that number is worth: for each surface and search method (``random``:
E7's minimisation from random starts; ``anneal``: each start annealed first,
:mod:`predesolv.workflows.global_search`) it tracks the lowest fully bound minimum against
the number of starts (e.g. 8, 32, 128) and calls it stable when it moved by no more than
0.02 eV between the last two counts; the stepwise energies (Tang et al.'s eq. 1) are
formed at the largest count, beside an energy-only Boltzmann ensemble value.
"""

from __future__ import annotations

import functools
import math
import shutil
import time
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field, field_validator

from predesolv.config.base import StrictModel
from predesolv.config.cluster import ClusterConfig
from predesolv.constants import KJ_PER_MOL_PER_EV
from predesolv.errors import Interrupted, PredesolvRuntimeError, RunDirectoryError
from predesolv.stage_io import InterruptFlag
from predesolv.workflows.distributed import Task, run_tasks
from predesolv.workflows.global_search import (
    STABLE_EV,
    AnnealProtocol,
    anneal_cluster,
    boltzmann_energy,
    convergence_rows,
    lowest_bound,
)
from predesolv.workflows.stepwise import Minimum, isolated_ec_energy, minimise_cluster

from .common import config_folder, configs, load_study_config
from .e7 import GEOMETRY, SEED, SurfaceSpec, _slab
from .result import STUDY_FILE, Quantity, RunRecord, Seed, Setting, StudyResult, Verdict, WhatWasRun

DEFINITION = ("lowest minimum with every EC bound (carbonyl O within 0.30 nm of Na+) among "
              "the first N starts, per surface, method and cluster size; stable: moved by "
              f"<= {STABLE_EV} eV between the last two start counts; converged: stable and "
              f"within {STABLE_EV} eV of the lowest minimum any method found; E_desolv(n) = "
              "E[Na+(EC)_(6-n)] + E[EC] - E[Na+(EC)_(7-n)] at the largest count (Tang et al. "
              "2026, eq. 1); Boltzmann: -kT ln sum exp(-E_i/kT) over the distinct fully bound "
              "minima at temperature_K (energies only, no vibrational entropy)")


class AnnealSpec(StrictModel):
    """The annealing programme (:class:`~predesolv.workflows.global_search.AnnealProtocol`)."""

    t_high_K: float = Field(600.0, gt=0)
    t_low_K: float = Field(50.0, gt=0)
    duration_ps: float = Field(10.0, gt=0, le=1000)
    timestep_fs: float = Field(1.0, gt=0, le=4)
    hold_nm: float = Field(0.35, gt=0.2, le=1.0,
                           description="carbonyl O - Na+ distance the hot cluster keeps")
    lateral_nm: float = Field(0.30, gt=0, le=2.0,
                              description="Na+ distance from the site across the surface")
    max_height_nm: float = Field(1.2, gt=0, le=3.0,
                                 description="Na+ height above the site, at most")

    def protocol(self) -> AnnealProtocol:
        steps = max(1, round(self.duration_ps * 1000.0 / self.timestep_fs))
        return AnnealProtocol(self.t_high_K, self.t_low_K, steps, self.timestep_fs / 1000.0,
                              hold_nm=self.hold_nm, lateral_nm=self.lateral_nm,
                              max_height_nm=self.max_height_nm)


class SearchStudyConfig(StrictModel):
    """``studies/E7-search/<size>/search.yaml``."""

    surfaces: list[SurfaceSpec]
    methods: list[Literal["random", "anneal"]] = Field(min_length=1)
    counts: list[int] = Field(min_length=2, description="start counts, increasing")
    n_ec: list[int] = Field([0, 1, 2, 3, 4, 5, 6], min_length=2,
                            description="cluster sizes (steps need both neighbours)")
    seed: int = 0
    temperature_K: float = Field(298.15, gt=0)
    anneal: AnnealSpec = AnnealSpec()
    cluster: ClusterConfig | None = Field(
        None, description="run the searches as Dask tasks (one per surface, method and "
        "size; the first config's block counts); none: one after another in this process")

    @field_validator("counts")
    @classmethod
    def _increasing(cls, v: list[int]) -> list[int]:
        if v[0] < 1 or any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise ValueError(f"counts must be positive and increasing, got {v}")
        return v

    @field_validator("n_ec")
    @classmethod
    def _sizes(cls, v: list[int]) -> list[int]:
        if any(k < 0 or k > 6 for k in v) or len(set(v)) != len(v):
            raise ValueError(f"n_ec must be distinct sizes 0..6, got {v}")
        return sorted(v)


def search_part(spec: SurfaceSpec, method: str, cfg: SearchStudyConfig, i: int, k: int,
                platform: str, part: Path, device: str | None = None) -> str:
    """One surface x method x cluster size: ``counts[-1]`` starts (seeded by
    ``seed + 100 k + i``, as E7 seeds its own), minima written to ``part`` (CSV, with the
    number of starts tried in ``n_starts`` and the summed wall time in ``wall_s``). A Dask
    task body (:mod:`predesolv.workflows.distributed`). A part that tried as many starts or
    more is not redone; one that tried fewer (``counts`` raised since, or stopped) is
    extended by the missing starts only, from the same start positions a one-shot run would
    use. The part is rewritten after every start, so a stop (``--stop-after``, SIGTERM) or
    a lost worker costs at most the start under way; a stop raises
    :class:`~predesolv.errors.Interrupted` after saving."""
    done, tried, wall = _part_so_far(part, spec.label)
    n = cfg.counts[-1]
    if tried >= n:
        return str(part)
    t0 = time.perf_counter()
    slab = _slab(spec, cfg.seed + i)
    new: list[Minimum] = []

    def save(n_tried: int) -> None:
        _write_part(part, slab.label, k, done, new, n_tried, wall + time.perf_counter() - t0)

    def keep(m: Minimum) -> None:
        new.append(m)
        save(m.start + 1)

    search: Any = anneal_cluster if method == "anneal" else minimise_cluster
    extra = {"protocol": cfg.anneal.protocol()} if method == "anneal" else {}
    with InterruptFlag() as flag:
        search(slab, k, n, seed=cfg.seed + 100 * k + i, platform=platform, first_start=tried,
               on_minimum=keep, stop=flag.requested, **extra)
    if flag.set:
        raise Interrupted(f"E7-search {slab.label}, {method}, {k} EC: stopped after "
                          f"{max([tried, *(m.start + 1 for m in new)])} of {n} starts; "
                          f"every minimum so far is saved in {part}",
                          "run the same command with --resume: the part goes on from the "
                          "next start")
    if done.empty and not new:
        raise PredesolvRuntimeError(f"E7-search {slab.label}, {k} EC: no start could be "
                                    f"placed clear of the slab")
    save(n)
    return str(part)


def _write_part(part: Path, label: str, k: int, done: pd.DataFrame, new: list[Minimum],
                n_tried: int, wall_s: float) -> None:
    """Write a part (atomically): the minima it had and the new ones, ``n_tried`` starts
    tried, ``wall_s`` seconds spent."""
    rows = pd.DataFrame([{"surface": label, "n_EC": k, "start": m.start,
                          "energy_kJ_per_mol": m.energy_kJ_per_mol, "n_bound": m.n_bound}
                         for m in new],
                        columns=["surface", "n_EC", "start", "energy_kJ_per_mol", "n_bound"])
    rows = pd.concat([d for d in (done, rows) if not d.empty], ignore_index=True)
    part.parent.mkdir(parents=True, exist_ok=True)
    tmp = part.with_suffix(".tmp")
    rows.assign(n_starts=n_tried, wall_s=wall_s).to_csv(tmp, index=False,
                                                         float_format="%.10g")
    tmp.replace(part)


def _part_so_far(part: Path, label: str) -> tuple[pd.DataFrame, int, float]:
    """A part's minima, the number of starts it tried and its wall time (s); an empty
    frame, 0 and 0.0 when there is no part. A part written before ``n_starts`` was recorded
    tried at least up to its last placed start (a start that could not be placed then
    cannot be now: placement is drawn from the seeded generator alone). ``label``: the
    surface the config has at the part's place (:func:`_check_surface`)."""
    if not part.is_file():
        return pd.DataFrame(), 0, 0.0
    df = _check_surface(pd.read_csv(part), part, label)
    tried = int(df["n_starts"].iloc[0]) if "n_starts" in df else int(df["start"].max()) + 1
    wall = float(df["wall_s"].iloc[0]) if "wall_s" in df else math.nan
    return df[["surface", "n_EC", "start", "energy_kJ_per_mol", "n_bound"]], tried, wall


def step_rows(minima: dict[int, list[Minimum]], e_ec: float, label: str, method: str,
              temperature_K: float) -> list[dict[str, Any]]:
    """Eq. 1 steps between neighbouring sizes present in ``minima``: the lowest fully
    bound minima (eV) and the Boltzmann ensemble value (``converged`` is set by
    :func:`agree_across_methods`, which needs every method's minima)."""
    rows = []
    for hi in sorted(minima, reverse=True):
        lo = hi - 1
        if lo not in minima:
            continue
        ens = {k: boltzmann_energy([m.energy_kJ_per_mol for m in minima[k] if m.n_bound == k],
                                   temperature_K) for k in (lo, hi)}
        rows.append({"surface": label, "method": method, "n": 7 - hi,
                     "step": f"{hi}->{lo} EC",
                     "E_desolv_eV": (lowest_bound(minima[lo], lo) + e_ec
                                     - lowest_bound(minima[hi], hi)) / KJ_PER_MOL_PER_EV,
                     "E_desolv_boltzmann_eV": (ens[lo] + e_ec - ens[hi]) / KJ_PER_MOL_PER_EV,
                     "converged": False})
    return rows


def run_e7_search(folder: Path, out: Path, opts: dict[str, Any]) -> dict[str, Path]:
    """Every surface x method x size of each config in ``folder``: ``e7_convergence.csv``
    (lowest minimum per start count), ``e7_search_steps.csv`` (eq. 1 at the largest count,
    Boltzmann value, converged), ``e7_minima.csv``, ``e7_convergence.png`` and the study's
    summary. Each surface x method x size is one task (on Dask with a ``cluster`` block,
    else one after another) that keeps its minima in ``parts/``: ``--resume`` skips those,
    and extends a part by the missing starts when ``counts`` has been raised since."""
    platform = opts.get("platform") or "CPU"
    e_ec = isolated_ec_energy(platform=platform)
    parts = [(path, load_study_config(path, SearchStudyConfig, "a search-convergence"))
             for path in configs(folder, opts.get("configs"))]
    if not opts.get("resume") and (out / PARTS).is_dir():
        shutil.rmtree(out / PARTS)
    jobs = sorted(((path, cfg, i, spec, method, k) for path, cfg in parts
                   for i, spec in enumerate(cfg.surfaces) for method in cfg.methods
                   for k in cfg.n_ec),  # the costliest first: annealed, slabs, large clusters
                  key=lambda j: (j[4] != "anneal", j[3].kind == "gas", -j[5]))
    for path, _cfg, i, spec, method, k in jobs:  # before anything runs: an input error
        _part_so_far(_part(out, path, i, method, k), spec.label)
    tasks = [Task(f"{path.stem} {i} {method} {k} EC", functools.partial(
                 search_part, spec, method, cfg, i, k, platform, _part(out, path, i, method, k)))
             for path, cfg, i, spec, method, k in jobs]
    cluster = next((cfg.cluster for _, cfg in parts if cfg.cluster is not None), None)
    t0 = time.perf_counter()
    run_tasks(tasks, cluster, serial=cluster is None)
    acc = _Collected()
    for path, cfg in parts:
        first, first_step = len(acc.conv), len(acc.steps)
        for i, spec in enumerate(cfg.surfaces):
            label = spec.label
            for method in cfg.methods:
                minima, wall = _read_parts([_part(out, path, i, method, k)
                                            for k in cfg.n_ec], cfg.counts[-1])
                acc.add(label, method, minima, cfg, e_ec)
                acc.runs.append(RunRecord(name=f"{label} / {method}", wall_s=wall,
                                          platform=platform))
        acc.verdicts += _verdicts(acc.conv[first:], cfg.counts)
        acc.verdicts += agree_across_methods(acc.conv[first:], acc.steps[first_step:],
                                             cfg.counts)
        acc.settings += _settings(path.stem, cfg)
    acc.runs.append(RunRecord(name=f"this invocation ({len(tasks)} searches, finished parts "
                              f"reused)", wall_s=time.perf_counter() - t0, platform=platform))
    return _write(out, folder, acc, e_ec, opts)


#: Folder (in the study's output) of the finished surface x method x size parts.
PARTS = "parts"


def _part(out: Path, path: Path, i: int, method: str, k: int) -> Path:
    return out / PARTS / f"{path.stem}-{i}-{method}-{k}.csv"


def _check_surface(df: pd.DataFrame, part: Path, label: str) -> pd.DataFrame:
    """``df`` (a part read from ``part``) if its minima are of surface ``label``: parts are
    named by the surface's place in the config, so a config whose surfaces were reordered
    or replaced since would otherwise report one surface's minima under another's place.

    Raises
    ------
    RunDirectoryError
        The part holds another surface (the message says how to go on).
    """
    found = sorted(set(map(str, df["surface"])))
    if found != [label]:
        raise RunDirectoryError(
            f"{part} holds the minima of {', '.join(found)}, but the config now has "
            f"{label} in that place: its surfaces were reordered or replaced since. Put "
            f"them back in their order (add new surfaces at the end), or start again with "
            f"--overwrite or another --out")
    return df


def _read_parts(paths: list[Path], n_starts: int
                ) -> tuple[dict[int, list[Minimum]], float | None]:
    """The minima of the first ``n_starts`` starts per size of one surface x method (a part
    may hold more, from a run with a larger count) and the parts' summed wall time (s; None
    when a part does not record it). Their surface was checked before the searches ran."""
    minima: dict[int, list[Minimum]] = {}
    wall = 0.0
    for path in paths:
        df = pd.read_csv(path)
        wall += float(df["wall_s"].iloc[0]) if "wall_s" in df else math.nan
        for r in df[df["start"] < n_starts].itertuples():
            minima.setdefault(int(r.n_EC), []).append(
                Minimum(float(r.energy_kJ_per_mol), int(r.n_bound), int(r.start)))
    return minima, (wall if math.isfinite(wall) else None)


class _Collected:
    """Everything the study's files are made from, gathered part by part."""

    def __init__(self) -> None:
        self.conv: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.minima: list[dict[str, Any]] = []
        self.runs: list[RunRecord] = []
        self.verdicts: list[Verdict] = []
        self.settings: list[Setting] = []

    def add(self, label: str, method: str, minima: dict[int, list[Minimum]],
            cfg: SearchStudyConfig, e_ec: float) -> None:
        self.conv += [{"surface": label, "method": method} | r
                      for r in convergence_rows(minima, cfg.counts, label)]
        self.steps += step_rows(minima, e_ec, label, method, cfg.temperature_K)
        self.minima += [{"surface": label, "method": method, "n_EC": k, "start": m.start,
                         "energy_kJ_per_mol": m.energy_kJ_per_mol, "n_bound": m.n_bound}
                        for k, ms in minima.items() for m in ms]


def _settings(stem: str, cfg: SearchStudyConfig) -> list[Setting]:
    a = cfg.anneal
    return [Setting(name=f"{stem}: methods", value=",".join(cfg.methods)),
            Setting(name=f"{stem}: counts", value=",".join(map(str, cfg.counts))),
            Setting(name=f"{stem}: n_ec", value=",".join(map(str, cfg.n_ec))),
            Setting(name=f"{stem}: anneal", value=f"{a.t_high_K:g} -> {a.t_low_K:g} K over "
                    f"{a.duration_ps:g} ps ({a.timestep_fs:g} fs), shell hold {a.hold_nm:g} "
                    f"nm"),
            Setting(name=f"{stem}: temperature", value=cfg.temperature_K, unit="K")]


def agree_across_methods(conv: list[dict[str, Any]], steps: list[dict[str, Any]],
                         counts: list[int]) -> list[Verdict]:
    """A size is **converged** in a method when its lowest minimum is stable there *and*
    lies within :data:`STABLE_EV` of the lowest minimum any method found for that surface
    and size: one method's plateau can sit above a basin only another reaches. Adds
    ``above_best_eV`` and ``converged`` to the convergence rows at the last count (NaN and
    False at the others), sets each step row's ``converged`` from its two sizes, and returns
    one verdict per surface searched by more than one method."""
    best: dict[tuple[str, int], float] = {}
    for r in conv:
        e = float(r["E_lowest_kJ_per_mol"])
        if r["n_starts"] == counts[-1] and math.isfinite(e):
            key = (r["surface"], int(r["n_EC"]))
            best[key] = min(best.get(key, math.inf), e)
    ok: dict[tuple[str, str, int], bool] = {}
    for r in conv:
        last = r["n_starts"] == counts[-1]
        key = (r["surface"], int(r["n_EC"]))
        above = ((float(r["E_lowest_kJ_per_mol"]) - best.get(key, math.nan))
                 / KJ_PER_MOL_PER_EV if last else math.nan)
        r["above_best_eV"] = above
        r["converged"] = bool(last and r["stable"] and above <= STABLE_EV)
        if last:
            ok[(r["surface"], r["method"], int(r["n_EC"]))] = r["converged"]
    for st in steps:
        hi = int(str(st["step"]).split("->")[0])
        st["converged"] = bool(ok.get((st["surface"], st["method"], hi))
                               and ok.get((st["surface"], st["method"], hi - 1)))
    out = []
    for label in dict.fromkeys(r["surface"] for r in conv):
        last = [r for r in conv if r["surface"] == label and r["n_starts"] == counts[-1]]
        if len({r["method"] for r in last}) < 2:
            continue
        apart = [r for r in last if not r["above_best_eV"] <= STABLE_EV]
        sizes = {int(r["n_EC"]) for r in last}
        bad = {int(r["n_EC"]) for r in apart}
        what = "; ".join(f"{int(r['n_EC'])} EC: {r['method']} "
                         + (f"{r['above_best_eV']:.3f} eV above" if
                            math.isfinite(r["above_best_eV"]) else "none bound")
                         for r in apart)
        out.append(Verdict(
            name=f"methods agree: {label}",
            criterion=f"every method's lowest fully bound minimum within {STABLE_EV} eV of "
                      f"the lowest any method found, at {counts[-1]} starts",
            sentence=(f"{label}: the methods' lowest minima agree within {STABLE_EV} eV for "
                      f"{len(sizes) - len(bad)} of {len(sizes)} cluster sizes"
                      + (f" (not: {what})" if what else "")),
            ok=not bad))
    return out


def _verdicts(conv: list[dict[str, Any]], counts: list[int]) -> list[Verdict]:
    """Per surface and method: how many sizes have a stable lowest minimum."""
    df = pd.DataFrame(conv)
    last = df[df["n_starts"] == counts[-1]]
    out = []
    for (label, method), part in last.groupby(["surface", "method"], sort=False):
        loose = part[~part["stable"].astype(bool)]
        moved = "; ".join(f"{int(r.n_EC)} EC moved {r.change_eV:+.3f} eV"
                          if math.isfinite(r.change_eV) else f"{int(r.n_EC)} EC: none bound"
                          for r in loose.itertuples())
        out.append(Verdict(
            name=f"stable: {label} / {method}",
            criterion=f"lowest fully bound minimum moves <= {STABLE_EV} eV from "
                      f"{counts[-2]} to {counts[-1]} starts",
            sentence=(f"{label}, {method} starts: {len(part) - len(loose)} of {len(part)} "
                      f"cluster sizes stable from {counts[-2]} to {counts[-1]} starts"
                      + (f" (not: {moved})" if moved else "")),
            ok=loose.empty))
    return out


def _write(out: Path, folder: Path, acc: _Collected, e_ec: float, opts: dict[str, Any]
           ) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {n: out / n for n in ("e7_convergence.csv", "e7_search_steps.csv",
                                  "e7_minima.csv", "e7_convergence.png")}
    pd.DataFrame(acc.conv).to_csv(files["e7_convergence.csv"], index=False,
                                  float_format="%.6f")
    pd.DataFrame(acc.steps).to_csv(files["e7_search_steps.csv"], index=False,
                                   float_format="%.6g")
    pd.DataFrame(acc.minima).to_csv(files["e7_minima.csv"], index=False, float_format="%.10g")
    _plot(acc.conv).savefig(files["e7_convergence.png"], dpi=120, bbox_inches="tight")
    ran = [p.stem for p in configs(folder, opts.get("configs"))]
    record = WhatWasRun.of(config_folder(folder), ran, acc.runs,
                           [*acc.settings, Setting(name="charge_scaling", value=1.0)], GEOMETRY)
    numbers = [Quantity(name="E_EC_kJ_per_mol", value=e_ec, unit="kJ/mol"),
               *[Quantity(name=f"E_desolv {r['step']}", subject=f"{r['surface']} / "
                          f"{r['method']}", value=r["E_desolv_eV"], unit="eV")
                 for r in acc.steps]]
    result = StudyResult.new(opts.get("study", "E7-search"), opts["size"], record,
                             part="0 K search convergence", seed=Seed(source=SEED),
                             verdicts=acc.verdicts, numbers=numbers, rows=acc.steps,
                             files=list(files), definition=DEFINITION)
    files[STUDY_FILE] = result.write(out)
    return files


def _plot(conv: list[dict[str, Any]]) -> Any:
    """Lowest minimum minus its value at the largest count (eV) against the start count,
    one panel per surface, one line per method and size."""
    from matplotlib.figure import Figure

    df = pd.DataFrame(conv)
    labels = list(dict.fromkeys(df["surface"]))
    fig = Figure(figsize=(4.2 * len(labels), 3.6))
    for j, label in enumerate(labels):
        ax = fig.add_subplot(1, len(labels), j + 1)
        part = df[df["surface"] == label]
        for (method, k), g in part.groupby(["method", "n_EC"], sort=False):
            e = g["E_lowest_kJ_per_mol"].to_numpy(float) / KJ_PER_MOL_PER_EV
            ax.plot(g["n_starts"], e - e[-1], marker="o" if method == "anneal" else "x",
                    ls="-" if method == "anneal" else "--", color=f"C{int(k)}",
                    label=f"{k} EC, {method}")
        ax.axhspan(-STABLE_EV, STABLE_EV, color="0.85")
        ax.set_xscale("log", base=2)
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("starts")
        ax.set_ylabel("E$_{lowest}$ − E$_{lowest}$(last) (eV)")
    ax.legend(fontsize=6, ncol=2, bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig


__all__ = ["AnnealSpec", "SearchStudyConfig", "agree_across_methods", "run_e7_search",
           "step_rows"]
