"""``run_analyses``: every analysis of a run directory, written as CSV + PNG.

This is what ``predesolv analyze RUN_DIR --what ...`` calls. Column names and units of every
file are documented in ``docs/analysis.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import MDAnalysis as mda
import numpy as np
import pandas as pd

from predesolv.errors import AnalysisError

from . import plots
from .coordination import Coordination
from .geometry import Geometry
from .io import anion_name, coordination_partners, group, load_run, solvent_names, timestep_ps
from .rdf import compute_rdfs
from .residence import residence_times
from .shells import profile, speciation, summary_by_region
from .tracking import track_ion
from .transport import density_profiles, msd_by_region

#: Valid names for ``what``, in execution order.
ANALYSES = ("rdf", "coordination", "speciation", "profile", "tracked", "residence",
            "density", "msd")
_NEEDS_COORD = {"coordination", "speciation", "profile", "tracked", "residence"}

#: Accepted keyword options of :func:`run_analyses` and their defaults.
OPTIONS: dict[str, Any] = {
    "out_dir": None,          # default RUN_DIR/analysis
    "trajectory": None,       # default trajectory.dcd or trajectory.xtc
    "start": None, "stop": None, "step": None,   # frame slice
    "dt_ps": None,            # time between stored frames; default from the trajectory
    "cutoffs_nm": None,       # {kind: nm}; missing kinds from the RDF first minimum
    "ion": None,              # tracked ion (index in the cation group); default choose_ion
    "profile_bin_nm": 0.1,
    "profile_regions": None,  # e.g. ["mouth", "inside"]; default all ion-frames
    "density_bin_nm": 0.02,
    "residence_max_lag": None,   # analysed frames; default half
    "msd_max_lag": None,         # analysed frames; default half
    "msd_fit_range": (0.1, 0.5),  # fraction of the largest lag
    "cation": "Na",           # label used in shell names
}


def parse_what(what) -> list[str]:
    """Normalise ``what`` (None, ``"a,b"`` or a list) to a list of analysis names."""
    if what is None:
        return list(ANALYSES)
    if isinstance(what, str):
        what = [w for w in what.split(",")]
    names = [str(w).strip().lower() for w in what if str(w).strip()]
    if "all" in names:
        return list(ANALYSES)
    bad = [w for w in names if w not in ANALYSES]
    if bad or not names:
        raise AnalysisError(
            f"unknown analysis {', '.join(bad) or '(none given)'}; choose from "
            f"{', '.join(ANALYSES)} or all"
        )
    return [a for a in ANALYSES if a in names]


def _single_atoms(u: mda.Universe, md: dict) -> dict[str, mda.AtomGroup]:
    """One atom per particle for MSD: cations, anion centres, first coordinating O of solvents."""
    groups = md["groups"]
    out = {"cation": group(u, md, "cation")} if groups.get("cation") else {}
    if groups.get("anion"):
        coord = set(groups.get("anion_coord", []))
        centre = [i for i in groups["anion"] if i not in coord]
        ag = u.atoms[np.asarray(centre or groups["anion"], dtype=np.intp)]
        out[anion_name(md)] = sum((r.atoms[:1] for r in ag.residues), u.atoms[[]])
    for s in solvent_names(md):
        if not groups.get(f"solvent_O:{s}"):
            continue
        ag = group(u, md, f"solvent_O:{s}")
        first = np.unique(ag.resindices, return_index=True)[1]
        out[s] = ag[first]
    return out


def run_analyses(run_dir, what=None, **options) -> dict[str, Path]:
    """Run the selected analyses on a run directory and write CSV + PNG files.

    Parameters
    ----------
    run_dir : str or Path
        predesolv run directory (``topology.pdb``, ``trajectory.dcd|xtc``, ``metadata.json``).
    what : None, str or list of str
        Names from :data:`ANALYSES` (``"rdf"``, ``"coordination"``, ``"speciation"``,
        ``"profile"``, ``"tracked"``, ``"residence"``, ``"density"``, ``"msd"``), a comma-
        separated string, or ``None``/``"all"`` for all. With ``None``, analyses that need an
        insertion axis (``profile``) are skipped for bulk boxes; asked for by name they raise.
    **options
        See :data:`OPTIONS` (``start``, ``stop``, ``step``, ``dt_ps``, ``cutoffs_nm``,
        ``ion``, ``profile_bin_nm``, ``profile_regions``, ``density_bin_nm``,
        ``residence_max_lag``,
        ``msd_max_lag``, ``msd_fit_range``, ``out_dir``, ``trajectory``, ``cation``).

    Returns
    -------
    dict of str to Path
        File name (``"cn_profile.csv"``) to written path, plus ``"summary.json"``.

    Raises
    ------
    AnalysisError
        Unknown analysis or option, missing files/groups, empty selections.
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise AnalysisError(
            f"unknown option(s) {', '.join(unknown)}; accepted: {', '.join(OPTIONS)}"
        )
    opt = {**OPTIONS, **options}
    names = parse_what(what)
    explicit = what is not None and not (isinstance(what, str) and what.strip() == "all")
    u, md = load_run(run_dir, opt["trajectory"])
    geo = Geometry.from_metadata(md)
    out_dir = Path(opt["out_dir"]) if opt["out_dir"] else Path(run_dir) / "analysis"
    out_dir.mkdir(parents=True, exist_ok=True)
    sl = {"start": opt["start"], "stop": opt["stop"], "step": opt["step"]}
    dt_stored = timestep_ps(u, opt["dt_ps"])
    dt = dt_stored * (opt["step"] or 1)  # between analysed frames
    written: dict[str, Path] = {}
    summary: dict[str, Any] = {"run_dir": str(run_dir), "analyses": [],
                               "frames": len(range(*slice(*sl.values()).indices(
                                   len(u.trajectory)))),
                               "dt_ps": dt}

    def csv(df: pd.DataFrame, name: str) -> None:
        p = out_dir / name
        df.to_csv(p, index=False, float_format="%.8g")
        written[name] = p

    def png(fig, name: str) -> None:
        written[name] = plots.save(fig, out_dir / name)

    if "profile" in names and not geo.has_insertion:
        if explicit:
            raise AnalysisError(
                "profile needs geometry.insertion in metadata.json; this run has none"
            )
        names.remove("profile")

    # analyses centred on the cation need it and at least one coordinating group; a run
    # without them (e.g. neat solvent) still gets density and MSD when `what` is not explicit
    groups = md["groups"]
    has_partners = any(k.startswith("solvent_O:") and v for k, v in groups.items()) or bool(
        groups.get("anion_coord"))
    if not (groups.get("cation") and has_partners):
        centred = [n for n in names if n in _NEEDS_COORD or n == "rdf"]
        if centred and explicit:
            group(u, md, "cation")  # raises with the list of groups if the cation is missing
            coordination_partners(u, md)  # raises if nothing can coordinate
        names = [n for n in names if n not in centred]
    ions = group(u, md, "cation") if groups.get("cation") else None
    partners = coordination_partners(u, md) if has_partners else {}
    cutoffs = dict(opt["cutoffs_nm"] or {})
    unknown_k = sorted(set(cutoffs) - set(partners))
    if unknown_k:
        raise AnalysisError(
            f"cutoffs_nm names unknown kind(s) {', '.join(unknown_k)}; kinds: "
            f"{', '.join(partners)}"
        )
    need_coord = bool(_NEEDS_COORD & set(names))
    if "rdf" in names or (need_coord and set(partners) - set(cutoffs)):
        rdf = compute_rdfs(ions, partners, **sl)
        auto = rdf.attrs["cutoffs_nm"]
        summary["rdf_first_minimum_nm"] = auto
        if "rdf" in names:
            csv(rdf, "rdf.csv")
            png(plots.plot_rdf(rdf, {**auto, **cutoffs}), "rdf.png")
        missing = {k: v for k, v in auto.items() if k not in cutoffs}
        if need_coord and missing:
            bad = [k for k, v in missing.items() if not np.isfinite(v)]
            if bad:
                raise AnalysisError(
                    f"no first minimum found in the Na–{', '.join(bad)} RDF; pass cutoffs_nm"
                )
            cutoffs.update(missing)
    if need_coord:
        coord = Coordination(ions, partners, cutoffs_nm=cutoffs, geometry=geo,
                             dt_ps=dt_stored if opt["dt_ps"] else None).run(**sl)
        kinds = coord.results.kinds
        summary["cutoffs_nm"] = coord.results.cutoffs_nm
        src = {k: ("given" if k in (opt["cutoffs_nm"] or {}) else "rdf_first_minimum")
               for k in kinds}
        csv(pd.DataFrame({"kind": kinds,
                          "cutoff_nm": [coord.results.cutoffs_nm[k] for k in kinds],
                          "source": [src[k] for k in kinds]}), "cutoffs.csv")
    if "coordination" in names:
        csv(coord.per_frame(), "coordination_per_frame.csv")
        reg = summary_by_region(coord)
        csv(reg, "coordination_by_region.csv")
        summary["coordination_by_region"] = reg.set_index("region").to_dict(orient="index")
    if "speciation" in names:
        spec = speciation(coord, cation=opt["cation"])
        csv(spec, "speciation.csv")
        png(plots.plot_speciation(spec), "speciation.png")
    if "profile" in names:
        prof = profile(coord, bin_nm=opt["profile_bin_nm"], regions=opt["profile_regions"])
        csv(prof, "cn_profile.csv")
        png(plots.plot_profile(prof, kinds), "cn_profile.png")
    if "tracked" in names:
        series, events = track_ion(coord, opt["ion"])
        csv(series, "tracked_ion.csv")
        csv(events, "tracked_events.csv")
        png(plots.plot_tracked(series, events, kinds), "tracked_ion.png")
        summary["tracked_ion"] = series.attrs
    if "residence" in names:
        acf, taus = residence_times(coord, max_lag=opt["residence_max_lag"])
        csv(acf, "residence_acf.csv")
        csv(taus, "residence_times.csv")
        png(plots.plot_residence(acf), "residence.png")
    if "density" in names and not (ions is not None or partners
                                   or md["groups"].get("electrode")):
        if explicit:
            raise AnalysisError("density: no cation, coordinating or electrode group to profile")
        names.remove("density")
    if "density" in names:
        dgroups = {"cation": ions} if ions is not None else {}
        dgroups.update({f"{k}_coord": ag for k, ag in partners.items()})
        if md["groups"].get("electrode"):
            dgroups["electrode"] = group(u, md, "electrode")
        for axis in ("z", "x"):
            dens = density_profiles(u, dgroups, axis=axis, bin_nm=opt["density_bin_nm"], **sl)
            csv(dens, f"density_{axis}.csv")
            png(plots.plot_density(dens), f"density_{axis}.png")
    if "msd" in names:
        msds, diffs = [], []
        species = _single_atoms(u, md)
        if not species:
            raise AnalysisError("msd: no cation, anion or solvent_O:<NAME> group in metadata.json")
        for sp, ag in species.items():
            m, d = msd_by_region(u, ag, geo, dt_ps=dt, max_lag=opt["msd_max_lag"],
                                 fit_range=tuple(opt["msd_fit_range"]), **sl)
            msds.append(m.assign(species=sp))
            diffs.append(d.assign(species=sp))
        msd = pd.concat(msds, ignore_index=True)
        diff = pd.concat(diffs, ignore_index=True)
        msd = msd[["species"] + [c for c in msd.columns if c != "species"]]
        diff = diff[["species"] + [c for c in diff.columns if c != "species"]]
        csv(msd, "msd.csv")
        csv(diff, "diffusion.csv")
        png(plots.plot_msd(msd[msd["region"].isin(["all", "inside"])]), "msd.png")
    summary["analyses"] = names
    p = out_dir / "summary.json"
    p.write_text(json.dumps(summary, indent=1, default=_json_default))
    written["summary.json"] = p
    return written


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
