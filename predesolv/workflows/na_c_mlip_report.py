"""Files of the classical Na–C fit to MLIP energies (``scripts/fit_na_c_mlip.py``).

:class:`NaCMlipFitDir` owns the output folder: ``energies.csv`` (every configuration, its MLIP
energy per model and each model's chosen-form and best-pair-form energies), ``fits.csv``
(every form per model: ranges, coefficients in kJ/mol, training / held-out errors),
``group_errors.csv``, ``barriers.csv`` (classical barrier *predictions* beside the MLIP NEB and
the seed) and ``fit.json`` (summary with provenance). The best pair-additive form of each model
becomes an optional parameter set (``forcefields/sets/na-c-mlip-<model>.yaml``, a
``pair_potentials`` entry for ``NA_Na``–``CAR_C``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from predesolv.analysis.pipeline import strict_json
from predesolv.atomic import atomic_write_json
from predesolv.errors import RunDirectoryError
from predesolv.forcefields.parameter_sets import write_set
from predesolv.version import __version__

from .barrier_scan import SEED_BARRIERS_EV
from .na_c_mlip_barrier import ClassicalBarrier
from .na_c_mlip_data import NaCarbonConfig
from .na_c_mlip_fit import COEFFICIENT_UNITS, FORMS, FormFit, lowest_held_out

#: Short names of the parameter sets per model.
SET_NAMES = {"chgnet-0.3.0": "na-c-mlip-chgnet", "sevennet-0": "na-c-mlip-sevennet"}
#: Pair-additive forms (those an OpenMM pair force can carry).
PAIR_FORMS = ("buckingham", "born-mayer-c4", "born-mayer-c4-c6")
#: Atom types of the fitted pair: Na+ and basal graphene carbon.
TYPES = ("NA_Na", "CAR_C")
_CONFIG_COLUMNS = ("group", "stacking", "spacing_nm", "site", "height_nm", "x_nm", "y_nm",
                   "z_nm", "held_out")


def best_pair_form(fits: Mapping[str, FormFit]) -> FormFit:
    """The pair-additive Born–Mayer form with the lowest held-out RMSE."""
    return lowest_held_out(fits, PAIR_FORMS)


def pair_potential(fit: FormFit) -> dict[str, str]:
    """A fitted Born–Mayer form as a ``forcefield.pair_potentials`` entry (kJ/mol, nm)."""
    kj = fit.coefficients_kJ()
    return {"type1": TYPES[0], "type2": TYPES[1], "form": "born-mayer",
            "A": f"{kj['A']:.6g} kJ/mol", "rho": f"{fit.rho_nm:.6g} nm",
            "C4": f"{kj.get('C4', 0.0):.6g} kJ/mol*nm**4",
            "C6": f"{kj.get('C6', 0.0):.6g} kJ/mol*nm**6"}


class NaCMlipFitDir:
    """The output folder of one fit (see module docstring)."""

    ENERGIES = "energies.csv"
    FITS = "fits.csv"
    GROUPS = "group_errors.csv"
    BARRIERS = "barriers.csv"
    SUMMARY = "fit.json"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read_energies(self, configs: Sequence[NaCarbonConfig]) -> dict[str, np.ndarray]:
        """MLIP energies per model from ``energies.csv``, checked against ``configs``."""
        table = pd.read_csv(self.path / self.ENERGIES)
        mine = pd.DataFrame(_config_rows(configs))
        same = (len(table) == len(mine) and all(
            np.allclose(table[c].to_numpy(float), mine[c].to_numpy(float), atol=1e-6)
            if c not in ("group", "stacking", "site") else
            (table[c].astype(str) == mine[c].astype(str)).all() for c in _CONFIG_COLUMNS))
        if not same:
            raise RunDirectoryError(f"{self.path / self.ENERGIES} holds other configurations "
                                    "than this predesolv builds; recompute the energies")
        return {c[len("E_mlip "):]: table[c].to_numpy(float) for c in table.columns
                if c.startswith("E_mlip ")}

    def write(self, configs: Sequence[NaCarbonConfig], energies: Mapping[str, np.ndarray],
              fits: Mapping[str, Mapping[str, FormFit]],
              barriers: Sequence[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Path]:
        """Every file of the folder; returns name -> path."""
        self.path.mkdir(parents=True, exist_ok=True)
        table = pd.DataFrame(_config_rows(configs))
        for model, e in energies.items():
            table[f"E_mlip {model}"] = e
            chosen = lowest_held_out(fits[model])
            table[f"E_{chosen.form} {model}"] = chosen.predicted_eV
            pair = best_pair_form(fits[model])
            if pair.form != chosen.form:
                table[f"E_{pair.form} {model}"] = pair.predicted_eV
        files = {n: self.path / n for n in (self.ENERGIES, self.FITS, self.GROUPS,
                                            self.BARRIERS, self.SUMMARY)}
        table.to_csv(files[self.ENERGIES], index=False, float_format="%.6f")
        pd.DataFrame(fit_rows(fits)).to_csv(files[self.FITS], index=False, float_format="%.6g")
        pd.DataFrame([{"model": m, "form": f.form, "group": g, "rmse_eV": v}
                      for m, per in fits.items() for f in per.values()
                      for g, v in f.group_rmse_eV.items()]).to_csv(
            files[self.GROUPS], index=False, float_format="%.4f")
        pd.DataFrame(barriers).to_csv(files[self.BARRIERS], index=False, float_format="%.4f")
        atomic_write_json(files[self.SUMMARY], strict_json(summary))
        return files


def _config_rows(configs: Sequence[NaCarbonConfig]) -> list[dict[str, Any]]:
    return [{"group": c.group, "stacking": c.stacking, "spacing_nm": c.spacing_nm,
             "site": c.site, "height_nm": c.height_nm, "x_nm": c.xyz_nm[0],
             "y_nm": c.xyz_nm[1], "z_nm": c.xyz_nm[2], "held_out": c.held_out}
            for c in configs]


def fit_rows(fits: Mapping[str, Mapping[str, FormFit]]) -> list[dict[str, Any]]:
    """One row per model and form: ranges, coefficients (kJ/mol units), errors, chosen."""
    rows = []
    for model, per in fits.items():
        chosen = lowest_held_out(per).form
        pair = best_pair_form(per).form
        for f in per.values():
            kj = f.coefficients_kJ()
            rows.append({"model": model, "form": f.form, "rho_nm": f.rho_nm, "lam_nm": f.lam_nm,
                         **{f"{n} ({COEFFICIENT_UNITS[n]})": kj.get(n) for n in
                            ("A", "C4", "C6", "a", "b", "D", "c")},
                         "train_rmse_eV": f.train_rmse_eV, "held_out_rmse_eV": f.held_out_rmse_eV,
                         "held_out_max_eV": f.held_out_max_eV, "lowest_held_out": f.form == chosen,
                         "shipped": f.form == pair})
    return rows


def barrier_rows(model: str, fit: FormFit, results: Sequence[ClassicalBarrier],
                 neb: Mapping[tuple[str, str, float], float]) -> list[dict[str, Any]]:
    """Classical predictions beside the MLIP NEB barrier (same model) and the seed."""
    rows = []
    for r in results:
        mlip = neb.get((model, r.stacking, round(r.spacing_nm, 2)))
        rows.append({"model": model, "form": fit.form, "stacking": r.stacking,
                     "spacing_nm": r.spacing_nm, "classical_barrier_eV": r.barrier_eV,
                     "site_height_nm": r.site_height_nm, "mlip_neb_barrier_eV": mlip,
                     "classical_minus_mlip_eV": None if mlip is None else r.barrier_eV - mlip,
                     "seed_barrier_eV": SEED_BARRIERS_EV.get(round(r.spacing_nm, 2))})
    return rows


def neb_barriers(csv_path: str | Path) -> dict[tuple[str, str, float], float]:
    """(model, stacking, spacing) -> MLIP NEB barrier (eV) with rigid sheets, from an E5-MLIP
    ``e5_mlip.csv`` (the classical barriers are rigid-sheet barriers)."""
    path = Path(csv_path)
    if not path.is_file():
        return {}
    table = pd.read_csv(path)
    if "sheets" in table.columns:
        table = table[table["sheets"] == "rigid"]
    out = {}
    for _, row in table.iterrows():
        for model in SET_NAMES:
            if model in table.columns and pd.notna(row[model]):
                out[(model, str(row["stacking"]), round(float(row["spacing_nm"]), 2))] = float(
                    row[model])
    return out


def write_parameter_set(sets_dir: str | Path, model: str, fit: FormFit, command: str,
                        summary: dict[str, Any]) -> Path:
    """The model's best pair form as an optional parameter set file."""
    name = SET_NAMES[model]
    provenance = {
        "method": f"{fit.form} pair term for NA_Na–CAR_C replacing the geometric-mix LJ, fitted "
                  f"by least squares to {model} + D3(zero) interaction energies of one Na over "
                  "rigid graphene (single sheet and AB slits 0.40/0.50/0.60/0.70 nm, contact "
                  "configurations); a fitted constant (the charge-transfer energy) is not part "
                  "of the MD term; see docs/mlip.md, 'A classical Na–C term fitted to the MLIP'",
        "reference": model, "held_out": "AA slits 0.40-0.70 nm and AB 0.45 / 0.55 nm",
        "train_rmse_eV": fit.train_rmse_eV, "held_out_rmse_eV": fit.held_out_rmse_eV,
        "held_out_max_eV": fit.held_out_max_eV, "rho_nm": fit.rho_nm,
        "constant_not_in_md_eV": fit.coef_eV["c"],
        "barrier_predictions_eV": {k: v for k, v in summary.get("barriers", {}).get(
            model, {}).items() if k.startswith(f"{fit.form} ")},
        "command": command, "predesolv_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return write_set(Path(sets_dir) / f"{name}.yaml", name,
                     f"Na+ - basal graphene carbon (NA_Na-CAR_C) {fit.form} term fitted to "
                     f"{model} + D3 energies (held-out RMSE {fit.held_out_rmse_eV:.3f} eV); "
                     "edge, H-bearing and N-doped carbons keep the default mixing. Solvated Na+ "
                     "adsorption from 1 M NaPF6/DME onto graphite: read its verdict in "
                     "docs/mlip.md before using the set with an electrolyte.",
                     provenance, pair_potentials=[pair_potential(fit)])


