"""First-shell coordination of cations, per ion and per frame, resolved by region.

:class:`Coordination` follows MDAnalysis's ``AnalysisBase`` pattern: inputs are validated in
``__init__`` and ``run()`` returns the object with its ``results``. Frames are not visited one
by one: the ion and partner positions are read in blocks of frames (one ``readframes`` call
per block for a DCD, see :func:`~.io.read_frame_blocks`), searched for contacts a few dozen
frames at a time (:func:`~.neighbors.pairs_by_centre`, exact ``capped_distance`` arithmetic)
and counted with NumPy (``bincount`` over frame x ion x kind keys), so memory stays bounded
(``batch_size`` frames) however long the trajectory.

Definitions (identical to solvation_analysis for the molecule counts):

* a partner atom coordinates an ion when their minimum-image distance is ``<=`` the cutoff of
  its kind (atoms of the ion's own residue are ignored);
* ``counts`` — coordinating *atoms* per kind (Na–O coordination number for a solvent);
* ``n_molecules`` — distinct residues per kind having at least one coordinating atom
  (this is solvation_analysis's coordination number when its solvent groups are the same
  coordinating atoms);
* ``denticity`` — molecules per kind binding through 1, 2, 3 and >= 4 atoms (a bidentate
  DME has 2).
"""

from __future__ import annotations

from collections.abc import Mapping

import MDAnalysis as mda
import numpy as np
import pandas as pd
from MDAnalysis.analysis.base import AnalysisBase
from MDAnalysis.lib.log import ProgressBar

from predesolv.errors import AnalysisError

from .geometry import Geometry
from .io import read_frame_blocks
from .neighbors import pairs_by_centre, use_cell_list
from .rdf import compute_rdfs, cutoffs_from_rdfs
from .units import angstrom_to_nm, nm_to_angstrom

MAX_DENTICITY = 4
MAX_BLOCK_BYTES = 256 * 2**20  # positions held at once, at most
# centre x cell entries per neighbour-search call: a few MB of temporaries per call, small
# enough that the heap need not grow and shrink (page faults) around every call
SEARCH_CELLS = 2**16


