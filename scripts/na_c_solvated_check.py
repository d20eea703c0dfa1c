"""Does a Na-C term over-bind a solvated Na+ to graphite? Adsorption free energy of Na+ from
1 M NaPF6/DME onto a basal plane, for the default Na-C mix and both MLIP-fitted sets.

Each force field runs `predesolv pmf examples/pmf_na_graphene_adsorption.yaml` with only
``system.forcefield.parameter_sets`` changed (umbrella windows on the ion's height above the
carbon plane, 0.20-1.00 nm; two replicas, pulled in and out; MBAR). The summary reads, per
force field: the adsorption free energy F(adsorbed) - F(bulk) between the example's two named
states (MBAR, uncertainty incl. the replica spread) with its convergence warnings; the depth
and height of the PMF's minimum against the mid-plane; and, per window, the mean number of
DME oxygens within 0.30 nm of the Na+ (the shell it keeps at that height, from the window
trajectories of every replica).

    .venv/bin/python scripts/na_c_solvated_check.py --out runs/na_c_solvated  # all three
    .venv/bin/python scripts/na_c_solvated_check.py --forcefields default --out ...  # one
    .venv/bin/python scripts/na_c_solvated_check.py --collect --out runs/na_c_solvated \\
        --results docs/results/na_c_mlip/solvated    # summary + small outputs, no MD
    .venv/bin/python scripts/na_c_solvated_check.py --two-cv --forcefields na-c-mlip-chgnet \\
        --out runs/na_c_solvated    # the ion's height x its Na-O(DME) coordination (2D)
    .venv/bin/python scripts/na_c_solvated_check.py --two-cv --forcefields na-c-mlip-chgnet \\
        --out runs/na_c_solvated --save-state STATE_DIR [--only-short --min-effective-samples 15]
    .venv/bin/python scripts/na_c_solvated_check.py --two-cv --forcefields na-c-mlip-chgnet \\
        --out NEW --continue STATE_DIR --extend --only-short --production "120 ps"
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from openmm import unit

from predesolv import load_config
from predesolv.analysis.fes2d_outputs import FESFiles
from predesolv.analysis.fes2d_states import cv2_mean, state_difference, state_free_energy
from predesolv.analysis.shell_path import shell_along_path
from predesolv.api import build
from predesolv.config.cluster import ClusterConfig
from predesolv.config.loader import read_config_yaml
from predesolv.constants import KJ_PER_MOL_PER_EV
from predesolv.errors import AnalysisError, InputError, Interrupted
from predesolv.freeenergy.groups import resolve_group
from predesolv.stage_io import sigterm_stops
from predesolv.state_archive import describe
from predesolv.studies.insertion import PATH_CUTOFFS_NM, pulled
from predesolv.workflows.extension import save_pmf_state
from predesolv.workflows.pmfdir import PMFDir
from predesolv.workflows.umbrella import estimate, run_pmf

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pmf_na_graphene_adsorption.yaml"
#: Parameter sets selected by each force-field name (forcefield.parameter_sets).
FORCEFIELDS: dict[str, list[str]] = {"default": [], "na-c-mlip-chgnet": ["na-c-mlip-chgnet"],
                                     "na-c-mlip-sevennet": ["na-c-mlip-sevennet"]}


#: The two-CV variant (``--two-cv``): the ion's height x its Na-O(DME) coordination, so the
#: shell is sampled at every height instead of drifting slowly inside each 1D window. One
#: force constant per CV: 6000 kJ/mol/nm2 every 0.04 nm (the 1D set needed 12000 near contact
#: only because its windows there were 0.03 nm apart), CN 3-6 at 6 kJ/mol (sigma 0.64 CN).
TWO_CV: dict[str, Any] = {
    "windows": {"start": "0.0 nm", "stop": "0.80 nm", "count": 21},
    "k": "6000 kJ/mol/nm**2",
    "cv2": {"cv": {"type": "coordination", "cation": "cation[6]", "partner": "DME",
                   "r0": "0.31 nm", "n": 12, "m": 24},
            "windows": {"start": 3, "stop": 6, "count": 4}, "k": "6 kJ/mol", "bins": 12},
}
#: The states of the example (z from the mid-plane, nm): the 2D surface is read on them too.
STATES_NM = {"bulk": (0.0, 0.15), "adsorbed": (0.55, 0.8)}


def folder_name(ff: str, two_cv: bool = False) -> str:
    """The PMF folder of force field ``ff`` below ``--out`` (``<ff>-2cv`` on two CVs)."""
    return f"{ff}-2cv" if two_cv else ff


def case_config(ff: str, root: Path, min_effective_samples: int | None = None,
                production: str | None = None, two_cv: bool = False) -> Any:
    """The checked RunConfig of one force field, output under ``root/ff`` (optionally with
    the estimator's gate lowered: a diagnostic, never a verdict; or another production
    length per window, ``production`` as ``"72 ps"``; or on two CVs, :data:`TWO_CV`, under
    ``root/<ff>-2cv``)."""
    data = read_config_yaml(EXAMPLE)
    data["system"]["forcefield"]["parameter_sets"] = FORCEFIELDS[ff]
    if production is not None:
        data["pmf"]["stages"][-1]["duration"] = production
    if min_effective_samples is not None:
        data["pmf"]["estimator"]["min_effective_samples"] = min_effective_samples
    data["output"]["directory"] = str(root / folder_name(ff, two_cv))
    if two_cv:
        data["pmf"].update(TWO_CV)
        data["pmf"]["estimator"].pop("states", None)  # read from the surface (STATES_NM)
    return load_config(data)


def check_start(cfg: Any) -> None:
    """Refuse a start where the CV's Na+ is not inside the slit, >= 0.75 nm from both open
    ends (the seeded packing decides which cation that is; the example names it)."""
    built = build(cfg)
    geo = built.metadata.geometry
    seg = geo.extra["segments"][0]
    x0, x1 = (float(v) for v in seg["x_nm"])
    z0, z1 = (float(v) for v in seg["z_nm"])
    group = cfg.pmf.cv.group
    (ion,) = resolve_group(group, built.metadata, built.topology, field="pmf.cv.group")
    x, _, z = (float(v) for v in built.positions.value_in_unit(unit.nanometer)[ion])
    if not (x0 + 0.75 <= x <= x1 - 0.75 and z0 < z < z1):
        raise SystemExit(f"{group} starts at x = {x:.3f}, z = {z:.3f} nm, not inside the slit "
                         f"(x {x0:.3f}-{x1:.3f}, z {z0:.3f}-{z1:.3f} nm) >= 0.75 nm from its "
                         f"ends: pick another cation in {EXAMPLE.name}")


def half_spacing_nm(cfg: Any) -> float:
    """Distance (nm) from the slit mid-plane (CV = 0) to each wall's carbon plane."""
    return 0.5 * float(cfg.system.electrode.spacing.value_in_unit(unit.nanometer))


