"""Periodic neighbour search between a few centres and many partner atoms, batched over frames.

:func:`pairs_within` is a NumPy cell list specialised for the coordination problem (tens to
hundreds of ions against thousands of partner atoms, many frames at once): partners are
binned into cells of edge >= 2 cutoff (one grid per frame, all frames of a batch in one
array), and each ion is compared only with the partners of the 8 cells that can hold
neighbours (its own and the nearer one along each axis), with
minimum-image distances computed in float64 from the float32 coordinates (as MDAnalysis's
grid search does). Orthorhombic boxes only; other boxes (triclinic, or none) fall back to
:func:`MDAnalysis.lib.distances.capped_distance` frame by frame, which is also the reference
the tests compare against.
"""

from __future__ import annotations

import numpy as np
from MDAnalysis.lib.distances import apply_PBC, capped_distance


def _orthorhombic(boxes: np.ndarray | None) -> bool:
    return (
        boxes is not None
        and bool(np.all(boxes[:, :3] > 0))
        and bool(np.allclose(boxes[:, 3:], 90.0))
    )


def wrap_like_mdanalysis(x: np.ndarray, box32: np.ndarray) -> np.ndarray:
    """Float32 wrapping into ``[0, L)`` with the arithmetic of MDAnalysis's ``_ortho_pbc``.

    The common single-box shift is done in NumPy (same float32 operations in the same
    order); frames with atoms more than one box away go through MDAnalysis's ``apply_PBC``.
    """
    L = np.broadcast_to(box32[:, None, :3], x.shape)
    outside = (x < 0) | (x >= L)
    if not outside.any():
        return x
    idx = np.nonzero(outside)
    crd, Lk = x[idx], L[idx]
    neg = crd < 0
    crd_n = np.where(neg, crd + Lk, crd)  # float32, as in C
    up = crd_n >= Lk
    val = np.where(up, crd_n - Lk, crd_n)
    bad = (neg & (crd_n < 0)) | (up & (crd_n - Lk >= Lk))
    out = x.copy()
    out[idx] = val
    if bad.any():
        for f in np.unique(idx[0][bad]):
            out[f] = apply_PBC(x[f], box32[f])
    return out


def use_cell_list(n: int, m: int, cutoff: float, boxes: np.ndarray | None) -> bool:
    """Whether :func:`pairs_within` would use its cell list (else MDAnalysis directly).

    Mirrors :func:`MDAnalysis.lib.distances.capped_distance`'s own choice: it uses its grid
    search for orthorhombic boxes with at least 10 points on each side and a cutoff below
    0.3 of the shortest box edge; the cell list reproduces that grid search's arithmetic.
    """
    return (
        n >= 10
        and m >= 10
        and boxes is not None
        and _orthorhombic(boxes)
        and bool(cutoff <= 0.3 * float(np.min(boxes[:, :3])))
    )


def pairs_within(a: np.ndarray, b: np.ndarray, cutoff: float, boxes: np.ndarray | None = None):
    """All (frame, i, j) with minimum-image ``|b[f, j] - a[f, i]| <= cutoff``.

    Parameters
    ----------
    a : ndarray of float32, shape (n_frames, n, 3)
        Centre positions (Å).
    b : ndarray of float32, shape (n_frames, m, 3)
        Partner positions (Å).
    cutoff : float
        Å.
    boxes : ndarray, shape (n_frames, 6), optional
        MDAnalysis dimensions per frame; ``None`` means no periodicity.

    Returns
    -------
    f, i, j : ndarray of int, shape (k,)
        Frame (index into the batch), centre and partner indices, in no particular order.
    d2 : ndarray of float64, shape (k,)
        Squared distances (Å²), computed as MDAnalysis's grid search computes them (float32
        coordinates wrapped into the box, float64 differences, lazy minimum image), so that
        ``d2 <= c**2`` selects exactly the pairs ``capped_distance`` returns for cutoff c.
    """
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    nf, n, m = a.shape[0], a.shape[1], b.shape[1]
    if not use_cell_list(n, m, cutoff, boxes):
        return _pairs_capped_distance(a, b, cutoff, boxes)
    box32 = np.asarray(boxes, dtype=np.float32)
    aw = wrap_like_mdanalysis(a, box32)
    bw = wrap_like_mdanalysis(b, box32)
    L = box32[:, :3].astype(np.float64)  # (F, 3)
    nc, half_scheme = _grid(L, m, cutoff)
    inv = (nc / L)[:, None, :]  # cells per Å, (F, 1, 3)
    order, counts, starts = _bin_partners(bw, nc, inv)
    ids, per_centre = _candidate_cells(aw, nc, inv, half_scheme)
    cnt = counts[ids]
    total = int(cnt.sum())
    if total == 0:
        e = np.empty(0, np.int64)
        return e, e, e, np.empty(0)
    # position of every candidate in the frame-major sorted partner list, and its centre
    pos = np.repeat(starts[ids] - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)
    ic = np.repeat(np.repeat(np.arange(nf * n), per_centre), cnt)  # flattened (frame, centre)
    fi = pos // m
    jj = order.ravel()[pos]
    ii = ic - fi * n
    d2 = _min_image_d2(aw, bw, box32, ic, fi * m + jj, fi)
    keep = d2 <= cutoff * cutoff
    return fi[keep], ii[keep], jj[keep], d2[keep]