class Coordination(AnalysisBase):
    """Per-ion, per-frame first-shell composition.

    Parameters
    ----------
    ions : AtomGroup
        Centre atoms (usually all Na⁺), ``n_ions`` atoms.
    partners : dict of str to AtomGroup
        Kind label (``"DME"``, ``"PF6"``) to coordinating atoms (solvent O, anion F/O).
        Each atom may appear in one kind only.
    cutoffs_nm : dict of str to float, optional
        First-shell cutoff per kind in nm. Kinds left out get the first minimum of their
        RDF, computed over the same frames in ``run()`` (stored in ``results.rdf``).
    geometry : Geometry, optional
        Regions and insertion axis; default: everything is ``"bulk"``.
    dt_ps : float, optional
        Time between *stored* trajectory frames (ps); times are then ``frame * dt_ps``.
        Default: the times in the trajectory.
    batch_size : int
        Frames read and held together (memory ~ batch_size x (ions + partner atoms) x 12 B,
        capped at 256 MiB); they are searched in smaller groups sized for the CPU cache.
    **kwargs
        Passed to ``AnalysisBase`` (``verbose``).

    Attributes
    ----------
    results.kinds : list of str
        Kind order of the last array axis.
    results.cutoffs_nm : dict of str to float
        Cutoffs used (given or from the RDF minimum).
    results.rdf : pandas.DataFrame or None
        RDFs used to find automatic cutoffs (see :func:`~.rdf.compute_rdfs`).
    results.frames : ndarray of int, shape (n_frames,)
    results.times_ps : ndarray of float, shape (n_frames,)
    results.counts : ndarray of int, shape (n_frames, n_ions, n_kinds)
        Coordinating atoms.
    results.n_molecules : ndarray of int, shape (n_frames, n_ions, n_kinds)
        Distinct coordinating molecules.
    results.denticity : ndarray of int, shape (n_frames, n_ions, n_kinds, 4)
        Molecules binding through 1, 2, 3, >= 4 atoms.
    results.positions : ndarray of float, shape (n_frames, n_ions, 3)
        Ion positions in Å as read (not wrapped).
    results.regions : ndarray of int, shape (n_frames, n_ions)
        Codes into ``results.region_names``.
    results.insertion_nm : ndarray of float, shape (n_frames, n_ions)
        Distance from the mouth along the insertion axis (nm, positive inside; NaN without
        an insertion axis).
    results.shell : pandas.DataFrame
        One row per (frame, ion, coordinating molecule): ``frame``, ``ion``, ``kind``,
        ``resindex`` (0-based residue index), ``n_atoms`` (denticity), ``distance_nm``
        (closest coordinating atom).
    """

    def __init__(
        self,
        ions: mda.AtomGroup,
        partners: Mapping[str, mda.AtomGroup],
        cutoffs_nm: Mapping[str, float] | None = None,
        geometry: Geometry | None = None,
        dt_ps: float | None = None,
        batch_size: int = 256,
        **kwargs,
    ):
        if not isinstance(ions, mda.AtomGroup) or ions.n_atoms == 0:
            raise AnalysisError("Coordination: the ion selection is empty")
        if not partners:
            raise AnalysisError("Coordination: no partner kinds given")
        self.kinds = list(partners)
        for k, ag in partners.items():
            if not isinstance(ag, mda.AtomGroup) or ag.n_atoms == 0:
                raise AnalysisError(f"Coordination: partner selection {k!r} is empty")
            if ag.universe is not ions.universe:
                raise AnalysisError(f"Coordination: partner {k!r} is from another Universe")
        allp = sum((partners[k] for k in self.kinds[1:]), partners[self.kinds[0]])
        if len(np.unique(allp.ix)) != allp.n_atoms:
            raise AnalysisError("Coordination: an atom appears in two partner kinds or twice")
        self.cutoffs_nm = {}
        for k, v in dict(cutoffs_nm or {}).items():
            if k not in partners:
                raise AnalysisError(f"Coordination: cutoff for unknown kind {k!r}")
            if not (np.isfinite(v) and v > 0):
                raise AnalysisError(f"Coordination: cutoff for {k!r} must be > 0 nm, got {v}")
            self.cutoffs_nm[k] = float(v)
        super().__init__(ions.universe.trajectory, **kwargs)
        self.ions = ions
        self.partners = dict(partners)
        self._all = allp
        self._kind_of = np.concatenate(
            [np.full(partners[k].n_atoms, i, dtype=np.intp) for i, k in enumerate(self.kinds)]
        )
        self._res_of = allp.resindices.astype(np.intp)
        self._ion_res = ions.resindices.astype(np.intp)
        self._ion_ix = ions.ix
        self._all_ix = allp.ix
        self._n_res = len(ions.universe.residues)
        self.geometry = geometry if geometry is not None else Geometry()
        self._dt_ps = dt_ps
        if int(batch_size) < 1:
            raise AnalysisError(f"Coordination: batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        offs = np.cumsum([0] + [partners[k].n_atoms for k in self.kinds])
        self._sel = [np.arange(offs[j], offs[j + 1]) for j in range(len(self.kinds))]
        self._read = ions + allp  # read together: ions first
        # residues holding atoms of two kinds: the closest atom decides (slower sort)
        res_kind = np.unique(self._res_of * len(self.kinds) + self._kind_of)  # sorted pairs
        kinds_per_res = res_kind // len(self.kinds)
        self._mixed_res = bool(np.any(kinds_per_res[1:] == kinds_per_res[:-1]))
        # partner atoms in an ion's own residue: only then is the exclusion test needed
        self._shares_res = bool(np.isin(self._res_of, self._ion_res).any())

    # -- AnalysisBase hooks -------------------------------------------------------------
    def _prepare(self):
        missing = [k for k in self.kinds if k not in self.cutoffs_nm]
        self.results.rdf = None
        if missing:
            rdf = compute_rdfs(
                self.ions,
                {k: self.partners[k] for k in missing},
                start=self.start,
                stop=self.stop,
                step=self.step,
            )
            self.cutoffs_nm.update(cutoffs_from_rdfs(rdf))
            self.results.rdf = rdf
        # rounded to 1e-10 Å so that e.g. 0.3 nm is exactly 3.0 Å (10 * 0.3 is 3.0000000000000004)
        self._cut_A = np.array([round(nm_to_angstrom(self.cutoffs_nm[k]), 10) for k in self.kinds])
        self._cut2 = self._cut_A ** 2
        nf, ni, nk = self.n_frames, self.ions.n_atoms, len(self.kinds)
        self._counts = np.zeros((nf, ni, nk), dtype=np.int32)
        self._nmol = np.zeros((nf, ni, nk), dtype=np.int32)
        self._dent = np.zeros((nf, ni, nk, MAX_DENTICITY), dtype=np.int32)
        self._pos = np.zeros((nf, ni, 3), dtype=np.float32)
        self._boxes = np.zeros((nf, 6), dtype=np.float64)
        self._has_box = np.ones(nf, dtype=bool)
        self._frames = np.zeros(nf, dtype=np.int64)
        self._times = np.zeros(nf)
        self._shell_rows: list[tuple[np.ndarray, ...]] = []

    def _compute(self, indexed_frames: np.ndarray, verbose: bool | None = None, *,
                 progressbar_kwargs: dict | None = None) -> Coordination:
        """Read, search and count all frames, block by block (replaces the per-frame loop).

        Parameters
        ----------
        indexed_frames : ndarray of int, shape (n_frames, 2)
            Result index and trajectory frame number of every analysed frame.
        verbose : bool, optional
            Progress bar.
        progressbar_kwargs : dict, optional
            Passed to :class:`MDAnalysis.lib.log.ProgressBar`.
        """
        frames = np.asarray(indexed_frames)[:, 1]
        # what _prepare_sliced_trajectory sets, without its (unused) per-frame iterator
        self.n_frames = len(frames)
        self.frames = np.zeros(self.n_frames, dtype=int)
        self.times = np.zeros(self.n_frames)
        self._prepare()
        if len(frames) == 0:
            return self
        verbose = getattr(self, "_verbose", False) if verbose is None else verbose
        ni = self.ions.n_atoms
        block = max(1, min(self.batch_size, MAX_BLOCK_BYTES // (12 * self._read.n_atoms)))
        step = max(1, min(block, SEARCH_CELLS // (27 * ni)))
        i0 = 0
        with ProgressBar(total=len(frames), verbose=verbose, **(progressbar_kwargs or {})) as bar:
            for blk in read_frame_blocks(self._read, frames, block):
                nb = len(blk.frames)
                sl = slice(i0, i0 + nb)
                self.frames[sl] = self._frames[sl] = blk.frames
                self.times[sl] = self._times[sl] = blk.times
                self._pos[sl] = blk.positions[:, :ni]
                self._boxes[sl] = blk.boxes
                self._has_box[sl] = blk.has_box
                for s in range(0, nb, step):
                    n = min(step, nb - s)
                    self._count(i0 + s, blk.positions[s:s + n, :ni], blk.positions[s:s + n, ni:])
                i0 += nb
                bar.update(nb)
        return self

    def _count(self, s0: int, pos: np.ndarray, part: np.ndarray):
        """Contacts and bookkeeping of analysed frames ``s0 .. s0 + len(pos)``, vectorised.

        ``pos``: ion positions (F, n_ions, 3), ``part``: partner positions (F, n_partners, 3),
        Å."""
        nb = len(pos)
        sl = slice(s0, s0 + nb)
        boxes = self._boxes[sl] if self._has_box[sl].all() else None
        ni, nk = self.ions.n_atoms, len(self.kinds)
        slot, atom, d2, cut_done = self._contacts(pos, part, boxes)
        kind = np.take(self._kind_of, atom)
        res = np.take(self._res_of, atom)
        if not cut_done or self._shares_res:
            ok = d2 <= np.take(self._cut2, kind)
            if self._shares_res:
                ok &= res != np.take(self._ion_res, slot % ni)
            keep = np.flatnonzero(ok)
            slot, kind, res, d2 = (np.take(x, keep) for x in (slot, kind, res, d2))
        size = nb * ni * nk
        self._counts[sl] = np.bincount(slot * nk + kind, minlength=size).reshape(nb, ni, nk)
        if slot.size == 0:
            return
        m_slot, m_res, m_kind, cnt, dmin = self._molecules(slot, kind, res, d2)
        mslot = m_slot * nk + m_kind
        self._nmol[sl] = np.bincount(mslot, minlength=size).reshape(nb, ni, nk)
        dcode = mslot * MAX_DENTICITY + np.minimum(cnt, MAX_DENTICITY) - 1
        self._dent[sl] = np.bincount(dcode, minlength=size * MAX_DENTICITY).reshape(
            nb, ni, nk, MAX_DENTICITY
        )
        # rows come out sorted by (frame, ion, residue): no sort needed when concluding
        self._shell_rows.append((s0 + m_slot // ni, m_slot % ni, m_kind, m_res, cnt, dmin))

    def _molecules(self, slot: np.ndarray, kind: np.ndarray, res: np.ndarray, d2: np.ndarray
                   ) -> tuple[np.ndarray, ...]:
        """Coordinating molecules from coordinating atoms.

        Parameters
        ----------
        slot, kind, res : ndarray of int, shape (k,)
            Frame x ion slot (non-decreasing), kind and residue index of every contact.
        d2 : ndarray of float64, shape (k,)
            Squared distances (Å²).

        Returns
        -------
        m_slot, m_res, m_kind, cnt : ndarray of int, shape (u,)
            Slot, residue, kind and number of coordinating atoms of every (slot, residue),
            sorted by (slot, residue).
        dmin : ndarray of float64, shape (u,)
            Closest coordinating atom (Å).
        """
        key = slot * self._n_res + res
        if self._mixed_res:  # the closest atom decides the kind: sort by distance too
            d = np.sqrt(d2)
            order = np.lexsort((d, key))
        else:
            order = np.argsort(key, kind="stable")
        key = np.take(key, order)
        first = np.flatnonzero(key[1:] != key[:-1])
        first += 1
        first = np.concatenate((np.zeros(1, first.dtype), first))
        cnt = np.diff(first, append=key.size)
        uniq = np.take(key, first)
        m_slot = uniq // self._n_res
        m_res = uniq - m_slot * self._n_res
        m_kind = np.take(kind, np.take(order, first))
        if self._mixed_res:
            dmin = np.take(np.take(d, order), first)
        else:  # sqrt is monotone: the root of the smallest d² is the smallest distance
            dmin = np.sqrt(np.minimum.reduceat(np.take(d2, order), first))
        return m_slot, m_res, m_kind, cnt, dmin

    def _contacts(self, pos: np.ndarray, part: np.ndarray, boxes: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """(frame x ion slot, partner atom, d² in Å², whether the per-kind cutoffs are already
        applied) of every pair within the largest cutoff, sorted by slot.

        Kinds MDAnalysis would search with its grid go through one combined cell-list call
        (max cutoff, then the per-kind d² filter: same arithmetic, so exact; not needed when
        these kinds share one cutoff and no other kind is searched); the rest directly."""
        ni, nk = self.ions.n_atoms, len(self.kinds)
        grid = [j for j, sel in enumerate(self._sel)
                if use_cell_list(ni, len(sel), self._cut_A[j], boxes)]
        calls = [(self._sel[j], self._cut_A[j]) for j in range(nk) if j not in grid]
        cut_done = not calls and len({self._cut_A[j] for j in grid}) == 1
        if grid:
            sel = np.concatenate([self._sel[j] for j in grid])
            calls.append((sel, max(self._cut_A[j] for j in grid)))
        out = []
        for sel, cut in calls:
            if len(sel) == self._all.n_atoms:  # every kind: sel is arange(n_partners)
                out.append(pairs_by_centre(pos, part, cut, boxes))
                continue
            slot, j, d2 = pairs_by_centre(pos, part[:, sel], cut, boxes)
            out.append((slot, np.take(sel, j), d2))
        if len(out) == 1:
            return (*out[0], cut_done)
        slot, atom, d2 = (np.concatenate(x) for x in zip(*out, strict=True))
        order = np.argsort(slot, kind="stable")
        return slot[order], atom[order], d2[order], cut_done

    def _conclude(self):
        r = self.results
        r.kinds = list(self.kinds)
        r.cutoffs_nm = dict(self.cutoffs_nm)
        r.region_names = self.geometry.region_names
        r.frames = self._frames
        if self._dt_ps is not None:
            r.times_ps = self._frames * float(self._dt_ps)
        else:
            r.times_ps = self._times
        r.counts, r.n_molecules, r.denticity = self._counts, self._nmol, self._dent
        nf, ni = self._pos.shape[:2]
        if self._has_box.all() and nf:
            flat = Geometry.wrap(self._pos, self._boxes[:, None, :]).reshape(-1, 3)
        else:
            flat = self._pos.reshape(-1, 3).astype(np.float64)
        r.positions = self._pos
        r.regions = self.geometry.assign(flat).reshape(nf, ni)
        r.insertion_nm = self.geometry.insertion_coordinate(flat).reshape(nf, ni)
        cols = [np.concatenate(c) for c in zip(*self._shell_rows, strict=True)] \
            if self._shell_rows else [np.empty(0, np.int64)] * 5 + [np.empty(0)]
        fidx, ion, kind, res, n_atoms = (c.astype(np.int64, copy=False) for c in cols[:5])
        r.shell = pd.DataFrame(
            {
                "frame": self._frames[fidx],
                "frame_index": fidx,
                "ion": ion,
                "kind": pd.Categorical.from_codes(kind, self.kinds),
                "resindex": res,
                "n_atoms": n_atoms,
                "distance_nm": angstrom_to_nm(cols[5]),
            },
            copy=False,  # fresh arrays: no need for pandas to copy them into one block
        )

    # -- convenience tables -------------------------------------------------------------
    @property
    def dt_ps(self) -> float:
        """Time between analysed frames (ps)."""
        t = self.results.times_ps
        return float(t[1] - t[0]) if len(t) > 1 else float(self._dt_ps or 1.0)

    def per_frame(self) -> pd.DataFrame:
        """Long table, one row per (frame, ion).

        Columns: ``frame``, ``time_ps``, ``ion`` (index in the ion group), ``atom_index``
        (0-based topology index), ``region``, ``insertion_nm``, ``x_nm``, ``y_nm``, ``z_nm``
        and for each kind ``cn_<kind>`` (atoms), ``nmol_<kind>`` (molecules),
        ``nbidentate_<kind>`` (molecules binding through >= 2 atoms).
        """
        r = self.results
        nf, ni = r.regions.shape
        pos_nm = angstrom_to_nm(r.positions.reshape(-1, 3))
        data = {
            "frame": np.repeat(r.frames, ni),
            "time_ps": np.repeat(r.times_ps, ni),
            "ion": np.tile(np.arange(ni), nf),
            "atom_index": np.tile(self.ions.ix, nf),
            "region": np.asarray(r.region_names, dtype=object)[r.regions.ravel()],
            "insertion_nm": r.insertion_nm.ravel(),
            "x_nm": pos_nm[:, 0],
            "y_nm": pos_nm[:, 1],
            "z_nm": pos_nm[:, 2],
        }
        for j, k in enumerate(r.kinds):
            data[f"cn_{k}"] = r.counts[:, :, j].ravel()
            data[f"nmol_{k}"] = r.n_molecules[:, :, j].ravel()
            data[f"nbidentate_{k}"] = r.denticity[:, :, j, 1:].sum(axis=-1).ravel()
        return pd.DataFrame(data)
