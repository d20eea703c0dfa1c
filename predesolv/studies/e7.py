"""E7 (0 K part): stepwise EC desolvation energies of Na+(EC)n near pristine and N-doped
carbon edges and in the gas phase, Tang et al. eq. 1, with the classical force field."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from predesolv.config.base import StrictModel
from predesolv.workflows.stepwise import (
    gas_phase,
    isolated_ec_energy,
    minimise_cluster,
    slab_label,
    stepwise_table,
    surface_slab,
    vacuum_forcefield,
)
from predesolv.workflows.xtb_rerank import rerank_size, xtb_ec_energy_eV, xtb_steps

from .common import config_folder, configs, load_study_config
from .result import (
    STUDY_FILE,
    Quantity,
    RunRecord,
    Seed,
    Setting,
    StudyResult,
    WhatWasRun,
    numbers_from_rows,
)

SEED = ("Tang et al., Nano-Micro Lett. 18:161 (2026), eq. 1: DFT stepwise desolvation "
        "energies of Na+(EC)n on pristine and N-doped carbon; the 3->2 step is the first to "
        "take > 1 s, oxidised N lowers the energies")
DEFINITION = ("E_desolv(n) = E[slab + Na+(EC)_(6-n)] + E[EC] - E[slab + Na+(EC)_(7-n)] (Tang "
              "et al. 2026, eq. 1), lowest minimum with every EC bound (carbonyl O within 0.30 "
              "nm of Na+); spread = max - min of those minima; tau = h/(kB T) exp(E/kB T)")
GEOMETRY = ("edge-on: six-sheet graphite seen edge-on, H-terminated edges, the dopant at the "
            "edge the cluster faces; face-on: one H-terminated sheet (ribbon 2.0 nm wide, "
            "periodic along y), the cluster above it over a point 0.25 nm inside the N at the "
            "ribbon edge (the seed's clusters sit on the doped sheet)")


class SurfaceSpec(StrictModel):
    """One surface: ``gas`` (no slab), an edge-on surface, or a face-on sheet, with an
    optional dopant at the edge (:func:`predesolv.workflows.stepwise.surface_slab`)."""

    kind: Literal["gas", "edge_on", "face_on"] = "edge_on"
    edge: Literal["zigzag", "armchair"] = "zigzag"
    dopant: Literal["graphitic", "pyridinic", "pyrrolic", "n_oxide"] | None = None

    @property
    def label(self) -> str:
        """The name its slab carries in the study's tables (``"gas"`` for the gas phase)."""
        return ("gas" if self.kind == "gas"
                else slab_label(self.edge, self.dopant, self.kind == "face_on"))


class XtbConfig(StrictModel):
    """Re-rank the gas-phase minima with GFN2-xTB (:mod:`predesolv.workflows.xtb_rerank`)."""

    n_keep: int = Field(5, ge=1, le=100, description="lowest fully bound minima per size")
    fmax_eV_per_A: float = Field(0.05, gt=0, description="BFGS force criterion (eV/Å)")
    max_steps: int = Field(300, ge=1, le=10000)


class StaticDesolvationConfig(StrictModel):
    """``studies/E7/<size>/static.yaml`` (and ``studies/E7-xTB/<size>/static.yaml``)."""

    surfaces: list[SurfaceSpec]
    n_starts: int = Field(ge=1, le=1000)
    seed: int = 0
    temperature_K: float = Field(298.15, gt=0)
    xtb: XtbConfig | None = Field(
        None, description="re-rank the gas-phase minima with GFN2-xTB (the ml extra)")


def _slab(spec: SurfaceSpec, seed: int) -> Any:
    if spec.kind == "gas":
        return gas_phase()
    return surface_slab(spec.edge, spec.dopant, seed, face_on=spec.kind == "face_on")