def _pairs_capped_distance(a: np.ndarray, b: np.ndarray, cutoff: float,
                           boxes: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """Frame by frame through MDAnalysis (non-orthorhombic boxes, tiny systems)."""
    out: list[list[np.ndarray]] = [[], [], [], []]
    for f in range(a.shape[0]):
        box = None if boxes is None else boxes[f]
        p, r = capped_distance(a[f], b[f], cutoff, box=box, return_distances=True)
        out[0].append(np.full(len(p), f, np.int64))
        out[1].append(p[:, 0].astype(np.int64))
        out[2].append(p[:, 1].astype(np.int64))
        out[3].append(np.asarray(r, np.float64) ** 2)
    return tuple(np.concatenate(x) for x in out)


def _grid(L: np.ndarray, m: int, cutoff: float) -> tuple[np.ndarray, bool]:
    """Cells per axis and the scheme. Two schemes: cells of edge >= 2 cutoff, where a centre
    needs only 2 cells per axis (its own and the nearer neighbour, 8 in all) -- best for
    dilute partners; or cells of edge >= cutoff with all 27 neighbours -- fewer candidate
    pairs in dense liquids. A 1e-4 relative margin on the edge covers float32 rounding in
    the cell assignment. Cell ids must fit in uint16 (NumPy radix sort)."""
    rho = m / float(np.prod(L.min(axis=0)))
    half_scheme = rho * cutoff**3 < 0.1
    edge = (2.0 if half_scheme else 1.0) * cutoff * (1.0 + 1e-4)
    nc = np.maximum(np.floor(L.min(axis=0) / edge).astype(np.int64), 1)
    limit = min(max(2 * m, 27), 65535)
    while nc.prod() > limit:
        nc = np.maximum(nc - (nc == nc.max()), 1)
    return nc, bool(half_scheme)


def _bin_partners(bw: np.ndarray, nc: np.ndarray, inv: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partners sorted by cell frame by frame: (order, counts, starts) over frame x cell."""
    nf = bw.shape[0]
    ncell = int(nc.prod())
    cb = np.minimum((bw * inv.astype(np.float32)).astype(np.int32), nc.astype(np.int32) - 1)
    idb = ((cb[..., 0] * int(nc[1]) + cb[..., 1]) * int(nc[2]) + cb[..., 2]).astype(np.uint16)
    order = np.argsort(idb, axis=1, kind="stable")  # radix sort, frame by frame
    frame_off = (ncell * np.arange(nf, dtype=np.int64))[:, None]
    counts = np.bincount((idb + frame_off).ravel(), minlength=ncell * nf)
    return order, counts, np.cumsum(counts) - counts


def _candidate_cells(aw: np.ndarray, nc: np.ndarray, inv: np.ndarray,
                     half_scheme: bool) -> tuple[np.ndarray, int]:
    """Flattened (frame x cell) ids of the cells every centre must search, and how many
    cells each centre has."""
    nf, n = aw.shape[0], aw.shape[1]
    u = aw.astype(np.float64) * inv
    c0 = np.minimum(np.floor(u).astype(np.int64), nc - 1)
    side = np.where(u - c0 < 0.5, -1, 1)
    cand = []
    for k in range(3):
        ck = c0[..., k]
        if nc[k] == 1:
            cand.append(np.zeros((nf, n, 1), np.int64))
        elif nc[k] == 2:
            cand.append(np.stack([ck, 1 - ck], axis=-1))
        elif half_scheme:
            cand.append(np.stack([ck, (ck + side[..., k]) % nc[k]], axis=-1))
        else:
            cand.append(np.stack([(ck - 1) % nc[k], ck, (ck + 1) % nc[k]], axis=-1))
    ids = ((cand[0][..., :, None, None] * nc[1] + cand[1][..., None, :, None]) * nc[2]
           + cand[2][..., None, None, :])  # (F, n, sx, sy, sz)
    per_centre = ids.shape[2] * ids.shape[3] * ids.shape[4]
    frame_off = (int(nc.prod()) * np.arange(nf, dtype=np.int64))[:, None]
    return (ids + frame_off[:, :, None, None, None]).ravel(), per_centre


def _min_image_d2(aw: np.ndarray, bw: np.ndarray, box32: np.ndarray, ia: np.ndarray,
                  ib: np.ndarray, fi: np.ndarray) -> np.ndarray:
    """Squared distances (Å²) with MDAnalysis nsgrid arithmetic: double differences, lazy
    minimum image with the float32 box."""
    L = box32[:, :3].astype(np.float64)
    d = np.take(aw.reshape(-1, 3), ia, axis=0).astype(np.float64)
    d -= np.take(bw.reshape(-1, 3), ib, axis=0)
    half = (box32[:, :3] * np.float32(0.5)).astype(np.float64)
    if np.all(box32 == box32[0]):  # constant box (NVT): broadcast instead of gathering
        Lp, half = L[0], half[0]
    else:
        Lp, half = np.take(L, fi, axis=0), np.take(half, fi, axis=0)
    Lp = np.broadcast_to(Lp, d.shape)
    np.subtract(d, Lp, out=d, where=d > half)
    np.add(d, Lp, out=d, where=d <= -half)
    return d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]
