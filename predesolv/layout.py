"""File names of a predesolv run directory (dependency-free: standard library only).

The one place that names the files of a run directory. :class:`predesolv.rundir.RunDir`
owns reading and writing them; analysis code (which must not import the runner) reads the
names from here.

Layout (all in one folder)::

    config.yaml        fully resolved config (defaults filled, seeds drawn, paths absolute)
    provenance.json    package versions, platform + properties, seeds, host, command
    system.xml         serialized openmm.System (after hydrogen mass repartitioning)
    topology.pdb       topology + initial positions + box
    metadata.json      atom groups and geometry for analysis (predesolv.metadata)
    state.csv          energies, T, volume, density, ns/day (all MD stages)
    trajectory.dcd     production frames (or trajectory.xtc)
    checkpoints/       stepNNNNNNNNNNNN.chk (binary, keeps the RNG stream) + .xml (portable)
    progress.json      where the last verified checkpoint stands (predesolv.rundir.Progress)
    final_state.xml    State XML at the end of the run
    log.txt            one line per stage event
    left_out.json      what a packed state left out of this run (predesolv.state_archive)
    .lock              held (flock) by the process writing the run
    analysis/          default output folder of ``predesolv analyze``
"""

from __future__ import annotations

CONFIG = "config.yaml"
PROVENANCE = "provenance.json"
SYSTEM = "system.xml"
TOPOLOGY = "topology.pdb"
METADATA = "metadata.json"
STATE = "state.csv"
PROGRESS = "progress.json"
FINAL_STATE = "final_state.xml"
LOG = "log.txt"
LEFT_OUT = "left_out.json"
LOCK = ".lock"
CHECKPOINTS = "checkpoints"
ANALYSIS = "analysis"

#: Trajectory file names, in the order analysis looks for them.
TRAJECTORY_FORMATS = ("dcd", "xtc")
TRAJECTORIES = tuple(f"trajectory.{fmt}" for fmt in TRAJECTORY_FORMATS)

#: The files a run directory must hold before it counts as a run (written before any MD).
INPUT_FILES = (CONFIG, PROVENANCE, SYSTEM, TOPOLOGY, METADATA, STATE)


def trajectory_name(fmt: str) -> str:
    """File name of the trajectory in format ``fmt`` (``"dcd"`` or ``"xtc"``)."""
    if fmt not in TRAJECTORY_FORMATS:
        raise ValueError(f"trajectory format must be one of {TRAJECTORY_FORMATS}, got {fmt!r}")
    return f"trajectory.{fmt}"


def checkpoint_names(global_step: int) -> tuple[str, str]:
    """Relative paths of the binary and XML checkpoints written at ``global_step``."""
    stem = f"{CHECKPOINTS}/step{int(global_step):012d}"
    return f"{stem}.chk", f"{stem}.xml"