def shell_rows(cfg: Any, root: Path) -> pd.DataFrame:
    """Window-mean first shell of the CV's ion in every window of every replica: DME oxygens
    and PF6 fluorines within the E1 first-shell cutoffs (``PATH_CUTOFFS_NM``), DME molecules;
    ``height_nm`` is the window centre's height above the wall's carbon plane."""
    (_, ion), half = pulled(cfg), half_spacing_nm(cfg)  # ("cation", index in the group)
    rows = []
    for r in range(cfg.pmf.replicas):
        for w in PMFDir(root).replica(r).window_dirs():
            f = shell_along_path(w.path, ion, PATH_CUTOFFS_NM)
            centre = w.load_config().bias.center_value
            rows.append({"replica": r, "window": w.path.name, "height_nm": half - centre,
                         "frames": len(f), "cn_O_DME": f["cn_DME"].mean(),
                         "n_DME": f["nmol_DME"].mean(), "cn_F_PF6": f["cn_PF6"].mean()})
    return pd.DataFrame(rows)


def summary_row(ff: str, cfg: Any, root: Path, shells: pd.DataFrame) -> dict[str, Any]:
    """One force field's adsorption free energy, PMF minimum and shell at both ends."""
    pmf_dir, half = PMFDir(root), half_spacing_nm(cfg)
    summary = json.loads(pmf_dir.barriers_json.read_text())
    st = next(d for d in summary["state_differences"] if {d["from"], d["to"]} ==
              {"bulk", "adsorbed"})
    sign = 1.0 if st["from"] == "bulk" else -1.0
    pmf = pd.read_csv(pmf_dir.pmf_csv).dropna(subset=["F_kJ_per_mol"])
    h = half - pmf["z_nm"].to_numpy()
    F = pmf["F_kJ_per_mol"].to_numpy()
    kT = float(summary["kT_kJ_per_mol"])
    lo, hi = (float(v) for v in st["from_range" if sign > 0 else "to_range"])  # the bulk's
    bulk = (pmf["z_nm"] >= lo) & (pmf["z_nm"] <= hi)
    f_bulk = -kT * np.log(np.mean(np.exp(-F[bulk.to_numpy()] / kT)))
    i = int(np.argmin(F))
    near = shells.loc[(shells["height_nm"] - h[i]).abs().idxmin(), "height_nm"]
    at_min = shells[np.isclose(shells["height_nm"], near)]
    at_bulk = shells[(shells["height_nm"] >= half - hi - 1e-9)
                     & (shells["height_nm"] <= half - lo + 1e-9)]
    reps = st.get("replica_dF_kJ_per_mol") or []
    sigma = st["sigma_kJ_per_mol"]
    return {"forcefield": ff, "dF_ads_kJ_per_mol": sign * st["dF_kJ_per_mol"],
            "sigma_kJ_per_mol": sigma, "dF_ads_eV": sign * st["dF_kJ_per_mol"] /
            KJ_PER_MOL_PER_EV, "replica_dF_ads_kJ_per_mol": ";".join(
                f"{sign * v:.1f}" for v in reps),
            "replicas_agree": summary.get("replicas", {}).get("agree"),
            "F_min_minus_bulk_kJ_per_mol": F[i] - f_bulk, "h_min_nm": h[i],
            "cn_O_DME_at_min": at_min["cn_O_DME"].mean(),
            "cn_F_PF6_at_min": at_min["cn_F_PF6"].mean(),
            "cn_O_DME_bulk": at_bulk["cn_O_DME"].mean(),
            "cn_F_PF6_bulk": at_bulk["cn_F_PF6"].mean(),
            "warnings": len(summary.get("warnings", []))}


