"""E0: Na filling of closed graphitic pores at 0 K with two machine-learned potentials
(Ren et al. 2026, Fig. 1b-e and S2): H(n) per cavity, the nucleation barrier against cavity
size with the square-law fit, the intercalation enthalpy against spacing, and stage-wise
pores (a narrow part pre-filled next to a 1.82 nm cavity)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from predesolv.config.base import StrictModel
from predesolv.mlip import load_calculator
from predesolv.systems.closed_pore import bilayer_cavity, stepped_pore
from predesolv.workflows.molecule_check import ConformerEnergies, conformer_energies
from predesolv.workflows.pore_filling import (
    FillLog,
    FillSettings,
    FillStep,
    bcc_sodium_eV,
    fill_region,
    prefilled,
)

from .common import config_folder, configs, load_study_config
from .e0_report import (
    PROGRESS_FILE,
    filling_rows,
    molecule_rows,
    molecule_verdict,
    plot,
    summary_rows,
    verdicts,
)
from .result import STUDY_FILE, Quantity, RunRecord, Seed, Setting, StudyResult, WhatWasRun

SEED = ("Ren et al., Nano-Micro Lett. 18:382 (2026), Fig. 1b-e and S2: PBE-D3 formation "
        "enthalpies of filling graphitic cavities (0.82-2.18 nm) with Na atoms one by one, "
        "carbon fixed; Na intercalation below 0.7 nm (Fig. 1d); stage-wise pores (Fig. 1e)")
DEFINITION = ("H(n) = E[Na_n C] - E[Na_(n-1) C] - mu_Na (eV), mu_Na = energy per atom of bcc "
              "Na with the same model; carbon fixed, every Na relaxed (BFGS); the lowest of "
              "the relaxed candidate sites per added atom (greedy path, not a global search); "
              "barrier = largest H before the first H < 0 (0 if H(1) < 0; a lower bound if "
              "no H < 0); peak = largest H of the path; spread = max - min over the models")
GEOMETRY = ("bilayer: two periodic graphene sheets (AB, zigzag along x), carbon plane to plane "
            "= the spacing, vacuum along z; stepped pore: a periodic lower sheet, above it a "
            "hydrogen-terminated ribbon at the narrow spacing and one at the cavity spacing, "
            "open between them (the seed joins them with curved graphene)")


class FillConfig(StrictModel):
    """How each Na is placed (:class:`predesolv.workflows.pore_filling.FillSettings`)."""

    candidates: int = Field(6, ge=1, le=100, description="starting sites screened per atom")
    n_relax: int = Field(1, ge=1, le=100, description="lowest screened sites relaxed")
    fmax_eV_per_A: float = Field(0.05, gt=0, description="BFGS force criterion (eV/Å)")
    max_steps: int = Field(150, ge=1, le=10000)

    def settings(self) -> FillSettings:
        """As the workflow's settings."""
        return FillSettings(candidates=self.candidates, n_relax=self.n_relax,
                            fmax_eV_per_A=self.fmax_eV_per_A, max_steps=self.max_steps)


class StagewiseSpec(StrictModel):
    """A narrow part (pre-filled with ``prefill`` Na) joined to a wider cavity."""

    narrow_nm: float = Field(gt=0.3, description="spacing of the narrow part (nm)")
    narrow_name: Literal["orifice", "cavity1"] = "orifice"
    wide_nm: float = Field(1.82, gt=0.3, description="spacing of the cavity (nm)")
    prefill: int = Field(3, ge=1, le=50, description="Na placed in the narrow part first")
    narrow_cells: int = Field(3, ge=2, le=20)
    wide_cells: int = Field(4, ge=2, le=20)


class PoreFillingConfig(StrictModel):
    """``studies/E0/<size>/e0.yaml``."""

    models: list[str] = Field(["chgnet-0.3.0", "sevennet-0"], min_length=1)
    dispersion: Literal["none", "d3bj", "d3zero"] = Field(
        "d3zero", description="D3 added to the MLIPs (the seed used PBE-D3)")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    n_cells: tuple[int, int] = Field((2, 4), description="graphene cells along x, y")
    vacuum_nm: float = Field(1.5, gt=0)
    cavities_nm: list[float] = Field(min_length=1)
    n_max: int = Field(ge=1, le=60, description="Na atoms added per cavity")
    intercalation_nm: list[float] = []
    stagewise: list[StagewiseSpec] = []
    stagewise_n_max: int = Field(4, ge=1, le=60)
    fill: FillConfig = FillConfig()
    molecule_check: bool = Field(
        False, description="DME conformer energies of each MLIP against GFN2-xTB")
    seed: int = 0


def _bilayer_paths(cfg: PoreFillingConfig, model: str, calc: Any, mu: float, log: FillLog,
                   s: FillSettings) -> dict[str, list[FillStep]]:
    """H(n) in every cavity and the one-Na intercalation at every spacing."""
    out: dict[str, list[FillStep]] = {}
    for d in cfg.cavities_nm:
        key = f"cavity {d:.3f}"
        out[key] = fill_region(bilayer_cavity(d, cfg.n_cells, vacuum_nm=cfg.vacuum_nm),
                               "cavity", calc, mu, cfg.n_max, s, cfg.seed,
                               **log.continuing(model, key))
        sys.stderr.write(f"predesolv: E0 {model} {key} nm: {len(out[key])} Na\n")
    for d in cfg.intercalation_nm:
        key = f"intercalation {d:.3f}"
        out[key] = fill_region(bilayer_cavity(d, cfg.n_cells, vacuum_nm=cfg.vacuum_nm),
                               "cavity", calc, mu, 1, s, cfg.seed, **log.continuing(model, key))
    return out


