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
        and bool(np.all(np.abs(boxes[:, 3:] - 90.0) <= 1e-8 + 1e-5 * 90.0))  # np.allclose
    )


def wrap_like_mdanalysis(x: np.ndarray, box32: np.ndarray) -> np.ndarray:
    """Float32 wrapping into ``[0, L)`` with the arithmetic of MDAnalysis's ``_ortho_pbc``.

    The common single-box shift is done in NumPy (same float32 operations in the same
    order, on the atoms outside the box only); frames with atoms more than one box away go
    through MDAnalysis's ``apply_PBC``.

    Parameters
    ----------
    x : ndarray of float32, shape (n_frames, n, 3)
        Positions (Å).
    box32 : ndarray of float32, shape (n_frames, 6)
        Orthorhombic MDAnalysis dimensions.

    Returns
    -------
    ndarray of float32, shape (n_frames, n, 3)
        Wrapped positions.
    """
    x = np.asarray(x, dtype=np.float32)
    return np.ascontiguousarray(_wrap_axes(x, np.asarray(box32, np.float32)).transpose(1, 2, 0))


def _wrap_axes(x: np.ndarray, box32: np.ndarray) -> np.ndarray:
    """:func:`wrap_like_mdanalysis` of (F, n, 3) positions, returned axis-major (3, F, n)."""
    out = np.ascontiguousarray(x.transpose(2, 0, 1))
    bad: set[int] = set()
    for k in range(3):
        xk, Lk = out[k], box32[:, k, None]
        outside = (xk < 0) | (xk >= Lk)
        if not outside.any():
            continue
        f, i = np.nonzero(outside)
        crd, L = xk[f, i], box32[f, k]
        neg = crd < 0
        crd_n = np.where(neg, crd + L, crd)  # float32, as in C
        up = crd_n >= L
        xk[f, i] = np.where(up, crd_n - L, crd_n)
        bad.update(np.unique(f[(neg & (crd_n < 0)) | (up & (crd_n - L >= L))]).tolist())
    for frame in sorted(bad):
        out[:, frame] = apply_PBC(x[frame], box32[frame]).T
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
    if not use_cell_list(a.shape[1], b.shape[1], cutoff, boxes):
        return _pairs_capped_distance(a, b, cutoff, boxes)
    slot, j, d2 = _cell_list(a, b, cutoff, np.asarray(boxes))
    f = slot // a.shape[1]
    return f, slot - f * a.shape[1], j, d2