def summary_row_2d(ff: str, cfg: Any, root: Path) -> dict[str, Any]:
    """One force field's adsorption free energy from its two-CV surface: the states of
    :data:`STATES_NM` over every CN bin (``predesolv.analysis.fes2d_states``), the surface's
    lowest bin and the mean Na-O(DME) coordination (the CV's CN, not the 0.30 nm count of
    the 1D rows) in the bulk state and at the minimum."""
    files = FESFiles(root)
    meta, fes = files.record(), files.surface()
    kT, half = float(meta["temperature_kT_kJ_per_mol"]), half_spacing_nm(cfg)
    z, cn = "z (nm)", "cn"
    d = state_difference(fes, z, cn, STATES_NM["bulk"], STATES_NM["adsorbed"], kT)
    f_bulk, _ = state_free_energy(fes, z, *STATES_NM["bulk"], kT)
    ok = fes.dropna(subset=["F (kJ/mol)"])
    low = ok.loc[ok["F (kJ/mol)"].idxmin()]
    dz = float(np.diff(np.unique(fes[z]))[0]) / 2
    return {"forcefield": f"{ff} (2 CVs)", "dF_ads_kJ_per_mol": d.dF_kJ_per_mol,
            "sigma_kJ_per_mol": d.sigma_kJ_per_mol,
            "dF_ads_eV": d.dF_kJ_per_mol / KJ_PER_MOL_PER_EV,
            "replica_dF_ads_kJ_per_mol": ";".join(f"{v:.1f}" for v in d.replica_dF_kJ_per_mol),
            "replicas_agree": bool(meta.get("converged")),
            "F_min_minus_bulk_kJ_per_mol": float(low["F (kJ/mol)"]) - f_bulk,
            "h_min_nm": half - float(low[z]),
            "cn_O_DME_at_min": cv2_mean(fes, z, cn, low[z] - dz, low[z] + dz, kT),
            "cn_F_PF6_at_min": float("nan"), "cn_O_DME_bulk": d.cv2_mean_a,
            "cn_F_PF6_bulk": float("nan"), "warnings": len(meta.get("warnings", [])),
            "surface_converged": bool(meta.get("converged")),
            "surface_note": "; ".join(meta.get("warnings", []))[:300]}


