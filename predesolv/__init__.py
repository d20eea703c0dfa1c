"""predesolv: Na+ solvation and pre-desolvation at hard-carbon anodes, on OpenMM.

The Python API mirrors the command line::

    import predesolv
    cfg = predesolv.load_config("examples/default.yaml")   # or a dict of the same shape
    built = predesolv.build(cfg)                            # BuiltSystem: System, Topology, ...
    sim = predesolv.create_simulation(built, cfg.simulation)  # an openmm.app.Simulation, as run
    result = predesolv.run(cfg, out="runs/api")             # a run directory, like `run`
    files = predesolv.analyze(result.run_dir)               # CSV + PNG, like `analyze`
"""

from predesolv.quiet import QUIET_LOGGERS, quiet_third_parties
from predesolv.version import __version__

quiet_third_parties()

from predesolv.api import analyze, build, create_simulation, load_config, run  # noqa: E402

__all__ = ["QUIET_LOGGERS", "__version__", "analyze", "build", "create_simulation",
           "load_config", "run"]
