"""Third-party chatter kept off the terminal (``predesolv ... --debug`` shows it).

pymbar logs a 9-line "JAX NOT FOUND" banner and a caution about statistical inefficiencies
at import (predesolv checks overlap, effective samples and convergence itself, and says so).
MDAnalysis 2.x announces a change of its DCD reader's timestep copying for 3.0 on every DCD it
opens; predesolv copies positions out of each frame, so it is unaffected.
"""

from __future__ import annotations

import logging
import warnings

#: Third-party loggers kept off the terminal unless ``--debug``.
QUIET_LOGGERS = ("pymbar",)


def quiet_third_parties() -> None:
    """Detach :data:`QUIET_LOGGERS` from the root logger; filter MDAnalysis's DCD notice."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).addHandler(logging.NullHandler())
        logging.getLogger(name).propagate = False
    warnings.filterwarnings("ignore", message="DCDReader currently makes independent timesteps",
                            category=DeprecationWarning)