def plot(cases: dict[str, tuple[pd.DataFrame, pd.DataFrame, float]], path: Path) -> None:
    """F(height) per force field (pooled, with dF) above the window-mean DME oxygens."""
    fig, (a, b) = plt.subplots(2, 1, figsize=(6.0, 6.4), sharex=True)
    for ff, (pmf, shells, half) in cases.items():
        h = half - pmf["z_nm"]
        line = a.plot(h, pmf["F_kJ_per_mol"], label=ff)[0]
        a.fill_between(h, pmf["F_kJ_per_mol"] - pmf["dF_kJ_per_mol"],
                       pmf["F_kJ_per_mol"] + pmf["dF_kJ_per_mol"], alpha=0.25,
                       color=line.get_color())
        for r, g in shells.groupby("replica"):
            b.plot(g["height_nm"], g["cn_O_DME"], "o-" if r == 0 else "s--", ms=3,
                   color=line.get_color(), label=f"{ff} r{r}")
    a.set_ylabel("F (kJ/mol)")
    a.legend(fontsize=7)
    b.set_xlabel("Na+ height above the carbon plane (nm)")
    b.set_ylabel("DME O within 0.31 nm")
    b.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def estimate_gated(ff: str, root: Path, pmf_dir: PMFDir, gate: int | None,
                   diagnostic_gate: int | None, two_cv: bool = False) -> Any:
    """Estimate the finished windows in ``pmf_dir`` again (never a stale result) with the
    config's sample gate (or ``gate``); when they fail it and ``diagnostic_gate`` is given,
    again with the gate lowered to that (printed; a diagnostic). Returns the config used."""
    cfg = case_config(ff, root, gate, two_cv=two_cv)
    with pmf_dir.locked():
        pmf_dir.claim(cfg, overwrite=False)
        try:
            estimate(pmf_dir.root, cfg)
        except AnalysisError as exc:
            if diagnostic_gate is None:
                raise
            print(f"{ff}: {exc}; read with the gate at {diagnostic_gate} (diagnostic)")
            cfg = case_config(ff, root, diagnostic_gate, two_cv=two_cv)
            estimate(pmf_dir.root, cfg)
    return cfg


def collect(forcefields: list[str], root: Path, results: Path,
            min_effective_samples: int | None = None,
            diagnostic_gate: int | None = None) -> pd.DataFrame:
    """Estimate each finished PMF again (the estimator's gate applies: an unconverged run
    raises, naming the window) and summarise it; copy its small outputs to ``results/<ff>/``.
    With ``diagnostic_gate``, a force field whose windows fail the gate is estimated again
    with the gate lowered to it and summarised as a diagnostic ("not converged", no
    verdict); the message of the failed gate is printed."""
    results.mkdir(parents=True, exist_ok=True)
    rows, cases = [], {}
    for ff in forcefields:
        pmf_dir = PMFDir(root / ff)
        cfg = estimate_gated(ff, root, pmf_dir, min_effective_samples, diagnostic_gate)
        shells = shell_rows(cfg, pmf_dir.root)
        rows.append(summary_row(ff, cfg, pmf_dir.root, shells)
                    | {"min_effective_samples": cfg.pmf.estimator.min_effective_samples})
        out = results / ff
        out.mkdir(exist_ok=True)
        for p in (pmf_dir.pmf_csv, pmf_dir.barriers_json, pmf_dir.windows_csv):
            shutil.copy(p, out / p.name)
        shells.to_csv(out / "shell.csv", index=False, float_format="%.4f")
        cases[ff] = (pd.read_csv(pmf_dir.pmf_csv), shells, half_spacing_nm(cfg))
    df = pd.DataFrame(rows)
    df.to_csv(results / "summary.csv", index=False, float_format="%.4f")
    plot(cases, results / "pmf_shell.png")
    return df


