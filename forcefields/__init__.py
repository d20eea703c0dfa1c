"""Force-field data shipped with predesolv (OpenMM ForceField XML + provenance).

``get_data_dir`` is registered under the ``openmm.forcefielddir`` entry point, so
``openmm.app.ForceField("predesolv-electrolytes.xml")`` finds the files shipped here.
"""

from __future__ import annotations

from pathlib import Path


def get_data_dir() -> str:
    """Directory holding predesolv's ForceField XML files (for OpenMM's entry point)."""
    return str(Path(__file__).resolve().parent)
