"""First-shell coordination of cations, per ion and per frame, resolved by region.

:class:`Coordination` follows MDAnalysis's ``AnalysisBase`` pattern: inputs are validated in
``__init__``, each frame is processed by ``_single_frame`` with one periodic neighbour search
(:func:`MDAnalysis.lib.distances.capped_distance`) covering every partner kind, everything
else is vectorised NumPy, and ``run()`` returns the object with its ``results``.

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

from predesolv.errors import AnalysisError

from .geometry import Geometry
from .neighbors import pairs_within, use_cell_list
from .rdf import compute_rdfs, cutoffs_from_rdfs
from .units import angstrom_to_nm, nm_to_angstrom

MAX_DENTICITY = 4


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
        Frames buffered and searched together (memory ~ batch_size x partner atoms x 12 B).
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
        nf, ni, nk = self.n_frames, self.ions.n_atoms, len(self.kinds)
        self._counts = np.zeros((nf, ni, nk), dtype=np.int32)
        self._nmol = np.zeros((nf, ni, nk), dtype=np.int32)
        self._dent = np.zeros((nf, ni, nk, MAX_DENTICITY), dtype=np.int32)
        self._pos = np.zeros((nf, ni, 3), dtype=np.float32)
        self._boxes = np.zeros((nf, 6), dtype=np.float64)
        self._has_box = np.ones(nf, dtype=bool)
        self._frames = np.zeros(nf, dtype=np.int64)
        self._times = np.zeros(nf)
        self._shell_rows: list[np.ndarray] = []
        self._buf = np.zeros((min(self.batch_size, max(nf, 1)), self._all.n_atoms, 3),
                             dtype=np.float32)
        self._buf_start = 0
        self._buf_n = 0

    def _single_frame(self):
        i = self._frame_index
        xyz = self._ts.positions
        self._pos[i] = xyz[self._ion_ix]
        self._frames[i] = self._ts.frame
        self._times[i] = self._ts.time
        box = self._ts.dimensions
        if box is None:
            self._has_box[i] = False
        else:
            self._boxes[i] = box
        if self._buf_n == 0:
            self._buf_start = i
        self._buf[self._buf_n] = xyz[self._all_ix]
        self._buf_n += 1
        if self._buf_n == len(self._buf):
            self._flush()

    def _flush(self):
        """Neighbour search and bookkeeping for the buffered frames, vectorised."""
        nb = self._buf_n
        if nb == 0:
            return
        s0 = self._buf_start
        sl = slice(s0, s0 + nb)
        self._buf_n = 0
        boxes = self._boxes[sl] if self._has_box[sl].all() else None
        ni, nk = self.ions.n_atoms, len(self.kinds)
        pos = self._pos[sl]
        fi, ion, atom, d2 = self._contacts(pos, nb, boxes)
        kind = self._kind_of[atom]
        ok = d2 <= self._cut_A[kind] ** 2
        fi, ion, atom, kind = fi[ok], ion[ok], atom[ok], kind[ok]
        d = np.sqrt(d2[ok])
        res = self._res_of[atom]
        keep = res != self._ion_res[ion]
        fi, ion, kind, res, d = fi[keep], ion[keep], kind[keep], res[keep], d[keep]
        slot_ion = fi * ni + ion  # (batch frame, ion)
        size = nb * ni * nk
        self._counts[sl] = np.bincount(slot_ion * nk + kind, minlength=size).reshape(nb, ni, nk)
        if fi.size == 0:
            return
        key = slot_ion * self._n_res + res
        order = np.lexsort((d, key))
        key, kind, d = key[order], kind[order], d[order]
        uniq, first, cnt = np.unique(key, return_index=True, return_counts=True)
        m_slot, m_res, m_kind = uniq // self._n_res, uniq % self._n_res, kind[first]
        slot = m_slot * nk + m_kind
        self._nmol[sl] = np.bincount(slot, minlength=size).reshape(nb, ni, nk)
        dcode = slot * MAX_DENTICITY + np.minimum(cnt, MAX_DENTICITY) - 1
        self._dent[sl] = np.bincount(dcode, minlength=size * MAX_DENTICITY).reshape(
            nb, ni, nk, MAX_DENTICITY
        )
        rows = np.empty((uniq.size, 6))
        rows[:, 0] = s0 + m_slot // ni
        rows[:, 1] = m_slot % ni
        rows[:, 2] = m_kind
        rows[:, 3] = m_res
        rows[:, 4] = cnt
        rows[:, 5] = d[first]
        self._shell_rows.append(rows)

    def _contacts(self, pos: np.ndarray, nb: int, boxes: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(batch frame, ion, partner atom, d² in Å²) of every pair within the largest cutoff.

        Kinds MDAnalysis would search with its grid go through one combined cell-list call
        (max cutoff, then the per-kind d² filter: same arithmetic, so exact); the rest
        directly."""
        ni, nk = self.ions.n_atoms, len(self.kinds)
        grid = [j for j, sel in enumerate(self._sel)
                if use_cell_list(ni, len(sel), self._cut_A[j], boxes)]
        calls = [(self._sel[j], self._cut_A[j]) for j in range(nk) if j not in grid]
        if grid:
            sel = np.concatenate([self._sel[j] for j in grid])
            calls.append((sel, max(self._cut_A[j] for j in grid)))
        fi, ion, atom, d2 = [], [], [], []
        for sel, cut in calls:
            part = self._buf[:nb] if len(sel) == self._all.n_atoms else self._buf[:nb, sel]
            f_, i_, a_, d2_ = pairs_within(pos, part, cut, boxes)
            fi.append(f_)
            ion.append(i_)
            atom.append(sel[a_])
            d2.append(d2_)
        f_all, ion_all, atom_all = (np.concatenate(x).astype(np.int64) for x in (fi, ion, atom))
        return f_all, ion_all, atom_all, np.concatenate(d2)

    def _conclude(self):
        self._flush()
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
        flat = self._pos.reshape(-1, 3).astype(np.float64)
        if self._has_box.all() and nf:
            flat = Geometry.wrap(self._pos, self._boxes[:, None, :]).reshape(-1, 3)
        r.positions = self._pos
        r.regions = self.geometry.assign(flat).reshape(nf, ni)
        r.insertion_nm = self.geometry.insertion_coordinate(flat).reshape(nf, ni)
        rows = np.concatenate(self._shell_rows) if self._shell_rows else np.empty((0, 6))
        order = np.lexsort((rows[:, 3], rows[:, 1], rows[:, 0]))
        rows = rows[order]
        shell = pd.DataFrame(
            {
                "frame": self._frames[rows[:, 0].astype(np.intp)],
                "ion": rows[:, 1].astype(np.int64),
                "kind": pd.Categorical.from_codes(rows[:, 2].astype(np.int64), self.kinds),
                "resindex": rows[:, 3].astype(np.int64),
                "n_atoms": rows[:, 4].astype(np.int64),
                "distance_nm": angstrom_to_nm(rows[:, 5]),
            }
        )
        shell.insert(1, "frame_index", rows[:, 0].astype(np.int64))
        r.shell = shell

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
