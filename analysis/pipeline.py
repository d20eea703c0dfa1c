"""``run_analyses``: every analysis of a run directory, written as CSV + PNG.

This is what ``predesolv analyze RUN_DIR --what ...`` calls. Column names and units of every
file are documented in ``docs/analysis.md``.

Design (as solvation_analysis and MDAnalysis do it): :class:`AnalysisOptions` holds and
checks every option *before* anything is read or written; a registry (:data:`REGISTRY`) maps
each analysis name to one small function that writes its own files through an
:class:`_Output`; the output folder is created only when the first file is written, and
``summary.json`` is strict JSON (NaN/inf → ``null``) written atomically.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import MDAnalysis as mda
import numpy as np
import pandas as pd
from MDAnalysis.exceptions import NoDataError

from predesolv import layout
from predesolv.atomic import atomic_write_text
from predesolv.errors import AnalysisError
from predesolv.metadata import ANION, CATION, ELECTRODE, Metadata, solvent_o_group

from . import plots
from .coordination import Coordination
from .geometry import Geometry
from .io import anion_name, coordination_partners, dcd_header_frames, group, load_run
from .io import timestep_ps as _timestep_ps
from .rdf import compute_rdfs
from .reliability import checked_cutoffs, diffusion_warnings, residence_warnings
from .report import write_report
from .residence import residence_times
from .selections import metadata_from_selections
from .shells import profile, speciation, summary_by_region
from .tracking import track_ion
from .transport import density_profiles, msd_by_region

log = logging.getLogger("predesolv.analysis")

#: Valid names for ``what``, in execution order.
ANALYSES = ("rdf", "coordination", "speciation", "profile", "tracked", "residence",
            "density", "msd")
_NEEDS_COORD = {"coordination", "speciation", "profile", "tracked", "residence"}


@dataclass(frozen=True)
class AnalysisOptions:
    """Options of :func:`run_analyses` (lengths in nm, times in ps).

    ``start``/``stop``/``step`` slice the stored frames like Python; ``ion`` is an index into
    the cation group; ``profile_regions`` names metadata regions; ``cutoffs_nm`` maps a
    partner kind (``DME``, ``PF6``) to a first-shell cutoff (else the first RDF minimum);
    ``profile_regions`` defaults to ``mouth`` and ``inside`` where the run has them (ions in
    the reservoir behind the slit would otherwise be folded onto the insertion axis).
    ``verbose`` shows a tqdm progress bar for every pass over the trajectory.
    """

    out_dir: str | Path | None = None
    trajectory: str | Path | None = None
    start: int | None = None
    stop: int | None = None
    step: int | None = None
    dt_ps: float | None = None
    cutoffs_nm: dict[str, float] | None = None
    ion: int | None = None
    profile_bin_nm: float = 0.1
    profile_regions: list[str] | None = None
    density_bin_nm: float = 0.02
    residence_max_lag: int | None = None
    msd_max_lag: int | None = None
    msd_fit_range: tuple[float, float] = (0.1, 0.5)
    cation: str = "Na"
    cation_selection: str | None = None
    partner_selections: dict[str, str] | None = None
    verbose: bool = False

    def __post_init__(self) -> None:
        for name in ("start", "stop", "step", "ion", "residence_max_lag", "msd_max_lag"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
                raise AnalysisError(f"{_flag(name)}: {v!r:.40} is not an integer")
        if self.step is not None and self.step < 1:
            raise AnalysisError(f"--step: {self.step} must be >= 1 (every STEP-th frame)")
        for name in ("profile_bin_nm", "density_bin_nm", "dt_ps"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise AnalysisError(f"{name}: {v!r:.40} must be a number > 0")
        for kind, nm in (self.cutoffs_nm or {}).items():
            if not (isinstance(nm, (int, float)) and math.isfinite(nm) and 0 < nm < 2):
                raise AnalysisError(f"--cutoffs: {kind}={nm!r:.20} must be in (0, 2) nm")
        lo, hi = self.msd_fit_range
        if not 0 <= lo < hi <= 1:
            raise AnalysisError(f"msd_fit_range: {self.msd_fit_range} must be 0 <= a < b <= 1")
        for name in ("residence_max_lag", "msd_max_lag"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise AnalysisError(f"{name}: {v} must be >= 1")
        if self.out_dir is not None and Path(self.out_dir).exists() \
                and not Path(self.out_dir).is_dir():
            raise AnalysisError(f"--out: {self.out_dir} exists and is not a folder")

    def frames(self, n_stored: int) -> range:
        """Indices of the analysed frames among ``n_stored``.

        Raises
        ------
        AnalysisError
            The slice selects no frame (the message gives the trajectory length).
        """
        sel = range(n_stored)[slice(self.start, self.stop, self.step)]
        if len(sel) == 0:
            raise AnalysisError(
                f"--start {self.start} --stop {self.stop} --step {self.step} selects no frame "
                f"of the {n_stored} stored; frames are 0..{n_stored - 1}")
        return sel

    @property
    def slice_kwargs(self) -> dict[str, int | None]:
        return {"start": self.start, "stop": self.stop, "step": self.step}


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}" if name in ("start", "stop", "step", "ion") else name


#: Accepted keyword options of :func:`run_analyses` and their defaults.
OPTIONS: dict[str, Any] = {f.name: f.default for f in fields(AnalysisOptions)}


def parse_what(what: Any) -> list[str]:
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
            f"--what: unknown analysis {', '.join(bad) or '(none given)'}; choose from "
            f"{', '.join(ANALYSES)} or all"
        )
    return [a for a in ANALYSES if a in names]


def strict_json(obj: Any) -> Any:
    """``obj`` with NaN/inf replaced by None and numpy scalars/arrays by Python values."""
    if isinstance(obj, dict):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return strict_json(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


class _Output:
    """Writes the analysis files; the folder is created at the first write."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.written: dict[str, Path] = {}

    def _path(self, name: str) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        return self.out_dir / name

    def csv(self, df: pd.DataFrame, name: str) -> None:
        p = self._path(name)
        df.to_csv(p, index=False, float_format="%.8g")
        self.written[name] = p

    def png(self, fig: Any, name: str) -> None:
        self.written[name] = plots.save(fig, self._path(name))

    def summary(self, summary: dict[str, Any]) -> None:
        import json


        p = self._path("summary.json")
        atomic_write_text(p, json.dumps(strict_json(summary), indent=1, allow_nan=False) + "\n")
        self.written["summary.json"] = p


