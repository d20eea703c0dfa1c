"""Analysis of predesolv run directories or any MDAnalysis Universe.

Entry points
------------
:func:`run_analyses`
    Everything for a run directory, written as CSV + PNG into ``RUN_DIR/analysis/``.
:func:`load_run`
    ``(Universe, metadata)`` from a run directory.
:class:`Coordination`
    Per-ion, per-frame first-shell composition (MDAnalysis ``AnalysisBase``); derived tables in
    :mod:`.shells` (:func:`summary_by_region`, :func:`speciation`, :func:`profile`),
    :func:`track_ion`, :func:`residence_times`.
:func:`compute_rdfs`, :func:`first_minimum`, :func:`density_profiles`, :func:`msd_by_region`
    Structure and transport.

Lengths are Å inside computations (MDAnalysis) and nm in every table, plot and in
``metadata.json``; the conversion lives in :mod:`predesolv.analysis.units` only.
"""

from .coordination import Coordination
from .geometry import Geometry, Region
from .io import coordination_partners, group, load_metadata, load_run
from .pipeline import ANALYSES, OPTIONS, parse_what, run_analyses
from .rdf import compute_rdfs, first_minimum
from .residence import residence_times
from .shells import profile, shell_label, speciation, summary_by_region
from .tracking import choose_ion, track_ion
from .transport import density_profiles, msd_by_region

__all__ = [
    "ANALYSES",
    "OPTIONS",
    "Coordination",
    "Geometry",
    "Region",
    "choose_ion",
    "compute_rdfs",
    "coordination_partners",
    "density_profiles",
    "first_minimum",
    "group",
    "load_metadata",
    "load_run",
    "msd_by_region",
    "parse_what",
    "profile",
    "residence_times",
    "run_analyses",
    "shell_label",
    "speciation",
    "summary_by_region",
    "track_ion",
]
