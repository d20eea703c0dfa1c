"""E2/E3/E4: insertion free energies into charged or neutral graphitic slits.

Every config of a study size is an ordinary ``predesolv pmf`` config (steered pull, umbrella
windows, MBAR) whose CV is the position of one group along the insertion coordinate: a
cation (``"cation[i]"``, E2/E3: Na⁺ with its DME shell) or one solvent molecule
(``"solvent:DME#k"``, E4: a lone DME). The study runs each PMF into ``out/<stem>/``, follows
the cation's first shell through every window (:func:`predesolv.analysis.shell_path`) and
writes ``insertion_pmf.csv``, ``insertion_path.csv``, ``insertion.png`` and the study's
summary with one verdict sentence per config, generated from the numbers.
"""

from __future__ import annotations

import functools
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openmm import unit

import predesolv
from predesolv.analysis.shell_path import cations_at_molecule, shell_along_path, window_means
from predesolv.constants import KB_KJ_PER_MOL_K
from predesolv.errors import ConfigError
from predesolv.rundir import RunDir
from predesolv.workflows.pmfdir import PMFDir
from predesolv.workflows.umbrella import run_pmf, window_series

from .common import config_folder, configs, measured_speed
from .digest import digest_files, digested, finished_with_trajectory
from .insertion2d import SurfaceStatus, surface_path_rows, surface_projection, surface_status
from .result import (
    STUDY_FILE,
    Seed,
    StudyResult,
    Verdict,
    WhatWasRun,
    insertion_runs,
    insertion_settings,
    insertion_verdicts,
    numbers_from_rows,
)

#: First-shell cutoffs (nm) for the path analysis: the first minima of g(r) in bulk 1 M
#: NaPF6/DME with this force field (docs/results/studies/E1-paper: Na–O 0.31, Na–F 0.30).
PATH_CUTOFFS_NM = {"DME": 0.31, "PF6": 0.30}
#: Name of the per-window digest of the pulled ion's shell (:mod:`.digest`).
SHELL_DIGEST = "shell_path"
#: Name of the per-window digest of the cations at a pulled solvent molecule (:mod:`.digest`).
CONTACT_DIGEST = "cations_at_molecule"
#: Windows whose centre lies at or beyond this depth (nm) describe "inside the slit";
#: windows at or before RESERVOIR_NM describe the reservoir.
INSIDE_NM, RESERVOIR_NM = 0.3, -0.6
#: Ren et al. (2026) outcomes per (what is pulled, spacing in nm): (text, DME kept inside).
#: ``None`` for DME kept means "as many as in the reservoir" (no desolvation).
SEED: dict[tuple[str, float], tuple[str, float | None]] = {
    ("cation", 0.6): ("one DME co-intercalates with Na+ (planar); the other two are "
                      "stripped at the mouth", 1.0),
    ("cation", 0.8): ("pre-desolvation plus single-DME intercalation", 1.0),
    ("cation", 1.0): ("the solvated Na+ deforms and enters without desolvation", None),
    ("solvent", 0.6): ("DME alone does not intercalate", None),
    ("solvent", 0.8): ("individual DME molecules intercalate into the nanoconfined space "
                       "(with Na+ in the electrolyte)", None),
    ("solvent", 1.0): ("individual DME molecules can also intercalate (with Na+ in the "
                       "electrolyte)", None),
}
#: Whether the seed saw a lone DME enter, per spacing (nm). Ren et al. (2026): "in the absence
#: of Na ions in the electrolyte, no intercalation of DME molecules occurs at d = 0.6 nm";
#: at 0.8 nm pre-desolvation is "accompanied by the intercalation of individual DME molecules
#: into the nanoconfined space (Fig. S26)"; at 1.0 nm "individual DME molecules can also
#: intercalate in this case (Fig. S28)".
SOLVENT_ENTERS = {0.6: False, 0.8: True, 1.0: True}
SEED_SOURCE = ("Ren et al., Nano-Micro Lett. 18:382 (2026), AIMD of Na+ in DME at charged "
               "graphitic slits, d = 0.6, 0.8 and 1.0 nm, and of DME alone at 0.6 nm")