def pairs_by_centre(a: np.ndarray, b: np.ndarray, cutoff: float,
                    boxes: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of :func:`pairs_within`, grouped by (frame, centre).

    Parameters
    ----------
    a, b, cutoff, boxes
        As for :func:`pairs_within` (Å; shapes (n_frames, n, 3) and (n_frames, m, 3)).

    Returns
    -------
    slot : ndarray of int64, shape (k,)
        ``frame * n + i``, non-decreasing.
    j : ndarray of int64, shape (k,)
        Partner index.
    d2 : ndarray of float64, shape (k,)
        Squared distances (Å²), the arithmetic of :func:`pairs_within`.
    """
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    n = a.shape[1]
    if use_cell_list(n, b.shape[1], cutoff, boxes):
        return _cell_list(a, b, cutoff, np.asarray(boxes))
    f, i, j, d2 = _pairs_capped_distance(a, b, cutoff, boxes)
    slot = f * n + i
    order = np.argsort(slot, kind="stable")
    return slot[order], j[order], d2[order]


def _cell_list(a: np.ndarray, b: np.ndarray, cutoff: float, boxes: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(slot, j, d2) of :func:`pairs_by_centre` through the cell list.

    Coordinates are handled axis by axis ((3, F, n) arrays: NumPy is slow on a trailing
    axis of 3). Every centre gathers the cells it must search; candidates are laid out
    centre by centre, so the output needs no sort."""
    nf, n, m = a.shape[0], a.shape[1], b.shape[1]
    box32 = boxes.astype(np.float32)
    ac = _wrap_axes(a, box32)
    bc = _wrap_axes(b, box32)
    L = box32[:, :3].astype(np.float64)  # (F, 3)
    nc, half_scheme = _grid(L, m, cutoff)
    inv = (nc / L).T[:, :, None]  # cells per Å, (3, F, 1)
    order, counts, starts = _bin_partners(bc, nc, inv)
    ids, per_centre = _candidate_cells(ac, nc, inv, half_scheme)
    cnt = counts[ids]
    per_slot = cnt.reshape(-1, per_centre).sum(axis=1)
    total = int(per_slot.sum())
    if total == 0:
        e = np.empty(0, np.int64)
        return e, e, np.empty(0)
    # position of every candidate in the frame-major, cell-sorted partner list
    csum = np.cumsum(cnt)
    pos = np.repeat(starts[ids] - csum + cnt, cnt)
    pos += np.arange(total)
    slot = np.repeat(np.arange(nf * n, dtype=np.int64), per_slot)
    jg = np.take(order, pos)  # partner, as a flat (frame x partner) index
    d2 = _min_image_d2(ac.reshape(3, -1).astype(np.float64),
                       bc.reshape(3, -1).astype(np.float64), box32, slot, jg, n)
    keep = np.flatnonzero(d2 <= cutoff * cutoff)
    jg = np.take(jg, keep)
    return np.take(slot, keep), jg % m, np.take(d2, keep)


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


def _bin_partners(bc: np.ndarray, nc: np.ndarray, inv: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partners sorted by cell frame by frame, from axis-major wrapped positions (3, F, m):
    (order: flat indices into (F*m) in frame-major cell order, counts, starts over
    frame x cell)."""
    nf, m = bc.shape[1], bc.shape[2]
    ncell = int(nc.prod())
    idb = np.zeros((nf, m), np.int32)
    for k in range(3):
        ck = np.minimum((bc[k] * inv[k].astype(np.float32)).astype(np.int32), int(nc[k]) - 1)
        idb *= int(nc[k])
        idb += ck
    order = np.argsort(idb.astype(np.uint16), axis=1, kind="stable")  # radix sort per frame
    order += (m * np.arange(nf, dtype=np.int64))[:, None]
    key = idb + (ncell * np.arange(nf, dtype=np.int64))[:, None]
    counts = np.bincount(key.ravel(), minlength=ncell * nf)
    return order.ravel(), counts, np.cumsum(counts) - counts


def _candidate_cells(ac: np.ndarray, nc: np.ndarray, inv: np.ndarray,
                     half_scheme: bool) -> tuple[np.ndarray, int]:
    """Flattened (frame x cell) ids of the cells every centre must search, centre by
    centre, and how many cells each centre has. ``ac``: wrapped centres, (3, F, n)."""
    nf, n = ac.shape[1], ac.shape[2]
    cand = []
    for k in range(3):
        u = ac[k].astype(np.float64) * inv[k]
        ck = np.minimum(np.floor(u).astype(np.int64), nc[k] - 1).ravel()
        if nc[k] == 1:
            cand.append(np.zeros((1, nf * n), np.int64))
        elif nc[k] == 2:
            cand.append(np.stack([ck, 1 - ck]))
        elif half_scheme:
            side = np.where(u.ravel() - ck < 0.5, -1, 1)
            cand.append(np.stack([ck, (ck + side) % nc[k]]))
        else:
            cand.append(np.stack([(ck - 1) % nc[k], ck, (ck + 1) % nc[k]]))
    ids = ((cand[0][:, None, None] * nc[1] + cand[1][None, :, None]) * nc[2]
           + cand[2][None, None, :])  # (sx, sy, sz, F*n)
    per_centre = ids.shape[0] * ids.shape[1] * ids.shape[2]
    ids += np.repeat(int(nc.prod()) * np.arange(nf, dtype=np.int64), n)
    return np.ascontiguousarray(ids.reshape(per_centre, -1).T).ravel(), per_centre


def _min_image_d2(ac: np.ndarray, bc: np.ndarray, box32: np.ndarray, ia: np.ndarray,
                  ib: np.ndarray, n: int) -> np.ndarray:
    """Squared distances (Å²) with MDAnalysis nsgrid arithmetic: double differences ``a - b``,
    lazy minimum image with the float32 box, ``(dx² + dy²) + dz²``.

    ``ac`` (3, F*n) and ``bc`` (3, F*m) are per-axis float64 coordinates; ``ia`` and ``ib``
    index them; ``n`` centres per frame gives the frame of ``ia``."""
    L = box32[:, :3].astype(np.float64)
    half = (box32[:, :3] * np.float32(0.5)).astype(np.float64)
    const = bool(np.all(box32 == box32[0]))  # NVT: one box for all frames, no gather
    fi = None if const else ia // n
    d2 = np.zeros(len(ia))
    for k in range(3):
        d = np.take(ac[k], ia)
        d -= np.take(bc[k], ib)
        Lk, hk = (L[0, k], half[0, k]) if const else (L[fi, k], half[fi, k])
        np.subtract(d, Lk, out=d, where=d > hk)
        np.add(d, Lk, out=d, where=d <= -hk)
        d *= d
        d2 += d
    return d2