def _stagewise_paths(cfg: PoreFillingConfig, model: str, calc: Any, mu: float, log: FillLog,
                     s: FillSettings) -> dict[str, list[FillStep]]:
    """For every stepped pore: the cavity filled without and with the narrow part
    pre-filled (and the pre-filling itself)."""
    out: dict[str, list[FillStep]] = {}
    for spec in cfg.stagewise:
        pore = stepped_pore(spec.narrow_nm, spec.wide_nm, narrow_cells=spec.narrow_cells,
                            wide_cells=spec.wide_cells, n_y=cfg.n_cells[1],
                            narrow_name=spec.narrow_name, vacuum_nm=cfg.vacuum_nm)
        tag = f"{spec.narrow_name} {spec.narrow_nm:.3f} | cavity {spec.wide_nm:.3f}"
        keys = {k: f"{tag} | {k}" for k in ("empty", "prefill", "after prefill")}
        out[keys["empty"]] = fill_region(pore, "cavity", calc, mu, cfg.stagewise_n_max, s,
                                         cfg.seed, **log.continuing(model, keys["empty"]))
        start, out[keys["prefill"]] = prefilled(
            pore, spec.narrow_name, spec.prefill, calc, mu, s, cfg.seed,
            **log.continuing(model, keys["prefill"]))
        out[keys["after prefill"]] = fill_region(
            pore, "cavity", calc, mu, cfg.stagewise_n_max, s, cfg.seed + 1000, start=start,
            **log.continuing(model, keys["after prefill"]))
        sys.stderr.write(f"predesolv: E0 {model} {tag}: done\n")
    return out


def run_e0(folder: Path, out: Path, opts: dict[str, Any]) -> dict[str, Path]:
    """Every model of ``e0.yaml``: bcc Na, the cavity paths, the intercalation scan and the
    stage-wise pores; ``e0_filling.csv`` (every step), ``e0_summary.csv``, ``e0.png``, the
    progress file (resume) and the study's summary."""
    (path,) = configs(folder)
    cfg = load_study_config(path, PoreFillingConfig, "a pore-filling")
    out.mkdir(parents=True, exist_ok=True)
    log = FillLog(out / PROGRESS_FILE)
    if not opts.get("resume") and log.path.exists():
        log.path.unlink()
    s = cfg.fill.settings()
    paths: dict[str, dict[str, list[FillStep]]] = {}
    mu: dict[str, tuple[float, float]] = {}
    runs = []
    for model in cfg.models:
        calc = load_calculator(model, dispersion=cfg.dispersion, device=cfg.device)
        mu[model] = bcc_sodium_eV(calc)
        paths[model] = {**_bilayer_paths(cfg, model, calc, mu[model][0], log, s),
                        **_stagewise_paths(cfg, model, calc, mu[model][0], log, s)}
        # the cost: the recorded steps' wall time, whichever run made them (None if unknown)
        runs.append(RunRecord(name=model, wall_s=log.wall_s(model), platform="ASE"))
    dme = conformer_energies(cfg.models, cfg.dispersion) if cfg.molecule_check else None
    return _write(cfg, folder, path, out, opts, paths, mu, runs, log, dme)


def _write(cfg: PoreFillingConfig, folder: Path, path: Path, out: Path, opts: dict[str, Any],
           paths: dict[str, dict[str, list[FillStep]]], mu: dict[str, tuple[float, float]],
           runs: list[RunRecord], log: FillLog,
           dme: ConformerEnergies | None) -> dict[str, Path]:
    files = {"e0_filling.csv": out / "e0_filling.csv", "e0_summary.csv": out / "e0_summary.csv",
             "e0.png": out / "e0.png", PROGRESS_FILE: log.path}
    pd.DataFrame(filling_rows(paths)).to_csv(files["e0_filling.csv"], index=False,
                                             float_format="%.6f")
    rows = summary_rows(paths, cfg.stagewise) + (molecule_rows(dme) if dme else [])
    pd.DataFrame(rows).to_csv(files["e0_summary.csv"], index=False, float_format="%.6f")
    plot(paths, rows).savefig(files["e0.png"], dpi=120, bbox_inches="tight")
    settings = [Setting(name="models", value=", ".join(cfg.models)),
                Setting(name="dispersion", value=cfg.dispersion),
                Setting(name="n_cells", value=f"{cfg.n_cells[0]} x {cfg.n_cells[1]}"),
                Setting(name="candidates", value=cfg.fill.candidates),
                Setting(name="n_relax", value=cfg.fill.n_relax),
                Setting(name="fmax", value=cfg.fill.fmax_eV_per_A, unit="eV/Å")]
    numbers = [q for m, (e, a) in mu.items() for q in (
        Quantity(name="mu_Na_bcc", subject=m, value=e, unit="eV"),
        Quantity(name="a_bcc", subject=m, value=a, unit="Å"))]
    record = WhatWasRun.of(config_folder(folder), [path.stem], runs, settings, GEOMETRY)
    result = StudyResult.new(opts.get("study", "E0"), opts["size"], record,
                             part="0 K Na filling of closed pores (MLIP)",
                             seed=Seed(source=SEED), numbers=numbers, rows=rows,
                             verdicts=verdicts(rows, cfg.models, cfg.stagewise)
                             + ([molecule_verdict(dme, cfg.models)] if dme else []),
                             files=list(files), definition=DEFINITION)
    files[STUDY_FILE] = result.write(out)
    return files
