"""First-shell residence times from the intermittent correlation function, by region.

For every (ion, molecule) pair that is ever in contact, ``h(t) = 1`` when the molecule is in
the ion's first shell at frame ``t``. With ``w(t) = 1`` when the ion is in the region at the
time origin ``t``,

    C(k) = [sum_pairs sum_{t<n-k} w(t) h(t) h(t+k) / sum_pairs sum_{t<n-k} w(t)]
           / [sum_pairs sum_t w(t) h(t) / sum_pairs sum_t w(t)]

so ``C(0) = 1``. With ``w = 1`` this is exactly solvation_analysis's ``Residence``
auto-covariance (``acovf(demean=False, adjusted=True)`` averaged over pairs, normalised by its
maximum). The residence time is the first lag where ``C < 1/e`` (solvation_analysis's
"cutoff" method); NaN when ``C`` never drops that far within ``max_lag``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predesolv.errors import AnalysisError

from .coordination import Coordination

ALL = "all"
CHUNK = 256


def residence_times(
    coord: Coordination,
    max_lag: int | None = None,
    by_region: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shell correlation functions and residence times per kind (and region).

    Parameters
    ----------
    coord : Coordination
        A finished analysis.
    max_lag : int, optional
        Largest lag in analysed frames; default half the number of frames.
    by_region : bool
        Also resolve by the region of the ion at the time origin.

    Returns
    -------
    acf : pandas.DataFrame
        Columns ``region`` (``"all"`` then regions), ``kind``, ``lag_frames``, ``lag_ps``,
        ``C`` (dimensionless, 1 at lag 0).
    taus : pandas.DataFrame
        Columns ``region``, ``kind``, ``tau_frames`` (first lag with C < 1/e, in analysed
        frames), ``tau_ps``, ``n_pairs`` (ion–molecule pairs ever in contact with the ion
        in that region), ``n_origins`` (ion-frames used as time origins).
    """
    r = coord.results
    if not hasattr(r, "shell"):
        raise AnalysisError("run() the Coordination analysis before residence times")
    n_frames, n_ions = r.regions.shape
    if n_frames < 2:
        raise AnalysisError("residence times need at least 2 frames")
    max_lag = n_frames // 2 if max_lag is None else int(max_lag)
    if not 1 <= max_lag < n_frames:
        raise AnalysisError(f"max_lag must be in [1, {n_frames - 1}], got {max_lag}")
    dt = coord.dt_ps
    regions: list[tuple[str, int | None]] = [(ALL, None)]
    if by_region:
        regions += [(n, i) for i, n in enumerate(r.region_names)]
    lags = np.arange(max_lag + 1)
    acf_rows, tau_rows = [], []
    for k in r.kinds:
        pid, fidx, pair_ion = _pair_table(r.shell[r.shell["kind"] == k])
        for name, code in regions:
            C, n_used = _shell_acf(pid, fidx, pair_ion, r.regions, code, n_frames, max_lag)
            below = np.flatnonzero(C < np.exp(-1.0))
            tau = int(below[0]) if below.size else np.nan
            n_orig = n_frames * n_ions if code is None else int((r.regions == code).sum())
            tau_rows.append({"region": name, "kind": k, "tau_frames": tau,
                             "tau_ps": tau * dt if np.isfinite(tau) else np.nan,
                             "n_pairs": n_used, "n_origins": n_orig})
            acf_rows.append(pd.DataFrame({"region": name, "kind": k, "lag_frames": lags,
                                          "lag_ps": lags * dt, "C": C}))
    return pd.concat(acf_rows, ignore_index=True), pd.DataFrame(tau_rows)


def _pair_table(sub: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per shell row: its ion-molecule pair id and frame index; per pair: its ion."""
    n_res = int(sub["resindex"].max()) + 1 if len(sub) else 1
    key = sub["ion"].to_numpy() * n_res + sub["resindex"].to_numpy()
    pairs, pid = np.unique(key, return_inverse=True)
    return pid, sub["frame_index"].to_numpy(), pairs // n_res


def _shell_acf(pid: np.ndarray, fidx: np.ndarray, pair_ion: np.ndarray, regions: np.ndarray,
               code: int | None, n_frames: int, max_lag: int) -> tuple[np.ndarray, int]:
    """Continuous-presence correlation C(lag) of ion-molecule pairs whose ion is in region
    ``code`` at the time origin (all origins with None), by FFT in chunks of pairs; and the
    number of pairs used."""
    nfft = 1 << int(np.ceil(np.log2(2 * n_frames)))
    lags = np.arange(max_lag + 1)
    num = np.zeros(max_lag + 1)
    den_origin = np.zeros(max_lag + 1)
    hsum = wsum = 0.0
    n_used = 0
    n_pairs = int(pid.max()) + 1 if len(pid) else 0
    for c0 in range(0, n_pairs, CHUNK):
        c1 = min(c0 + CHUNK, n_pairs)
        sel = (pid >= c0) & (pid < c1)
        h = np.zeros((c1 - c0, n_frames))
        h[pid[sel] - c0, fidx[sel]] = 1.0
        w = np.ones_like(h) if code is None else \
            (regions[:, pair_ion[c0:c1]].T == code).astype(float)
        used = (w * h).any(axis=1)
        if not used.any():
            continue
        h, w = h[used], w[used]
        n_used += int(used.sum())
        fa = np.fft.rfft(w * h, nfft, axis=1)
        fb = np.fft.rfft(h, nfft, axis=1)
        num += np.fft.irfft((np.conj(fa) * fb).sum(axis=0), nfft)[: max_lag + 1]
        cw = np.cumsum(w.sum(axis=0))  # sum_{t < n-k} w(t): reverse cumulative sums
        den_origin += cw[n_frames - 1 - lags]
        hsum += float((w * h).sum())
        wsum += float(w.sum())
    if n_used == 0 or hsum == 0:
        return np.full(max_lag + 1, np.nan), n_used
    with np.errstate(divide="ignore", invalid="ignore"):
        return (num / den_origin) / (hsum / wsum), n_used