#: Free-energy rise (in kT) above which "does not enter" counts as reproduced.
STRONG_KT = 5.0
NOTE = ("F is the MBAR PMF along the insertion coordinate x (0 at the mouth, positive inside) "
        "with the pulled group held within 0.1 nm of the slit mid-plane by a flat-bottom wall; "
        "the reference is the mean F over x <= -0.6 nm. Shell numbers are window averages of "
        "the first shell (cutoffs above).")


def pulled(cfg: Any) -> tuple[str, int]:
    """What the PMF pulls: ``("cation", i)`` or ``("solvent", k)`` from its CV group."""
    group = str(cfg.pmf.cv.group)
    m = re.fullmatch(r"cation\[(\d+)\]", group)
    if m:
        return "cation", int(m.group(1))
    m = re.fullmatch(r"solvent:\w+#(\d+)", group)
    if m:
        return "solvent", int(m.group(1))
    return "other", -1


def contact_target(cfg: Any) -> tuple[str, int] | None:
    """``(solvent name, molecule index)`` of a PMF that pulls one solvent molecule
    (``"solvent:DME#9"`` -> ``("DME", 9)``) in a cell with cations, whose first-shell cutoff
    is in :data:`PATH_CUTOFFS_NM`: the molecule whose cation contacts the study counts;
    else None."""
    m = re.fullmatch(r"solvent:(\w+)#(\d+)", str(cfg.pmf.cv.group))
    electrolyte = cfg.system.electrolyte
    salted = electrolyte is not None and electrolyte.n_salt != 0
    if m is None or not salted or m.group(1) not in PATH_CUTOFFS_NM:
        return None
    return m.group(1), int(m.group(2))


def run_insertion(folder: Path, out: Path, opts: dict[str, Any]) -> dict[str, Path]:
    """Run every PMF config of ``folder`` into ``out/<stem>`` and write the study outputs."""

    results = [insertion_one(predesolv.load_config(path), path.stem, out / path.stem, opts,
                             str(path)) for path in configs(folder, opts.get("configs"))]
    pmfs, paths, rows = (list(part) for part in zip(*results, strict=True))
    return write_outputs(folder, out, opts, pmfs, paths, rows)


