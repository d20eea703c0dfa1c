"""predesolv: Na+ solvation and pre-desolvation at hard-carbon anodes, on OpenMM.

The Python API mirrors the command line::

    import predesolv
    cfg = predesolv.load_config("examples/default.yaml")   # or a dict of the same shape
    built = predesolv.build(cfg)                            # BuiltSystem: System, Topology, ...
    sim = built.create_simulation(cfg.simulation)           # an openmm.app.Simulation, as run
    result = predesolv.run(cfg, out="runs/api")             # a run directory, like `run`
    files = predesolv.analyze(result.run_dir)               # CSV + PNG, like `analyze`
"""

from __future__ import annotations

import logging as _logging
import warnings as _warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

#: Third-party loggers kept off the terminal: pymbar logs a 9-line "JAX NOT FOUND" banner and
#: a caution about statistical inefficiencies at import (predesolv checks overlap, effective
#: samples and convergence itself, and says so). ``predesolv ... --debug`` shows them.
QUIET_LOGGERS = ("pymbar",)
for _name in QUIET_LOGGERS:
    _logging.getLogger(_name).addHandler(_logging.NullHandler())
    _logging.getLogger(_name).propagate = False
# MDAnalysis 2.x announces a change of its DCD reader's timestep copying for 3.0 on every
# DCD it opens; predesolv copies positions out of each frame, so it is unaffected.
_warnings.filterwarnings("ignore", message="DCDReader currently makes independent timesteps",
                         category=DeprecationWarning)

if TYPE_CHECKING:
    from predesolv.built import BuiltSystem
    from predesolv.config import RunConfig
    from predesolv.runner import RunResult

__all__ = ["__version__", "analyze", "build", "load_config", "run"]


def load_config(source: str | Path | dict[str, Any]) -> RunConfig:
    """A validated :class:`~predesolv.config.RunConfig` from a YAML file or a dict
    (relative paths in a dict are taken from the working directory)."""
    from predesolv.config import load_config as _load
    from predesolv.config import parse_config

    if isinstance(source, dict):
        return parse_config(source, base_dir=Path.cwd(), source="<dict>")
    return _load(source)


def build(config: RunConfig | str | Path | dict[str, Any]) -> BuiltSystem:
    """Build (or load) the system of a config, like ``predesolv build`` (no MD)."""
    from predesolv.builder import build_system
    from predesolv.config import RunConfig

    cfg = config if isinstance(config, RunConfig) else load_config(config)
    return build_system(cfg.system)


def run(config: RunConfig | str | Path | dict[str, Any], out: str | Path | None = None, *,
        resume: bool = False, overwrite: bool = False, extend: bool = False,
        platform: str | None = None, reporters: list[Any] | None = None) -> RunResult:
    """Run a config into a run directory, like ``predesolv run`` (``out`` overrides
    ``output.directory``). The run directory is locked for the whole run.

    ``reporters``: your own OpenMM reporters (``describeNextReport``/``report``), attached to
    every production stage after predesolv's own, so a managed, resumable run also feeds
    them. A resumed run (``resume=True``) feeds the reporters of *that* call from its last
    checkpoint on: frames before the checkpoint were reported to the earlier call's."""
    import sys

    from predesolv.builder import build_system
    from predesolv.config import RunConfig
    from predesolv.errors import ConfigError, RunDirectoryError
    from predesolv.rundir import RunDir
    from predesolv.runner import Runner, preflight

    cfg = config if isinstance(config, RunConfig) else load_config(config)
    if extend and not resume:
        raise ConfigError("--extend only goes with --resume", "--extend")
    rd = RunDir(out or cfg.output.directory)
    with rd.locked():  # one writer for the whole life of the run (build included)
        if resume and rd.has_inputs():
            runner = Runner.resume(rd, platform=platform, config=cfg, extend=extend)
            runner.user_reporters = list(reporters or [])
            return runner.run()
        if resume and not rd.config.is_file():
            raise RunDirectoryError(
                f"output.directory: {rd.path} holds no predesolv run (no config.yaml) to "
                f"resume; run without --resume")
        if resume:
            sys.stderr.write(f"note: {rd.path} holds an incomplete run (its input files were "
                             f"never all written); starting it anew\n")
        built = build_system(cfg.system)
        preflight(cfg, built)
        runner = Runner(cfg, built, rd, platform=platform)
        runner.user_reporters = list(reporters or [])
        return runner.run(overwrite=overwrite or resume)


def analyze(run_dir: str | Path, what: Any = None, **options: Any) -> dict[str, Path]:
    """Analyse a run directory, like ``predesolv analyze`` (see
    :class:`predesolv.analysis.pipeline.AnalysisOptions` for ``options``)."""
    from predesolv.analysis import run_analyses

    return run_analyses(run_dir, what, **options)