@dataclass
class _Context:
    """What every analysis step reads: the Universe, metadata, options and shared results."""

    u: mda.Universe
    md: Metadata
    geo: Geometry
    opt: AnalysisOptions
    out: _Output
    summary: dict[str, Any]
    dt_stored: float
    ions: mda.AtomGroup | None = None
    partners: dict[str, mda.AtomGroup] = field(default_factory=dict)
    coord: Coordination | None = None
    #: Where each automatic cutoff came from (``rdf_first_minimum`` or ``default``).
    cutoff_sources: dict[str, str] = field(default_factory=dict)

    @property
    def dt(self) -> float:
        """Time between analysed frames (ps)."""
        return self.dt_stored * (self.opt.step or 1)

    @property
    def labels(self) -> dict[str, str]:
        """Legend name of each partner kind: what is counted (``{"DME": "Na–O(DME)"}``)."""
        return {k: f"{self.opt.cation}–{_element(ag)}({k})" for k, ag in self.partners.items()}

    @property
    def need_coord(self) -> Coordination:
        assert self.coord is not None
        return self.coord


def _element(ag: mda.AtomGroup) -> str:
    """Most common element of ``ag`` (from ``elements``, else the letters of the names)."""
    try:
        symbols = [str(e).capitalize() for e in ag.elements if str(e).strip()]
    except (AttributeError, NoDataError):
        symbols = []
    if not symbols:
        symbols = ["".join(c for c in str(n) if c.isalpha())[:1] or "X" for n in ag.names]
    vals, counts = np.unique(symbols, return_counts=True)
    return str(vals[np.argmax(counts)])


# ----------------------------------------------------------------------------- steps
def _rdf(ctx: _Context, rdf: pd.DataFrame, cutoffs: dict[str, float]) -> None:
    ctx.out.csv(rdf, "rdf.csv")
    ctx.out.png(plots.plot_rdf(rdf, {**rdf.attrs["cutoffs_nm"], **cutoffs},
                               labels=ctx.labels), "rdf.png")


def _coordination(ctx: _Context) -> None:
    coord = ctx.need_coord
    ctx.out.csv(coord.per_frame(), "coordination_per_frame.csv")
    reg = summary_by_region(coord)
    ctx.out.csv(reg, "coordination_by_region.csv")
    ctx.summary["coordination_by_region"] = reg.set_index("region").to_dict(orient="index")