def fit_summary(fits: Mapping[str, FormFit]) -> dict[str, Any]:
    """JSON-ready summary of one model's fits (no per-configuration arrays)."""
    return {form: {k: v for k, v in asdict(f).items() if k != "predicted_eV"}
            for form, f in fits.items() if form in FORMS}


def fits_markdown(folder: str | Path) -> list[str]:
    """The errors table of ``fits.csv`` as Markdown lines (docs and paper comparison)."""
    table = pd.read_csv(Path(folder) / NaCMlipFitDir.FITS)
    out = ["| model | form | ρ (nm) | λ (nm) | training RMSE (eV) | held-out RMSE (eV) | "
           "held-out max (eV) | |", "|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        tag = ", ".join(t for t, on in (("lowest held-out", r["lowest_held_out"]),
                                        ("shipped", r["shipped"])) if bool(on))
        rng = ["—" if pd.isna(r[k]) else f"{r[k]:.4f}" for k in ("rho_nm", "lam_nm")]
        out.append(f"| {r['model']} | {r['form']} | {rng[0]} | {rng[1]} | "
                   f"{r['train_rmse_eV']:.3f} | {r['held_out_rmse_eV']:.3f} | "
                   f"{r['held_out_max_eV']:.3f} | {tag} |")
    return out


def barriers_markdown(folder: str | Path) -> list[str]:
    """Classical barrier predictions beside the MLIP NEB and the seed, as Markdown lines."""
    table = pd.read_csv(Path(folder) / NaCMlipFitDir.BARRIERS)
    out = ["| model | form | stacking | d (nm) | classical (prediction) | MLIP NEB | "
           "classical − NEB | paper |", "|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        neb = "—" if pd.isna(r["mlip_neb_barrier_eV"]) else f"{r['mlip_neb_barrier_eV']:.3f}"
        diff = ("—" if pd.isna(r["classical_minus_mlip_eV"])
                else f"{r['classical_minus_mlip_eV']:+.3f}")
        out.append(f"| {r['model']} | {r['form']} | {r['stacking']} | {r['spacing_nm']:.2f} | "
                   f"{r['classical_barrier_eV']:.3f} | {neb} | {diff} | "
                   f"{r['seed_barrier_eV']:.2f} |")
    return out
