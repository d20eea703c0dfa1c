"""The one place where nanometres (predesolv, OpenMM, ``metadata.json``) meet Ångström (MDAnalysis).

Every length inside :mod:`predesolv.analysis` computations is in Å (MDAnalysis convention);
every length read from ``metadata.json`` or written to a CSV/plot is in nm. Convert only with
the helpers below.
"""

from __future__ import annotations

import numpy as np

ANGSTROM_PER_NM = 10.0

#: 1 Å² in nm².
NM2_PER_A2 = 1.0 / ANGSTROM_PER_NM**2

#: 1 Å²/ps expressed in m²/s.
A2_PER_PS_IN_M2_PER_S = 1e-20 / 1e-12


def nm_to_angstrom(x):
    """Convert a length (scalar or array) from nm to Å."""
    if np.ndim(x):
        return np.asarray(x, dtype=float) * ANGSTROM_PER_NM
    return float(x) * ANGSTROM_PER_NM


def angstrom_to_nm(x):
    """Convert a length (scalar or array) from Å to nm."""
    if np.ndim(x):
        return np.asarray(x, dtype=float) / ANGSTROM_PER_NM
    return float(x) / ANGSTROM_PER_NM
