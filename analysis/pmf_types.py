"""The data of an umbrella-sampling estimate: windows in, series, result out.

:class:`UmbrellaWindow` (a window's harmonic bias), :class:`DecorrelatedSeries` (a window's
samples after equilibration detection) and :class:`PMFResult` (what
:func:`predesolv.analysis.pmf.estimate_pmf` returns). Kept apart from the estimator so the
checks (:mod:`predesolv.analysis.pmf_checks`) read them without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from predesolv.constants import KB_KJ_PER_MOL_K, KJ_PER_MOL_PER_EV
from predesolv.errors import AnalysisError


@dataclass(frozen=True)
class UmbrellaWindow:
    """Thermodynamic state of one umbrella window: a harmonic bias at a temperature.

    Parameters
    ----------
    center : float
        Bias centre, in CV units (nm for a distance, 1 for a coordination number).
    k : float
        Force constant, kJ/mol per (CV unit)^2; > 0.
    temperature_K : float
        Temperature of the window, K; > 0.
    """

    center: float
    k: float
    temperature_K: float

    def __post_init__(self):
        if not np.isfinite(self.center):
            raise AnalysisError(f"umbrella window centre must be finite, got {self.center}")
        if not (np.isfinite(self.k) and self.k > 0):
            raise AnalysisError(f"umbrella force constant k must be > 0, got {self.k}")
        if not (np.isfinite(self.temperature_K) and self.temperature_K > 0):
            raise AnalysisError(f"umbrella temperature must be > 0 K, got {self.temperature_K}")

    @property
    def kT_kJ_per_mol(self) -> float:
        """kB T of this window, kJ/mol."""
        return KB_KJ_PER_MOL_K * self.temperature_K

    def reduced_bias(self, cv_values) -> np.ndarray:
        """Reduced bias ``k/2 (x - center)^2 / (kB T)`` (dimensionless), same shape as input."""
        x = np.asarray(cv_values, dtype=float)
        return 0.5 * self.k * (x - self.center) ** 2 / self.kT_kJ_per_mol


@dataclass(frozen=True)
class DecorrelatedSeries:
    """One window's series after equilibration removal and subsampling.

    Attributes
    ----------
    samples : ndarray, shape (n_used,)
        The CV values handed to MBAR.
    statistical_inefficiency : float
        ``g = 1 + 2 tau`` in frames of the (equilibrated part of the) input series.
    equilibration_start : int
        Index of the first frame kept (0 unless equilibration detection was asked for).
    n_frames : int
        Length of the input series.
    """

    samples: np.ndarray
    statistical_inefficiency: float
    equilibration_start: int
    n_frames: int

    @property
    def n_effective(self) -> float:
        """Effectively uncorrelated samples, ``(n_frames - equilibration_start) / g``."""
        return (self.n_frames - self.equilibration_start) / self.statistical_inefficiency

    @property
    def n_gate(self) -> float:
        """What the estimator's sample gate counts: the effective samples, capped by the
        samples the subsampling keeps."""
        return float(min(self.n_effective, self.samples.size))


@dataclass
class PMFResult:
    """Results of :func:`estimate_pmf` (arrays are per bin ``(n_bins,)`` or per window ``(K,)``).

    ``F`` is zero at its minimum; bins without samples hold NaN. Windows keep the input
    order; ``window_f_kJ_per_mol`` is relative to window 0.
    """

    bin_edges: np.ndarray
    F_kJ_per_mol: np.ndarray
    dF_kJ_per_mol: np.ndarray
    temperature_K: float
    windows: tuple[UmbrellaWindow, ...]
    statistical_inefficiency: np.ndarray
    n_frames: np.ndarray
    n_used: np.ndarray
    n_effective: np.ndarray
    equilibration_start: np.ndarray
    window_f_kJ_per_mol: np.ndarray
    window_df_kJ_per_mol: np.ndarray
    overlap_matrix: np.ndarray
    counts: np.ndarray
    bootstrap_F_kJ_per_mol: np.ndarray
    F_first_half_kJ_per_mol: np.ndarray
    F_second_half_kJ_per_mol: np.ndarray
    cv_unit: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def bin_centers(self) -> np.ndarray:
        """Bin centres, CV units, shape (n_bins,)."""
        return 0.5 * (self.bin_edges[1:] + self.bin_edges[:-1])

    @property
    def kT_kJ_per_mol(self) -> float:
        """kB T, kJ/mol."""
        return KB_KJ_PER_MOL_K * self.temperature_K

    @property
    def F_kT(self) -> np.ndarray:
        """F in units of kB T."""
        return self.F_kJ_per_mol / self.kT_kJ_per_mol

    @property
    def F_eV(self) -> np.ndarray:
        """F in eV."""
        return self.F_kJ_per_mol / KJ_PER_MOL_PER_EV

    @property
    def n_bootstraps(self) -> int:
        """Number of bootstrap replicates behind ``dF``."""
        return int(self.bootstrap_F_kJ_per_mol.shape[0])

    @property
    def half_max_diff_kJ_per_mol(self) -> float:
        """Largest |F_first_half - F_second_half| over bins populated in both halves."""
        d = np.abs(self.F_first_half_kJ_per_mol - self.F_second_half_kJ_per_mol)
        return float(np.nanmax(d)) if np.isfinite(d).any() else float("nan")


# --------------------------------------------------------------------------- decorrelation