def _speciation(ctx: _Context) -> None:
    spec = speciation(ctx.need_coord, cation=ctx.opt.cation)
    ctx.out.csv(spec, "speciation.csv")
    regions = ["all"] + ctx.need_coord.results.region_names
    ctx.out.png(plots.plot_speciation(spec, regions=regions), "speciation.png")


def _profile(ctx: _Context) -> None:
    regions = ctx.opt.profile_regions
    if regions is None:
        regions = [r for r in ("mouth", "inside") if r in ctx.geo.region_names] or None
    prof = profile(ctx.need_coord, bin_nm=ctx.opt.profile_bin_nm, regions=regions)
    ctx.out.csv(prof, "cn_profile.csv")
    ctx.summary["profile_regions"] = regions or ctx.geo.region_names
    ctx.out.png(plots.plot_profile(prof, ctx.need_coord.results.kinds, labels=ctx.labels,
                                   slit_nm=ctx.geo.insertion_extent_nm("inside"),
                                   regions=regions), "cn_profile.png")


def _tracked(ctx: _Context) -> None:
    series, events = track_ion(ctx.need_coord, ctx.opt.ion)
    ctx.out.csv(series, "tracked_ion.csv")
    ctx.out.csv(events, "tracked_events.csv")
    ctx.out.png(plots.plot_tracked(series, events, ctx.need_coord.results.kinds),
                "tracked_ion.png")
    ctx.summary["tracked_ion"] = series.attrs


def _residence(ctx: _Context) -> None:
    acf, taus = residence_times(ctx.need_coord, max_lag=ctx.opt.residence_max_lag)
    ctx.out.csv(acf, "residence_acf.csv")
    ctx.out.csv(taus, "residence_times.csv")
    ctx.out.png(plots.plot_residence(acf, taus), "residence.png")
    _warn(ctx, residence_warnings(taus, ctx.summary["frames"] * ctx.dt))


def _density(ctx: _Context) -> None:
    dgroups = {"cation": ctx.ions} if ctx.ions is not None else {}
    dgroups.update({f"{k}_coord": ag for k, ag in ctx.partners.items()})
    if ctx.md.groups.get(ELECTRODE):
        dgroups["electrode"] = group(ctx.u, ctx.md, ELECTRODE)
    for axis in ("z", "x"):
        dens = density_profiles(ctx.u, dgroups, axis=axis, bin_nm=ctx.opt.density_bin_nm,
                                verbose=ctx.opt.verbose, **ctx.opt.slice_kwargs)
        ctx.out.csv(dens, f"density_{axis}.csv")
        ctx.out.png(plots.plot_density(dens), f"density_{axis}.png")


def _single_atoms(u: mda.Universe, md: Metadata) -> dict[str, mda.AtomGroup]:
    """One atom per particle for MSD: cations, anion centres, first coordinating O of solvents."""
    groups = md.groups
    out = {"cation": group(u, md, CATION)} if groups.get(CATION) else {}
    if groups.get(ANION):
        coord = set(groups.get("anion_coord", []))
        centre = [i for i in groups[ANION] if i not in coord]
        ag = u.atoms[np.asarray(centre or groups[ANION], dtype=np.intp)]
        out[anion_name(md)] = sum((r.atoms[:1] for r in ag.residues), u.atoms[[]])
    for s in md.solvent_names():
        if not groups.get(solvent_o_group(s)):
            continue
        ag = group(u, md, solvent_o_group(s))
        first = np.unique(ag.resindices, return_index=True)[1]
        out[s] = ag[first]
    return out


def _msd(ctx: _Context) -> None:
    species = _single_atoms(ctx.u, ctx.md)
    if not species:
        raise AnalysisError("msd: no cation, anion or solvent_O:<NAME> group in metadata.json")
    msds, diffs = [], []
    for sp, ag in species.items():
        lo, hi = ctx.opt.msd_fit_range
        m, d = msd_by_region(ctx.u, ag, ctx.geo, dt_ps=ctx.dt, max_lag=ctx.opt.msd_max_lag,
                             fit_range=(float(lo), float(hi)), verbose=ctx.opt.verbose,
                             start=ctx.opt.start, stop=ctx.opt.stop, step=ctx.opt.step)
        msds.append(m.assign(species=sp))
        diffs.append(d.assign(species=sp))
    msd = pd.concat(msds, ignore_index=True)
    diff = pd.concat(diffs, ignore_index=True)
    msd = msd[["species"] + [c for c in msd.columns if c != "species"]]
    diff = diff[["species"] + [c for c in diff.columns if c != "species"]]
    ctx.out.csv(msd, "msd.csv")
    ctx.out.csv(diff, "diffusion.csv")
    ctx.out.png(plots.plot_msd(msd, diff), "msd.png")
    _warn(ctx, diffusion_warnings(msd, diff))