def run_e7(folder: Path, out: Path, opts: dict[str, Any]) -> dict[str, Path]:
    """Every surface of ``static.yaml``: minima of Na+(EC)k, k = 0..6, from ``n_starts``
    random starts; ``e7_static.csv`` (E_desolv(n), spread, Arrhenius time), ``e7_minima.csv``
    (every minimum), ``e7_static.png`` and the study's summary."""
    (path,) = configs(folder)
    cfg = load_study_config(path, StaticDesolvationConfig, "a static-desolvation")
    platform = opts.get("platform") or "CPU"
    e_ec = isolated_ec_energy(platform=platform)
    rows, minima_rows, runs, xtb_rows = [], [], [], []
    e_ec_xtb: list[float] = []
    for i, spec in enumerate(cfg.surfaces):
        t0 = time.perf_counter()
        slab = _slab(spec, cfg.seed + i)
        minima = {k: minimise_cluster(slab, k, cfg.n_starts, seed=cfg.seed + 100 * k + i,
                                      platform=platform)
                  for k in range(7)}
        table = stepwise_table(minima, e_ec, slab.label, cfg.temperature_K)
        if cfg.xtb is not None and spec.kind == "gas":
            xtb_rows += _xtb_column(table, slab, minima, cfg.xtb, e_ec_xtb)
        rows += table
        minima_rows += [{"surface": slab.label, "n_EC": k, "start": m.start,
                         "energy_kJ_per_mol": m.energy_kJ_per_mol, "n_bound": m.n_bound}
                        for k, ms in minima.items() for m in ms]
        runs.append(RunRecord(name=slab.label, wall_s=time.perf_counter() - t0,
                              platform=platform))
        sys.stderr.write(f"predesolv: E7 {slab.label}: {7 * cfg.n_starts} minimisations, "
                         f"{runs[-1].wall_s:.0f} s\n")
    out.mkdir(parents=True, exist_ok=True)
    files = {"e7_static.csv": out / "e7_static.csv", "e7_minima.csv": out / "e7_minima.csv",
             "e7_static.png": out / "e7_static.png"}
    if xtb_rows:
        files["e7_xtb_minima.csv"] = out / "e7_xtb_minima.csv"
        pd.DataFrame(xtb_rows).to_csv(files["e7_xtb_minima.csv"], index=False,
                                      float_format="%.10g")
    pd.DataFrame(rows).to_csv(files["e7_static.csv"], index=False, float_format="%.6g")
    pd.DataFrame(minima_rows).to_csv(files["e7_minima.csv"], index=False, float_format="%.10g")
    _plot(rows).savefig(files["e7_static.png"], dpi=120, bbox_inches="tight")
    record = WhatWasRun.of(config_folder(folder), [path.stem], runs, [
        Setting(name="n_starts", value=cfg.n_starts),
        Setting(name="charge_scaling", value=vacuum_forcefield().charge_scaling),
        Setting(name="gas_phase_electrostatics", value="NoCutoff (not periodic)"),
        Setting(name="temperature", value=cfg.temperature_K, unit="K")], GEOMETRY)
    numbers = [Quantity(name="E_EC_kJ_per_mol", value=e_ec, unit="kJ/mol"),
               *[Quantity(name="E_EC_xTB_eV", value=v, unit="eV") for v in e_ec_xtb[:1]],
               *numbers_from_rows("E7", rows)]
    result = StudyResult.new(opts.get("study", "E7"), opts["size"], record,
                             part="0 K stepwise desolvation",
                             seed=Seed(source=SEED), numbers=numbers, rows=rows,
                             files=list(files), definition=DEFINITION)
    files[STUDY_FILE] = result.write(out)
    return files


def _xtb_column(table: list[dict[str, Any]], slab: Any, minima: dict[int, list[Any]],
                cfg: XtbConfig, e_ec: list[float]) -> list[dict[str, Any]]:
    """Add ``E_desolv_xTB_eV`` (every EC still bound) and ``E_desolv_xTB_any_eV`` (lowest
    xTB minimum of each size) to the gas-phase rows; append E[EC] (xTB, eV) to ``e_ec``;
    return the re-optimised minima's rows."""
    found = {k: rerank_size(slab, k, ms, cfg.n_keep, cfg.fmax_eV_per_A, cfg.max_steps)
             for k, ms in minima.items()}
    e_ec.append(xtb_ec_energy_eV(cfg.fmax_eV_per_A, cfg.max_steps))
    steps, steps_any = xtb_steps(found, e_ec[-1]), xtb_steps(found, e_ec[-1], False)
    for row in table:
        row["E_desolv_xTB_eV"] = steps[row["n"]]
        row["E_desolv_xTB_any_eV"] = steps_any[row["n"]]
    sys.stderr.write(f"predesolv: E7 {slab.label}: GFN2-xTB re-optimised "
                     f"{sum(len(v) for v in found.values())} minima\n")
    return [{"surface": slab.label, "n_EC": m.n_ec, "start": m.start,
             "ff_energy_kJ_per_mol": m.ff_energy_kJ_per_mol, "xtb_energy_eV": m.xtb_energy_eV,
             "bfgs_steps": m.steps, "converged": m.converged, "n_bound_after": m.n_bound}
            for ms in found.values() for m in ms]


def _plot(rows: list[dict[str, Any]]) -> Any:
    """E_desolv against the step, one line per surface."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    for i, label in enumerate(dict.fromkeys(r["surface"] for r in rows)):
        part = [r for r in rows if r["surface"] == label]
        ax.plot([r["n"] for r in part], [r["E_desolv_eV"] for r in part], marker="o",
                color=f"C{i}", label=label)
    ax.set_xticks(range(1, 7), [f"{7 - n}→{6 - n}" for n in range(1, 7)])
    ax.set_xlabel("step (EC bound before → after)")
    ax.set_ylabel("E$_{desolv}$ (eV), 0 K classical")
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig
