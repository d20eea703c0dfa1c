"""predesolv: Na+ solvation and pre-desolvation at hard-carbon anodes, on OpenMM."""

from __future__ import annotations

__version__ = "0.1.0"