def insertion_one(cfg: Any, name: str, root: Path, opts: dict[str, Any],
                  source: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Run (or resume) one insertion PMF config into ``root`` and read it back: its F(x)
    (the surface's projection for two CVs), its path rows, and its verdict row, each named
    ``name`` (``source``: the config's file, for errors)."""
    spacing = _spacing_nm(cfg, source)
    run_pmf(cfg, out=root, serial=opts["size"] == "smoke", platform=opts.get("platform"),
            overwrite=bool(opts.get("overwrite")))  # under the PMF's lock
    assert cfg.pmf is not None  # _spacing_nm refused a config without one
    cv2 = cfg.pmf.cv2
    two_cv = cv2 is not None
    pmf = surface_projection(root) if two_cv else pd.read_csv(PMFDir(root).pmf_csv)
    kind, index = pulled(cfg)
    path_rows = (surface_path_rows(root) if two_cv else shell_path_rows(root, index)
                 if kind == "cation" else window_cv_rows(root, contact_target(cfg)))
    row = verdict(name, kind, spacing, pmf, path_rows,
                  cfg.simulation.temperature.value_in_unit(unit.kelvin),
                  surface_status(root) if two_cv else None)
    row["pull_start_nm"] = _pull_start(root)
    row.update(measured_speed(root))
    row["production_ps_per_window"] = _production_ps(cfg)
    row["n_windows"] = (len(cfg.pmf.centers()) * len(cv2.centers()) if cv2 is not None
                        else len(path_rows))
    return (pmf.assign(config=name, spacing_nm=spacing),
            pd.DataFrame(path_rows).assign(config=name, spacing_nm=spacing), row)


def _spacing_nm(cfg: Any, source: str) -> float:
    """The slit spacing of an insertion config (nm)."""

    electrode = cfg.system.electrode
    if electrode is None or electrode.spacing is None or cfg.pmf is None:
        raise ConfigError("an insertion study config needs an electrode slit with a spacing "
                          "and a pmf block", source)
    return float(electrode.spacing.value_in_unit(unit.nanometer))


def _pull_start(root: Path) -> float:
    """The CV where the steered pull began (nm; NaN without a pull). A value > 0 means the
    pulled group started inside or behind the slit, and the windows in front of the mouth
    were not reached from the reservoir: pick another group."""
    path = PMFDir(root).pull_csv
    if not path.is_file():
        return float("nan")
    start = float(pd.read_csv(path).iloc[0, 2])
    if start > 0:
        sys.stderr.write(f"predesolv: warning: {root.name}: the pulled group started at "
                         f"x = {start:.2f} nm, inside or behind the slit; choose a group in "
                         "the front reservoir (x < 0) for an insertion PMF\n")
    return start


def _production_ps(cfg: Any) -> float:
    return float(cfg.pmf.stages[-1].duration.value_in_unit(unit.picosecond))


def shell_path_rows(root: Path, ion: int) -> list[dict[str, Any]]:
    """Window-averaged first shell of cation ``ion`` in every window of the PMF ``root``.

    Also writes ``root/window_shells.csv`` (every frame of every window: which molecules,
    how many O, inside the mouth or not, extent across the slit) and ``root/pull_shell.csv``
    (the same along the steered pull)."""

    rows, every = [], []
    for w in (d.path for d in PMFDir(root).window_dirs()):
        frames = window_shell_frames(RunDir(w), ion)
        centre = RunDir(w).load_config().bias.center_value
        every.append(frames.assign(window=w.name, center_nm=centre))
        rows.append({"window": w.name, "center_nm": centre, **window_means(frames),
                     "planar_fraction": planar_fraction(frames)})
    if every:
        pd.concat(every, ignore_index=True).to_csv(root / "window_shells.csv", index=False,
                                                   float_format="%.6g")
    pull = PMFDir(root).pull
    if pull.is_dir():
        shell_along_path(pull, ion, PATH_CUTOFFS_NM).to_csv(root / "pull_shell.csv",
                                                            index=False, float_format="%.6g")
    return rows


def window_shell_frames(rd: RunDir, ion: int) -> pd.DataFrame:
    """Per-frame first shell of cation ``ion`` in one window (:func:`shell_along_path` with
    :data:`PATH_CUTOFFS_NM`), from its trajectory or, where that was left out of a packed
    state, from its digest (:mod:`.digest`)."""
    return digested(rd, SHELL_DIGEST, {"ion": ion, "cutoffs_nm": PATH_CUTOFFS_NM},
                    functools.partial(shell_along_path, rd.path, ion, PATH_CUTOFFS_NM))


def digest_insertion(folder: Path, out: Path) -> None:
    """Write the digests this study reads from its finished windows' trajectories (the
    pulled cation's shell; the cations at a pulled solvent molecule), before a packed state
    leaves those trajectories out (:mod:`.state`)."""
    for path in configs(folder):
        root = out / path.stem
        cfg = predesolv.load_config(path)
        kind, index = pulled(cfg)
        if (cfg.pmf and cfg.pmf.cv2) is not None or not root.is_dir():
            continue  # a surface's shell comes from the surface, not the frames
        molecule = contact_target(cfg) if kind == "solvent" else None
        for rd in PMFDir(root).window_dirs():
            if not finished_with_trajectory(rd):
                continue
            if kind == "cation":
                window_shell_frames(rd, index)
            elif molecule is not None:
                window_contact_frames(rd, *molecule)


def planar_fraction(frames: pd.DataFrame, limit_nm: float = 0.1) -> float:
    """Share of the frames with a non-empty shell whose coordinating atoms all lie within
    ``limit_nm`` of the ion's plane (NaN when the shell is always empty)."""
    ext = frames["shell_z_extent_nm"].dropna()
    return float((ext < limit_nm).mean()) if len(ext) else float("nan")


def window_cv_rows(root: Path, molecule: tuple[str, int] | None = None
                   ) -> list[dict[str, Any]]:
    """Mean and spread of the CV in every window (no shell to follow); for a pulled solvent
    ``molecule`` (name, index; :func:`contact_target`), also the
    share of frames with a cation bound to it (``cation_bound_fraction``) and the shortest
    cation–O distance seen (``min_cation_O_nm``): is the pulled molecule a lone one? Both
    NaN for a window with neither trajectory nor digest (a state packed before this
    measure existed left the trajectory out): a supplementary number, not a verdict's."""

    rows = []
    for w in (d.path for d in PMFDir(root).window_dirs()):
        s, centre, *_ = window_series(RunDir(w))
        row = {"window": w.name, "center_nm": centre, "insertion_nm": float(np.mean(s)),
               "insertion_max_nm": float(np.max(s)), "n_frames": float(len(s))}
        if molecule is not None:
            row["cation_bound_fraction"] = row["min_cation_O_nm"] = math.nan
            if RunDir(w).trajectories() or digest_files(RunDir(w), CONTACT_DIGEST)[0].is_file():
                frames = window_contact_frames(RunDir(w), *molecule)
                row["cation_bound_fraction"] = float((frames["n_cations"] > 0).mean())
                row["min_cation_O_nm"] = float(frames["min_cation_O_nm"].min())
        rows.append(row)
    return rows


def window_contact_frames(rd: RunDir, solvent: str, molecule: int) -> pd.DataFrame:
    """Per-frame cations at the pulled solvent molecule in one window
    (:func:`~predesolv.analysis.shell_path.cations_at_molecule`, cutoff from
    :data:`PATH_CUTOFFS_NM`), from its trajectory or its digest (:mod:`.digest`)."""
    cut = PATH_CUTOFFS_NM[solvent]
    return digested(rd, CONTACT_DIGEST,
                    {"solvent": solvent, "molecule": molecule, "cutoff_nm": cut},
                    functools.partial(cations_at_molecule, rd.path, solvent, molecule, cut))


def _f_at(pmf: pd.DataFrame, lo: float, hi: float, column: str = "F_kJ_per_mol") -> float:
    """Mean F (kJ/mol; ``column``) of the sampled bins with ``lo <= x <= hi`` (NaN when
    none)."""
    sel = pmf[(pmf["x_nm"] >= lo) & (pmf["x_nm"] <= hi)][column].dropna()
    return float(sel.mean()) if len(sel) else float("nan")


def connected_range(pmf: pd.DataFrame) -> tuple[float, tuple[float, float] | None]:
    """How far F(x) is sampled without a gap from the reservoir side: the last bin before the
    first empty one (nm), and that gap ``(first empty bin, next sampled bin)`` or None.

    Beyond a gap the windows do not overlap: MBAR still returns numbers there, but their
    offset from the reservoir is not determined by the data."""
    ordered = pmf.sort_values("x_nm")
    x = ordered["x_nm"].to_numpy(float)
    ok = ordered["F_kJ_per_mol"].notna().to_numpy()
    first = int(np.argmax(ok))
    empty = np.flatnonzero(~ok[first:]) + first
    if not len(empty) or not ok[empty[0]:].any():
        return float(x[ok].max()), None
    after = empty[0] + int(np.argmax(ok[empty[0]:]))
    return float(x[empty[0] - 1]), (float(x[empty[0]]), float(x[after]))


def verdict(name: str, kind: str, spacing: float, pmf: pd.DataFrame,
            path_rows: list[dict[str, Any]], temperature_K: float,
            surface: SurfaceStatus | None = None) -> dict[str, Any]:
    """The numbers of one insertion PMF and one sentence comparing them with the seed; for a
    two-CV surface (``surface``) the sentence says "not converged" and no verdict is written
    unless the surface is converged and its path joins both ends."""
    kt = KB_KJ_PER_MOL_K * temperature_K
    sampled = pmf.dropna(subset=["F_kJ_per_mol"])
    f_res = _f_at(pmf, -np.inf, RESERVOIR_NM)
    f_in = _f_at(pmf, INSIDE_NM, np.inf)
    reach, gap = connected_range(pmf)
    row: dict[str, Any] = {"config": name, "pulled": kind, "spacing_nm": spacing,
                           "deepest_sampled_nm": float(sampled["x_nm"].max()),
                           "connected_to_nm": reach, "gap_nm": gap,
                           "F_reservoir_kJ_per_mol": f_res,
                           "F_inside_kJ_per_mol": f_in, "dF_inside_kJ_per_mol": f_in - f_res,
                           "F_max_connected_kJ_per_mol": _f_max(pmf, reach) - f_res}
    reps = replica_columns(pmf)
    if reps:
        row["dF_inside_replicas_kJ_per_mol"] = [
            _f_at(pmf, INSIDE_NM, np.inf, c) - _f_at(pmf, -np.inf, RESERVOIR_NM, c) for c in reps]
        row["F_max_connected_replicas_kJ_per_mol"] = [
            _f_max(pmf, reach, c) - _f_at(pmf, -np.inf, RESERVOIR_NM, c) for c in reps]
    seed = SEED.get((kind, round(spacing, 2)))
    row["seed"] = seed[0] if seed else None
    if kind == "cation":
        row.update(_shell_numbers(path_rows))
    elif kind == "solvent":
        row.update(_contact_numbers(path_rows))
    row["reproduced"], row["sentence"] = _sentence(row, seed, kt)
    if surface is not None:
        row["surface_converged"] = surface.converged
        if not surface.converged:
            row["reproduced"] = None
            row["sentence"] = (row["sentence"].rstrip(".").split("; the seed's")[0]
                               + f"; the two-CV surface is not converged ({surface.reason}): "
                               f"no verdict.")
    return row


def _f_max(pmf: pd.DataFrame, up_to_nm: float, column: str = "F_kJ_per_mol") -> float:
    sel = pmf[pmf["x_nm"] <= up_to_nm + 1e-12][column].dropna()
    return float(sel.max()) if len(sel) else float("nan")


def replica_columns(pmf: pd.DataFrame) -> list[str]:
    """The per-replica F columns of a PMF table (``F_replica<r>_kJ_per_mol``; none for one
    replica)."""
    return [c for c in pmf.columns if re.fullmatch(r"F_replica\d+_kJ_per_mol", c)]


def _gap_note(row: dict[str, Any]) -> str:
    gap = row["gap_nm"]
    if gap is None or gap[0] > INSIDE_NM:
        return ""
    return (f", but the windows do not overlap between x = {gap[0]:.2f} and {gap[1]:.2f} nm, "
            "so that value is not tied to the reservoir and is not reliable")


def _shell_numbers(path_rows: list[dict[str, Any]]) -> dict[str, float]:
    df = pd.DataFrame(path_rows)
    res = df[df["center_nm"] <= RESERVOIR_NM + 1e-9]
    ins = df[(df["center_nm"] >= INSIDE_NM - 1e-9) & (df["insertion_nm"] >= 0.2)]

    def mean(d: pd.DataFrame, col: str) -> float:
        return float(d[col].mean()) if len(d) and col in d else float("nan")

    return {"DME_reservoir": mean(res, "nmol_DME"), "CN_reservoir": mean(res, "cn_DME"),
            "DME_inside": mean(ins, "nmol_DME"), "CN_inside": mean(ins, "cn_DME"),
            "DME_in_slit_inside": mean(ins, "inside_DME"),
            "PF6_inside": mean(ins, "nmol_PF6"),
            "planar_fraction_inside": mean(ins, "planar_fraction"),
            "n_windows_inside": float(len(ins))}


def _contact_numbers(path_rows: list[dict[str, Any]]) -> dict[str, float]:
    """Share of the frames (windows weighted by their frames) with a cation bound to the
    pulled solvent molecule, in the reservoir windows and in the inside windows (NaN when
    not measured)."""
    df = pd.DataFrame(path_rows)
    if "cation_bound_fraction" not in df:
        return {}

    def share(d: pd.DataFrame) -> float:  # NaN when a window of the region was not measured
        n = d["n_frames"].sum()
        if not n or d["cation_bound_fraction"].isna().any():
            return math.nan
        return float((d["cation_bound_fraction"] * d["n_frames"]).sum() / n)

    return {"cation_bound_fraction_reservoir": share(df[df["center_nm"] <= RESERVOIR_NM + 1e-9]),
            "cation_bound_fraction_inside": share(df[df["center_nm"] >= INSIDE_NM - 1e-9])}


def _contact_note(row: dict[str, Any]) -> str:
    """How often a cation sat at the pulled molecule (empty when not measured)."""
    inside = row.get("cation_bound_fraction_inside", math.nan)
    if not np.isfinite(inside):
        return ""
    res = row.get("cation_bound_fraction_reservoir", math.nan)
    return (f"; a Na+ lay within {PATH_CUTOFFS_NM['DME']} nm of its O in {100 * inside:.0f} % "
            f"of the frames of the windows at x >= {INSIDE_NM} nm (reservoir windows: "
            f"{100 * res:.0f} %)")


def _sentence(row: dict[str, Any], seed: tuple[str, float | None] | None,
              kt: float) -> tuple[bool | None, str]:
    d = f"{row['spacing_nm']:.2g} nm"
    df_in = row["dF_inside_kJ_per_mol"]
    if not np.isfinite(row["F_reservoir_kJ_per_mol"]):
        what = f"{d}, lone DME" if row["pulled"] == "solvent" else d
        return None, (f"{what}: the reservoir (x <= {RESERVOIR_NM} nm) was not sampled, so no "
                      f"free energy or shell is measured against it and the seed's outcome "
                      f"is not tested; start the windows at x <= {RESERVOIR_NM} nm.")
    if row["pulled"] == "solvent":
        return _solvent_sentence(row, seed, kt)
    if row.get("n_windows_inside", 0) == 0:
        return None, (f"{d}: the ion was not sampled at x >= 0.2 nm inside the slit, so the "
                      f"seed's outcome is not tested.")
    kept, res = row["DME_inside"], row["DME_reservoir"]
    planar = row["planar_fraction_inside"]
    flat = ("no coordinating atom there" if not np.isfinite(planar) else
            f"shell planar in {100 * planar:.0f} % of the frames with a shell")
    where = (f"{row['DME_in_slit_inside']:.1f} of them inside the mouth; {flat}"
             if np.isfinite(row["DME_in_slit_inside"]) else  # a surface: no per-frame shell
             "the surface's mean Na-O(DME) coordination / 2")
    text = (f"{d}: inside (x >= {INSIDE_NM} nm) Na+ keeps {kept:.1f} DME ({row['CN_inside']:.1f} "
            f"O; {where}) against {res:.1f} DME in the reservoir, at {df_in:+.0f} kJ/mol"
            f"{_gap_note(row)}")
    if seed is None:
        return None, text + "."
    want = res if seed[1] is None else seed[1]
    ok = bool(abs(kept - want) <= 0.5)
    return ok, (text + f"; the seed's '{seed[0]}' is "
                f"{'reproduced' if ok else 'NOT reproduced'} (DME kept {kept:.1f}, "
                f"expected {want:.1f} +/- 0.5).")


def _solvent_sentence(row: dict[str, Any], seed: tuple[str, float | None] | None,
                      kt: float) -> tuple[bool | None, str]:
    """A lone DME: where the seed saw it stay out (0.6 nm), reproduced when F rises by at
    least :data:`STRONG_KT` kT before the deepest connected point; where it saw one enter
    (0.8, 1.0 nm), reproduced when the windows connect the reservoir to x >= INSIDE_NM and F
    there lies less than STRONG_KT kT above the reservoir. With replicas the verdict is
    written only when every replica gives the same answer."""
    d, df_in = f"{row['spacing_nm']:.2g} nm", row["dF_inside_kJ_per_mol"]
    rise, reach = row["F_max_connected_kJ_per_mol"], row["connected_to_nm"]
    said = (f"F rises by {rise:.0f} kJ/mol ({rise / kt:.1f} kT) between the reservoir and "
            f"x = {reach:.2f} nm, the deepest point sampled without a gap")
    if reach < INSIDE_NM and np.isfinite(df_in):
        said += (f"; deeper in, the molecule was held only by the restraint (MBAR gives "
                 f"{df_in:+.0f} kJ/mol at x >= {INSIDE_NM} nm{_gap_note(row)})")
    elif np.isfinite(df_in):
        said += (f"; F at x >= {INSIDE_NM} nm lies {df_in:+.0f} kJ/mol ({df_in / kt:+.1f} kT) "
                 f"from it")
    enters = SOLVENT_ENTERS.get(round(row["spacing_nm"], 2))
    if seed is None or enters is None:
        return None, f"{d}, lone DME: {said}{_contact_note(row)}."

    def answer(rise_: float, df_in_: float) -> bool:
        if not enters:
            return bool(rise_ >= STRONG_KT * kt)
        return bool(reach >= INSIDE_NM and df_in_ < STRONG_KT * kt)

    rule = (f"a rise of at least {STRONG_KT:g} kT" if not enters else
            f"sampled inside without a gap, less than {STRONG_KT:g} kT above the reservoir")
    ok = answer(rise, df_in)
    reps = list(zip(row.get("F_max_connected_replicas_kJ_per_mol", []),
                    row.get("dF_inside_replicas_kJ_per_mol", []), strict=True))
    if reps:
        vals = ", ".join(f"{(r if not enters else f):+.0f}" for r, f in reps)
        said += f"; replicas {vals} kJ/mol"
    said += _contact_note(row)
    if reps:
        if not all(np.isfinite(r if not enters else f) for r, f in reps):
            return None, (f"{d}, lone DME: {said}; a replica did not sample both the "
                          f"reservoir and the region the seed's '{seed[0]}' is read at: not "
                          f"converged, no verdict.")
        if len({answer(r, f) for r, f in reps} | {ok}) > 1:
            return None, (f"{d}, lone DME: {said}; the replicas disagree on the seed's "
                          f"'{seed[0]}' ({rule}): not converged, no verdict.")
    verdict = "reproduced" if ok else "NOT reproduced"
    return ok, f"{d}, lone DME: {said}; the seed's '{seed[0]}' is {verdict} ({rule})."


def write_outputs(folder: Path, out: Path, opts: dict[str, Any], pmfs: list[pd.DataFrame],
                  paths: list[pd.DataFrame], rows: list[dict[str, Any]], *,
                  tables: dict[str, pd.DataFrame] | None = None,
                  more_verdicts: list[Verdict] | None = None,
                  configs_run: list[str] | None = None) -> dict[str, Path]:
    """``insertion_pmf.csv``, ``insertion_path.csv``, ``insertion.png``, any further
    ``tables`` (CSV file name -> table) and the study's summary: one verdict per row, then
    ``more_verdicts``; the configs run are ``configs_run`` (default: the rows' configs)."""
    files = {"insertion_pmf.csv": out / "insertion_pmf.csv",
             "insertion_path.csv": out / "insertion_path.csv",
             "insertion.png": out / "insertion.png"}
    pmf = pd.concat(pmfs, ignore_index=True)
    path = pd.concat(paths, ignore_index=True)
    pmf.to_csv(files["insertion_pmf.csv"], index=False, float_format="%.6g")
    path.to_csv(files["insertion_path.csv"], index=False, float_format="%.6g")
    plot_insertion(pmf, path).savefig(files["insertion.png"], dpi=120, bbox_inches="tight")
    for name, table in (tables or {}).items():
        files[name] = out / name
        table.to_csv(files[name], index=False, float_format="%.6g")
    result = StudyResult.new(
        opts["study"], opts["size"], WhatWasRun.of(
            config_folder(folder), configs_run or [r["config"] for r in rows],
            insertion_runs(rows), insertion_settings(PATH_CUTOFFS_NM, INSIDE_NM, RESERVOIR_NM)),
        seed=Seed(source=SEED_SOURCE),
        verdicts=insertion_verdicts(rows) + list(more_verdicts or []),
        numbers=numbers_from_rows("insertion", rows), rows=rows, files=list(files), note=NOTE)
    files[STUDY_FILE] = result.write(out)
    return files


def insertion_beside(out: Path, study: str, size: str) -> tuple[Path, dict[str, Any]]:
    """The folder of insertion study ``study`` of ``size`` beside ``out``
    (``out/../<study>-<size>``, where studies E6 and E3-charges read E2/E3) and its rows by
    config (none where the folder holds no summary)."""
    src = out.parent / f"{study}-{size}"
    rows = ({str(r["config"]): r for r in StudyResult.read(src).rows}
            if StudyResult.file_in(src).is_file() else {})
    return src, rows


def config_pmf(src: Path, config: str) -> pd.DataFrame:
    """The F(x) rows of ``config`` in the insertion study folder ``src``."""
    pmf = pd.read_csv(src / "insertion_pmf.csv")
    return pmf[pmf["config"] == config]


def insertion_sigma(pmf: pd.DataFrame) -> float:
    """Uncertainty (kJ/mol) of ΔF_ins from one config's F(x) table: the mean bootstrap error
    of the inside bins and of the reservoir bins, combined in quadrature (the bins are
    correlated, so this does not shrink with their number); NaN without errors."""
    d = pmf["dF_kJ_per_mol"] if "dF_kJ_per_mol" in pmf else pmf["x_nm"] * np.nan
    err_in, err_res = (float(sel.mean()) if len(sel := d[m].dropna()) else np.nan
                       for m in (pmf["x_nm"] >= INSIDE_NM, pmf["x_nm"] <= RESERVOIR_NM))
    return float(np.hypot(err_in, err_res))


def plot_insertion(pmf: pd.DataFrame, path: pd.DataFrame) -> Any:
    """PMF (top) and DME in the shell (bottom) against the insertion coordinate."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 6.0))
    ax_f, ax_n = fig.subplots(2, 1, sharex=True)
    for i, (name, part) in enumerate(pmf.groupby("config", sort=False)):
        ok = part.dropna(subset=["F_kJ_per_mol"])
        ax_f.errorbar(ok["x_nm"], ok["F_kJ_per_mol"], yerr=ok["dF_kJ_per_mol"].fillna(0),
                      color=f"C{i}", marker=".", capsize=2, label=str(name))
        sub = path[path["config"] == name]
        if "nmol_DME" in sub:
            ax_n.plot(sub["insertion_nm"], sub["nmol_DME"], "o-", color=f"C{i}",
                      label=f"{name}: DME in shell")
            if "inside_DME" in sub and sub["inside_DME"].notna().any():  # not on a surface
                ax_n.plot(sub["insertion_nm"], sub["inside_DME"], "s--", color=f"C{i}",
                          alpha=0.6, label=f"{name}: shell DME inside the mouth")
    for ax in (ax_f, ax_n):
        ax.axvline(0.0, color="0.5", lw=0.8, ls=":")
    ax_f.set_ylabel("F (kJ/mol)")
    ax_f.legend(fontsize=7)
    ax_n.set_xlabel("insertion coordinate x (nm; 0 = mouth, > 0 inside)")
    ax_n.set_ylabel("molecules")
    if ax_n.get_legend_handles_labels()[0]:
        ax_n.legend(fontsize=7)
    return fig
