"""E5-MLIP: the 0 K Na migration barriers of Ren et al. Fig. 4e predicted (never fitted)
with the two machine-learned potentials, AB and AA, by climbing-image NEB."""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from predesolv.config.base import StrictModel
from predesolv.mlip import load_calculator
from predesolv.progress import ProgressLog
from predesolv.workflows.barrier_scan import SEED_BARRIERS_EV
from predesolv.workflows.mlip_migration import MigrationResult, neb_barrier

from .common import config_folder, configs, load_study_config
from .result import STUDY_FILE, RunRecord, Seed, Setting, StudyResult, Verdict, WhatWasRun

SEED = ("Ren et al., Nano-Micro Lett. 18:382 (2026), Fig. 4e: DFT (PBE-D3) energy barriers of "
        "Na diffusion between graphitic layers 0.40-0.55 nm apart (0.55, 0.25, ~0, ~0 eV); "
        "the stacking is not stated")
TOL_EV = 0.05
DEFINITION = ("barrier = highest climbing-image NEB image - site energy (eV): one Na hopping "
              "one graphene lattice vector (0.246 nm) between two periodic sheets, Na free in "
              "x, y, z on every image; sheets rigid, or relaxed with each sheet's centre of "
              "mass held; prediction, nothing fitted; spread = max - min over the models")
GEOMETRY = ("two periodic graphene sheets (zigzag along x), carbon plane to plane = d, carbon "
            "fixed (rigid) or relaxed with each sheet's centre of mass fixed (relaxed); one Na "
            "per cell (Na-Na image distance >= 0.85 nm at 2 x 4 cells)")


class MigrationStudyConfig(StrictModel):
    """``studies/E5-MLIP/<size>/e5_mlip.yaml``."""

    models: list[str] = Field(["chgnet-0.3.0", "sevennet-0"], min_length=1)
    dispersion: Literal["none", "d3bj", "d3zero"] = "d3zero"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    spacings_nm: list[float] = Field(min_length=1)
    stackings: list[Literal["AB", "AA"]] = ["AB", "AA"]
    sheets: list[Literal["rigid", "relaxed"]] = ["rigid"]
    n_cells: tuple[int, int] = (2, 4)
    n_images: int = Field(5, ge=1, le=30)
    fmax_eV_per_A: float = Field(0.05, gt=0)
    max_steps: int = Field(300, ge=1, le=10000)


#: The progress file (one finished NEB per line): a resumed study skips what it holds.
PROGRESS_FILE = "e5_mlip_progress.jsonl"


class MigrationLog(ProgressLog):
    """The progress file of an E5-MLIP run (:class:`~predesolv.progress.ProgressLog`), one
    line per NEB: ``{"model", "stacking", "sheets", "spacing_nm", "wall_s", "result":
    MigrationResult fields}`` (a record without ``sheets`` is a rigid-sheet result)."""

    def done(self) -> dict[tuple[str, str, str, float], MigrationResult]:
        """Every recorded result by (model, stacking, sheets, spacing)."""
        out = {}
        for rec in self.records():
            res = dict(rec["result"], site_xyz_nm=tuple(rec["result"]["site_xyz_nm"]),
                       image_energies_eV=tuple(rec["result"]["image_energies_eV"]))
            key = (rec["model"], rec["stacking"], rec.get("sheets", "rigid"), rec["spacing_nm"])
            out[key] = MigrationResult(**res)
        return out

    def append_result(self, model: str, stacking: str, sheets: str, d: float,
                      res: MigrationResult, wall_s: float) -> None:
        """Record one result and its wall time (s)."""
        self.append({"model": model, "stacking": stacking, "sheets": sheets, "spacing_nm": d,
                     "wall_s": wall_s, "result": asdict(res)})


def _row(stacking: str, sheets: str, d: float, res: dict[str, MigrationResult]
         ) -> dict[str, Any]:
    seed = SEED_BARRIERS_EV.get(round(d, 3))
    vals = {m: r.barrier_eV for m, r in res.items()}
    row: dict[str, Any] = {"stacking": stacking, "sheets": sheets, "spacing_nm": d, **vals,
                           "spread": max(vals.values()) - min(vals.values()),
                           "seed_barrier_eV": seed}
    for m, r in res.items():
        row[f"residual {m}"] = None if seed is None else r.barrier_eV - seed
        row[f"site_height_nm {m}"] = r.site_height_nm
    row["all_converged"] = all(r.converged for r in res.values())
    return row


def _verdicts(rows: list[dict[str, Any]], models: list[str]) -> list[Verdict]:
    out = []
    for st, sh in dict.fromkeys((r["stacking"], r["sheets"]) for r in rows):
        mine = [r for r in rows if (r["stacking"], r["sheets"]) == (st, sh)
                and r["seed_barrier_eV"] is not None]
        counts = {m: sum(abs(r[f"residual {m}"]) <= TOL_EV for r in mine) for m in models}
        need = min(3, len(mine))
        details = "; ".join(f"{m}: {counts[m]} of {len(mine)} within {TOL_EV} eV (barriers "
                            f"{[round(r[m], 3) for r in mine]} eV)" for m in models)
        per = {counts[m] >= need for m in models}
        conv = all(r["all_converged"] for r in mine)
        ok = per.pop() if len(per) == 1 and conv else None
        head = ("not converged" if not conv else "reproduced by every model" if ok
                else "not reproduced by any model" if ok is False
                else "no verdict, the models disagree")
        out.append(Verdict(name=f"MLIP {st} {sh} sheets",
                           criterion=f"barriers within {TOL_EV} eV of the seed's DFT (Fig. 4e) "
                           f"at >= {need} of {len(mine)} spacings",
                           sentence=f"{head}: {details}", ok=ok))
    return out


def _run_all(cfg: MigrationStudyConfig, log: MigrationLog
             ) -> dict[tuple[str, str, float], dict[str, MigrationResult]]:
    """Every (stacking, sheets, spacing) for every model; finished NEBs come from ``log``."""
    done = log.done()
    results: dict[tuple[str, str, float], dict[str, MigrationResult]] = {}
    for model in cfg.models:
        calc = None
        for st, sh, d in itertools.product(cfg.stackings, cfg.sheets, cfg.spacings_nm):
            res = done.get((model, st, sh, d))
            if res is None:
                t0 = time.perf_counter()
                calc = calc or load_calculator(model, dispersion=cfg.dispersion,
                                               device=cfg.device)
                res = neb_barrier(d, calc, stacking=st, n_cells=cfg.n_cells,
                                  n_images=cfg.n_images, fmax=cfg.fmax_eV_per_A,
                                  max_steps=cfg.max_steps, relax_carbon=sh == "relaxed")
                log.append_result(model, st, sh, d, res, time.perf_counter() - t0)
            results.setdefault((st, sh, d), {})[model] = res
            sys.stderr.write(f"predesolv: E5-MLIP {model} {st} {sh} {d} nm: "
                             f"{res.barrier_eV:.3f} eV\n")
    return results


def run_e5_mlip(folder: Path, out: Path, opts: dict[str, Any]) -> dict[str, Path]:
    """Every model, stacking and spacing of ``e5_mlip.yaml``: ``e5_mlip.csv`` (barriers per
    model, spread, the seed, residuals, site heights, the NEB profiles in
    ``e5_mlip_images.csv``) and the study's summary."""
    (path,) = configs(folder)
    cfg = load_study_config(path, MigrationStudyConfig, "an E5-MLIP")
    log = MigrationLog(out / PROGRESS_FILE)
    if not opts.get("resume") and log.path.exists():
        log.path.unlink()
    results = _run_all(cfg, log)
    runs = [RunRecord(name=m, wall_s=log.wall_s(m), platform="ASE") for m in cfg.models]
    rows = [_row(st, sh, d, res) for (st, sh, d), res in results.items()]
    images = [{"model": m, "stacking": st, "sheets": sh, "spacing_nm": d, "image": i,
               "energy_eV": e}
              for (st, sh, d), res in results.items() for m, r in res.items()
              for i, e in enumerate(r.image_energies_eV)]
    out.mkdir(parents=True, exist_ok=True)
    files = {"e5_mlip.csv": out / "e5_mlip.csv", "e5_mlip_images.csv": out / "e5_mlip_images.csv",
             PROGRESS_FILE: log.path}
    pd.DataFrame(rows).to_csv(files["e5_mlip.csv"], index=False, float_format="%.6f")
    pd.DataFrame(images).to_csv(files["e5_mlip_images.csv"], index=False, float_format="%.6f")
    settings = [Setting(name="models", value=", ".join(cfg.models)),
                Setting(name="dispersion", value=cfg.dispersion),
                Setting(name="n_cells", value=f"{cfg.n_cells[0]} x {cfg.n_cells[1]}"),
                Setting(name="sheets", value=", ".join(cfg.sheets)),
                Setting(name="n_images", value=cfg.n_images),
                Setting(name="fmax", value=cfg.fmax_eV_per_A, unit="eV/Å")]
    record = WhatWasRun.of(config_folder(folder), [path.stem], runs, settings, GEOMETRY)
    result = StudyResult.new(opts.get("study", "E5-MLIP"), opts["size"], record,
                             part="0 K migration barriers, MLIP prediction",
                             seed=Seed(source=SEED), rows=rows, files=list(files),
                             verdicts=_verdicts(rows, cfg.models), definition=DEFINITION)
    files[STUDY_FILE] = result.write(out)
    return files
