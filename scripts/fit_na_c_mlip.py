"""Fit classical Na–C terms to MLIP energies; held-out errors and barrier predictions.

Computes (or, with ``--energies``, re-reads) the interaction energy of one Na over rigid
graphene for every configuration of :mod:`predesolv.workflows.na_c_mlip_data` with each
model + D3(zero), fits every form of :mod:`predesolv.workflows.na_c_mlip_fit`, predicts the
E5 migration barriers (AB and AA, 0.40–0.55 nm) with each model's lowest-held-out form and
best pair form, and writes ``docs/results/na_c_mlip/`` plus the optional parameter sets
``forcefields/sets/na-c-mlip-*.yaml``. Needs the ``ml`` extra for the energies
(~10 min per model on one CPU core); refitting from committed energies takes seconds::

    python scripts/fit_na_c_mlip.py                      # energies + fit (both models)
    python scripts/fit_na_c_mlip.py --energies docs/results/na_c_mlip/energies.csv
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from predesolv.analysis.pmf import KJ_PER_MOL_PER_EV
from predesolv.forcefields.data import get_data_dir
from predesolv.forcefields.parameter_sets import SETS_DIR
from predesolv.workflows.barrier_scan import effective_pair
from predesolv.workflows.na_c_mlip_barrier import classical_barrier, sheet_well
from predesolv.workflows.na_c_mlip_data import (
    ALL_SPACINGS_NM,
    carbon_distances,
    configurations,
    interaction_energies,
)
from predesolv.workflows.na_c_mlip_fit import CUTOFF_NM, FormFit, fit_all, lowest_held_out
from predesolv.workflows.na_c_mlip_report import (
    SET_NAMES,
    NaCMlipFitDir,
    barrier_rows,
    best_pair_form,
    fit_summary,
    neb_barriers,
    write_parameter_set,
)

ROOT = Path(__file__).resolve().parents[1]
E5_SPACINGS_NM = tuple(d for d in ALL_SPACINGS_NM if d <= 0.55)


def _energies(args: argparse.Namespace, configs: list) -> dict[str, np.ndarray]:
    if args.energies:
        return NaCMlipFitDir(Path(args.energies).parent).read_energies(configs)
    from predesolv.mlip.models import load_calculator

    out = {}
    for model in args.models:
        t0 = time.perf_counter()
        calc = load_calculator(model, dispersion="d3zero", device=args.device)
        out[model] = interaction_energies(configs, calc)
        print(f"{model}: {len(configs)} energies in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
    return out


def _wells(fits: dict) -> dict:
    """0 K well of one Na⁺ over one sheet (MD term, constant left out) per model and form,
    and of predesolv's default Na–C 12-6 mix for comparison."""
    sigma, eps_kj = effective_pair()
    eps = eps_kj / KJ_PER_MOL_PER_EV
    default = FormFit("lj-12-6", {"a": 4 * eps * sigma**12, "b": 4 * eps * sigma**6, "c": 0.0},
                      None, None, np.zeros(0), 0.0, 0.0, 0.0)
    out = {"default Na-C mix": dict(zip(("energy_eV", "height_nm"), sheet_well(default),
                                        strict=True))}
    for model, per in fits.items():
        for f in dict.fromkeys((lowest_held_out(per).form, best_pair_form(per).form)):
            out[f"{model} {f}"] = dict(zip(("energy_eV", "height_nm"), sheet_well(per[f]),
                                           strict=True))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(SET_NAMES))
    p.add_argument("--energies", help="reuse the MLIP energies of this energies.csv")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=str(ROOT / "docs/results/na_c_mlip"))
    p.add_argument("--sets-dir", default=str(Path(get_data_dir()) / SETS_DIR))
    p.add_argument("--e5-mlip", default=str(ROOT / "docs/results/studies/E5-MLIP-paper/"
                                                     "e5_mlip.csv"))
    args = p.parse_args(argv)
    configs = configurations()
    energies = _energies(args, configs)
    distances = [carbon_distances(c, CUTOFF_NM) for c in configs]
    neb = neb_barriers(args.e5_mlip)
    fits, barriers, summary = {}, [], {"barriers": {}, "fits": {}}
    for model, e in energies.items():
        fits[model] = fit_all(configs, e, distances)
        chosen = lowest_held_out(fits[model])
        for fit in {chosen.form: chosen, best_pair_form(fits[model]).form:
                    best_pair_form(fits[model])}.values():
            res = [classical_barrier(fit, d, st) for st in ("AB", "AA") for d in E5_SPACINGS_NM]
            barriers += barrier_rows(model, fit, res, neb)
        summary["fits"][model] = fit_summary(fits[model])
        summary["barriers"][model] = {f"{r['form']} {r['stacking']} {r['spacing_nm']:.2f} nm":
                                      round(r["classical_barrier_eV"], 4)
                                      for r in barriers if r["model"] == model}
    summary["sheet_well"] = _wells(fits)
    command = "python scripts/fit_na_c_mlip.py" + (f" --energies {args.energies}"
                                                   if args.energies else "")
    summary["command"] = command
    files = NaCMlipFitDir(args.out).write(configs, energies, fits, barriers, summary)
    for model in energies:
        files[SET_NAMES[model]] = write_parameter_set(args.sets_dir, model,
                                                      best_pair_form(fits[model]), command,
                                                      summary)
    for name, path in files.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