def collect_2d(forcefields: list[str], root: Path, results: Path,
               diagnostic_gate: int | None = None) -> pd.DataFrame:
    """:func:`collect` for the two-CV runs (``--two-cv``): each surface estimated again
    from its windows (the same gate rules), summarised by :func:`summary_row_2d`; its
    ``fes.*`` files go to ``results/<ff>-2cv/`` and the rows to ``results/summary_2cv.csv``."""
    results.mkdir(parents=True, exist_ok=True)
    rows = []
    for ff in forcefields:
        pmf_dir = PMFDir(root / folder_name(ff, True))
        cfg = estimate_gated(ff, root, pmf_dir, None, diagnostic_gate, two_cv=True)
        rows.append(summary_row_2d(ff, cfg, pmf_dir.root)
                    | {"min_effective_samples": cfg.pmf.estimator.min_effective_samples})
        out = results / folder_name(ff, True)
        out.mkdir(exist_ok=True)
        for path in FESFiles(pmf_dir.root).files():
            shutil.copy(path, out / path.name)
    df = pd.DataFrame(rows)
    df.to_csv(results / "summary_2cv.csv", index=False, float_format="%.4f")
    return df


#: Contact: the PMF minimum closer to the carbon plane than this (nm) has no room for a DME
#: oxygen between the ion and the carbon (Na-O 0.23 nm + O-C contact ~0.3 nm, less the
#: oxygen's own lateral offset, is above it).
CONTACT_NM = 0.35


def verdict(row: dict[str, Any] | pd.Series) -> str:
    """Over-binding, decided by rules fixed before the runs: the Na-C term over-binds a
    solvated Na+ when the replicas agree and the PMF's minimum is a contact state
    (h < CONTACT_NM) where the ion holds at least one DME oxygen fewer than at the mid-plane,
    and adsorbing is favourable beyond twice its uncertainty. The seed (Ren et al. 2026, AIMD
    with PBE-D3) has solvated Na+ adsorbing on open-pore surfaces and deforming, not
    desolvating, even in a 1.0 nm slit; a term that strips the shell at a basal plane
    contradicts it."""
    if row.get("surface_converged") is False:
        return ("not converged: the two-CV surface is not (windows not connected, halves or "
                "replicas disagree: fes.json); no verdict")
    if row.get("min_effective_samples", 10) < 10:
        return (f"not converged: windows hold fewer than 10 effectively uncorrelated samples "
                f"(read with the gate at {row['min_effective_samples']}); no verdict")
    if not row["replicas_agree"]:
        return "not converged: the replicas pulled in and out disagree"
    contact = row["h_min_nm"] < CONTACT_NM
    stripped = row["cn_O_DME_at_min"] <= row["cn_O_DME_bulk"] - 1.0
    favourable = row["dF_ads_kJ_per_mol"] < -2.0 * row["sigma_kJ_per_mol"]
    if contact and stripped and favourable:
        return "over-binds: contact adsorption with the DME shell partly stripped"
    return "does not over-bind: " + ("no contact minimum" if not contact else
                                     "the ion keeps its DME oxygens" if not stripped else
                                     "contact adsorption is not favourable")


def summary_markdown(results: Path, name: str = "summary.csv") -> list[str]:
    """The table docs/mlip.md shows, from ``results/summary.csv`` (or ``summary_2cv.csv``)."""
    df = pd.read_csv(results / name)
    out = ["| Na–C term | ΔF_ads (kJ/mol) | replicas (kJ/mol) | agree | F_min − F_bulk "
           "(kJ/mol) at h (nm) | DME O at min / bulk | PF6 F at min / bulk | verdict |",
           "|---|---|---|---|---|---|---|---|"]
    for _, r in df.iterrows():
        out.append(f"| {r['forcefield']} | {r['dF_ads_kJ_per_mol']:+.1f} ± "
                   f"{r['sigma_kJ_per_mol']:.1f} | {r['replica_dF_ads_kJ_per_mol']} | "
                   f"{'yes' if r['replicas_agree'] else 'no'} | "
                   f"{r['F_min_minus_bulk_kJ_per_mol']:+.1f} at {r['h_min_nm']:.2f} | "
                   f"{r['cn_O_DME_at_min']:.1f} / {r['cn_O_DME_bulk']:.1f} | "
                   f"{_one(r['cn_F_PF6_at_min'])} / {_one(r['cn_F_PF6_bulk'])} | {verdict(r)} |")
    return out


def _one(value: float) -> str:
    """One decimal, or a dash where the summary has no number (the two-CV rows' PF6 F)."""
    return "–" if pd.isna(value) else f"{value:.1f}"


