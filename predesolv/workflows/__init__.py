"""Workflows that drive the runner: umbrella windows, pulls, scans and fits.

They sit one floor above :mod:`predesolv.runner`; the CV and bias primitives they use
(:mod:`predesolv.freeenergy`) sit below it, applied by the runner as System transforms
(:mod:`predesolv.transforms`) without the runner importing any free-energy code.

* :mod:`.umbrella`, :mod:`.protocol`, :mod:`.pmfdir` — steered pull + umbrella windows in a
  PMF folder that :class:`~predesolv.workflows.pmfdir.PMFDir` owns; :mod:`.sanity` and
  :mod:`.wallcheck` refuse absurd set-ups and escaped windows;
* :mod:`.distributed` — windows on Dask (the only module that imports Dask);
* :mod:`.barrier_scan`, :mod:`.barrier_output`, :mod:`.migration` — 0 K migration barriers;
* :mod:`.na_c_fit`, :mod:`.na_c_fit_plot` — the optional Na–C pair fit;
* :mod:`.stepwise` — 0 K stepwise desolvation energies of Na+(solvent)n clusters.
"""