def _warn(ctx: _Context, messages: list[str]) -> None:
    """Record warnings in summary.json (and the report) and say them on stderr."""
    for m in messages:
        log.warning(m)
        ctx.summary["warnings"].append(m)


#: Analysis name → the step that writes its files (``rdf`` is written while cutoffs are set).
REGISTRY: dict[str, Callable[[_Context], None]] = {
    "coordination": _coordination, "speciation": _speciation, "profile": _profile,
    "tracked": _tracked, "residence": _residence, "density": _density, "msd": _msd,
}


def run_analyses(run_dir: str | Path, what: Any = None, **options: Any) -> dict[str, Path]:
    """Run the selected analyses on a run directory and write CSV + PNG files.

    Parameters
    ----------
    run_dir : str or Path
        predesolv run directory (``topology.pdb``, ``trajectory.dcd|xtc``, ``metadata.json``).
    what : None, str or list of str
        Names from :data:`ANALYSES`, a comma-separated string, or ``None``/``"all"`` for all.
        With ``None``, analyses that need an insertion axis (``profile``) or a cation with
        partners are skipped where they do not apply; asked for by name they raise.
    **options
        Fields of :class:`AnalysisOptions`; all are checked before any file is written.

    Returns
    -------
    dict of str to Path
        File name (``"cn_profile.csv"``) to written path, plus ``"summary.json"`` and
        ``"report.html"`` (every figure beside its summary table; open it first).

    Raises
    ------
    AnalysisError
        Unknown analysis or option, a bad option value, missing files/groups, empty
        selections. Nothing is written then.
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise AnalysisError(
            f"unknown option(s) {', '.join(unknown)}; accepted: {', '.join(OPTIONS)}")
    opt = AnalysisOptions(**options)
    names = parse_what(what)
    explicit = what is not None and not (isinstance(what, str) and what.strip() == "all")
    u, md = load_run(run_dir, opt.trajectory)
    md = metadata_from_selections(u, md, opt.cation_selection, opt.partner_selections)
    n_frames = len(opt.frames(len(u.trajectory)))
    out = _Output(Path(opt.out_dir) if opt.out_dir else Path(run_dir) / layout.ANALYSIS)
    ctx = _Context(u, md, Geometry.from_metadata(md), opt, out,
                   {"run_dir": str(Path(run_dir).resolve()), "analyses": [],
                    "frames": n_frames, "warnings": _trajectory_warnings(u)},
                   _timestep_ps(u, opt.dt_ps))
    ctx.summary["dt_ps"] = ctx.dt
    names = _applicable(ctx, names, explicit)
    _check_choices(ctx, names)
    cutoffs = _cutoffs(ctx, names)
    if set(names) & _NEEDS_COORD:
        ctx.coord = Coordination(ctx.ions, ctx.partners, cutoffs_nm=cutoffs, geometry=ctx.geo,
                                 dt_ps=ctx.dt_stored if opt.dt_ps else None).run(
            verbose=opt.verbose, **opt.slice_kwargs)
        _write_cutoffs(ctx)
    for name in names:
        if name in REGISTRY:
            REGISTRY[name](ctx)
    ctx.summary["analyses"] = names
    out.summary(ctx.summary)
    out.written["report.html"] = write_report(out.out_dir)
    return out.written


def _trajectory_warnings(u: mda.Universe) -> list[str]:
    """A DCD whose header promises more frames than the file holds was cut short: say so."""
    path = Path(u.trajectory.filename)
    header = dcd_header_frames(path)
    n = len(u.trajectory)
    if header is not None and header != n:
        msg = (f"{path.name}: the header records {header} frames but the file holds {n} "
               f"complete frames (truncated?); analysing the {n} present")
        log.warning(msg)
        return [msg]
    return []


def _applicable(ctx: _Context, names: list[str], explicit: bool) -> list[str]:
    """Drop analyses that do not apply (or raise when they were asked for by name)."""
    if "profile" in names and not ctx.geo.has_insertion:
        if explicit:
            raise AnalysisError("--what profile needs geometry.insertion in metadata.json; "
                                "this run has none")
        names.remove("profile")
    groups = ctx.md.groups
    has_partners = any(groups.get(solvent_o_group(s)) for s in ctx.md.solvent_names()) \
        or bool(groups.get("anion_coord"))
    if not (groups.get(CATION) and has_partners):
        centred = [n for n in names if n in _NEEDS_COORD or n == "rdf"]
        if centred and explicit:
            group(ctx.u, ctx.md, CATION)  # raises with the list of groups if missing
            coordination_partners(ctx.u, ctx.md)  # raises if nothing can coordinate
        names = [n for n in names if n not in centred]
    ctx.ions = group(ctx.u, ctx.md, CATION) if groups.get(CATION) else None
    ctx.partners = coordination_partners(ctx.u, ctx.md) if has_partners else {}
    if "density" in names and not (ctx.ions is not None or ctx.partners
                                   or groups.get(ELECTRODE)):
        if explicit:
            raise AnalysisError("density: no cation, coordinating or electrode group to profile")
        names.remove("density")
    return names


def _check_choices(ctx: _Context, names: list[str]) -> None:
    """Options that name things in the run (ion, regions, partner kinds), before writing."""
    opt = ctx.opt
    n_ions = 0 if ctx.ions is None else len(ctx.ions)
    if opt.ion is not None and "tracked" in names and not 0 <= opt.ion < n_ions:
        raise AnalysisError(f"--ion: {opt.ion} is not a cation index; this run has {n_ions} "
                            f"cations (0..{n_ions - 1})")
    if opt.profile_regions is not None and "profile" in names:
        known = [r for r in ctx.geo.region_names]
        bad = [r for r in opt.profile_regions if r not in known]
        if bad:
            raise AnalysisError(f"--profile-regions: {', '.join(bad)} not a region of this run; "
                                f"regions: {', '.join(known)}")
    unknown = sorted(set(opt.cutoffs_nm or {}) - set(ctx.partners))
    if unknown:
        raise AnalysisError(f"--cutoffs: unknown kind(s) {', '.join(unknown)}; kinds: "
                            f"{', '.join(ctx.partners)}")


def _cutoffs(ctx: _Context, names: list[str]) -> dict[str, float]:
    """First-shell cutoffs: given ones, the rest from the first RDF minimum."""
    cutoffs = dict(ctx.opt.cutoffs_nm or {})
    need_coord = bool(_NEEDS_COORD & set(names))
    if not ("rdf" in names or (need_coord and set(ctx.partners) - set(cutoffs))):
        return cutoffs
    rdf = compute_rdfs(ctx.ions, ctx.partners, verbose=ctx.opt.verbose,
                       start=ctx.opt.start, stop=ctx.opt.stop, step=ctx.opt.step)
    ctx.summary["rdf_first_minimum_nm"] = rdf.attrs["cutoffs_nm"]
    finite = {k: v for k, v in rdf.attrs["cutoffs_nm"].items()
              if np.isfinite(v) and k not in cutoffs}  # given cutoffs are the user's choice
    checked, ctx.cutoff_sources, notes = checked_cutoffs(rdf, finite)
    _warn(ctx, notes)
    auto = {**rdf.attrs["cutoffs_nm"], **checked}
    missing = {k: v for k, v in auto.items() if k not in cutoffs}
    if need_coord and missing:
        bad = [k for k, v in missing.items() if not np.isfinite(v)]
        if bad:
            raise AnalysisError(
                f"no first minimum found in the Na–{', '.join(bad)} RDF; pass --cutoffs")
        cutoffs.update(missing)
    if "rdf" in names:
        _rdf(ctx, rdf, {**checked, **dict(ctx.opt.cutoffs_nm or {})})
    return cutoffs


def _write_cutoffs(ctx: _Context) -> None:
    coord = ctx.need_coord
    kinds = coord.results.kinds
    ctx.summary["cutoffs_nm"] = coord.results.cutoffs_nm
    given = ctx.opt.cutoffs_nm or {}
    ctx.out.csv(pd.DataFrame({
        "kind": kinds, "cutoff_nm": [coord.results.cutoffs_nm[k] for k in kinds],
        "source": ["given" if k in given else ctx.cutoff_sources.get(k, "rdf_first_minimum")
                   for k in kinds]}),
        "cutoffs.csv")