def _run_pmfs(args: argparse.Namespace, root: Path) -> None:
    """Run (or go on with) each force field's PMF; SIGTERM (a batch system's time limit,
    ``kill``) is a clean stop: the windows keep their newest checkpoints and the same command
    goes on from them (exit 130)."""
    with sigterm_stops("SIGTERM received; the windows keep their newest checkpoints"):
        for ff in args.forcefields:
            cfg = case_config(ff, root, args.min_effective_samples, args.production,
                              args.two_cv)
            if args.workers:  # windows side by side on local Dask workers, one thread each
                cfg.pmf.cluster = ClusterConfig(kind="local", n_workers=args.workers,
                                                threads_per_worker=1)
            check_start(cfg)
            t0 = time.perf_counter()
            name = folder_name(ff, args.two_cv)
            try:
                run_pmf(cfg, serial=not args.workers, extend=args.extend,
                        only_short=args.only_short,
                        continue_from=(None if args.continue_from is None else
                                       Path(args.continue_from).absolute() / f"{name}.tar.xz"))
            except Interrupted as exc:  # a clean stop (PREDESOLV_STOP_AT, SIGTERM): no traceback
                print(f"{ff}: {exc}; rerun without --continue to go on", file=sys.stderr)
                raise SystemExit(130) from None
            print(f"{ff}: {(time.perf_counter() - t0) / 60:.1f} min wall")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/na_c_solvated")
    ap.add_argument("--forcefields", nargs="+", default=list(FORCEFIELDS),
                    choices=list(FORCEFIELDS))
    ap.add_argument("--collect", action="store_true",
                    help="no MD: summarise finished runs into --results")
    ap.add_argument("--results", default="docs/results/na_c_mlip/solvated")
    ap.add_argument("--min-effective-samples", type=int, default=None,
                    help="the estimator's gate (default 10): lower it to read an unconverged "
                    "run (the summary then says 'not converged' whatever the numbers), or "
                    "raise it with --only-short to extend with a margin")
    ap.add_argument("--diagnostic-gate", type=int, default=None,
                    help="with --collect: a force field whose windows fail the gate is read "
                    "with the gate lowered to this, as a diagnostic (no verdict)")
    ap.add_argument("--extend", action="store_true",
                    help="finished windows of an earlier, shorter run continue to the "
                    "example's production length (predesolv pmf --extend)")
    ap.add_argument("--production", default=None,
                    help="production per window instead of the example's (e.g. '72 ps'; "
                    "with --extend: the length the extended windows run to)")
    ap.add_argument("--only-short", action="store_true",
                    help="with --extend: only the windows below the sample gate run longer "
                    "(predesolv pmf --extend --only-short)")
    ap.add_argument("--workers", type=int, default=0,
                    help="run the windows on this many local Dask workers (default: serially)")
    ap.add_argument("--two-cv", action="store_true",
                    help="height x Na-O(DME) coordination (TWO_CV), outputs <ff>-2cv and "
                    "summary_2cv.csv")
    ap.add_argument("--save-state", metavar="DIR",
                    help="no MD: pack each force field's PMF folder into DIR/<folder>.tar.xz "
                    "(predesolv pmf --save-state), to go on elsewhere with --continue DIR")
    ap.add_argument("--continue", dest="continue_from", metavar="DIR",
                    help="unpack DIR/<folder>.tar.xz into the empty --out/<folder> first, "
                    "then run as asked (e.g. --extend --only-short)")
    args = ap.parse_args()
    root = Path(args.out).absolute()
    if args.save_state:
        for ff in args.forcefields:
            name = folder_name(ff, args.two_cv)
            archive = Path(args.save_state).absolute() / f"{name}.tar.xz"
            cfg = case_config(ff, root, args.min_effective_samples, two_cv=args.two_cv)
            print(describe(save_pmf_state(cfg, PMFDir(root / name), archive, args.only_short),
                           archive))
        return
    if not args.collect:
        _run_pmfs(args, root)
        return
    if args.two_cv:
        df = collect_2d(args.forcefields, root, Path(args.results), args.diagnostic_gate)
        print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print("\n".join(summary_markdown(Path(args.results), "summary_2cv.csv")))
        return
    df = collect(args.forcefields, root, Path(args.results), args.min_effective_samples,
                 args.diagnostic_gate)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\n".join(summary_markdown(Path(args.results))))


if __name__ == "__main__":
    try:
        main()
    except InputError as exc:  # bad input (e.g. --continue into a folder that is not empty)
        print(f"na_c_solvated_check: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
