"""Where predesolv's force-field files are (the ``openmm.forcefielddir`` entry point)."""

from __future__ import annotations

from pathlib import Path


def get_data_dir() -> str:
    """Directory holding predesolv's ForceField XML files (for OpenMM's entry point)."""
    return str(Path(__file__).resolve().parent)
