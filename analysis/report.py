"""``report.html``: one page per analysis folder with every figure beside its summary table.

The page is the first thing to open after ``predesolv analyze``: the run it came from, the
frames and time step analysed, every warning, then one section per figure with the table
that summarises it (first-shell cutoffs under the RDF, τ under the residence plot, D under
the MSD, ...) and links to the full CSV files. It only reads files in the folder, so it can
be rebuilt at any time with :func:`write_report`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from predesolv.atomic import atomic_write_text

#: Figure stem -> (section title, CSV files that summarise it, in order).
SECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "rdf": ("Radial distribution functions", ("cutoffs.csv",)),
    "cn_profile": ("Coordination number along the insertion axis", ("cn_profile.csv",)),
    "speciation": ("Speciation (shell composition)", ("speciation.csv",)),
    "tracked_ion": ("Tracked ion", ("tracked_events.csv",)),
    "residence": ("Residence times", ("residence_times.csv",)),
    "msd": ("Mean-squared displacement and diffusion", ("diffusion.csv",)),
    "density_x": ("Number density along x", ()),
    "density_y": ("Number density along y", ()),
    "density_z": ("Number density along z", ()),
}
#: Tables shown in full up to this many rows; longer ones show their head and a link.
MAX_ROWS = 40

_STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; display: block;
        max-width: 100%; overflow-x: auto; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
img { max-width: 100%; border: 1px solid #eee; }
.warn { background: #fff4e5; border-left: 4px solid #f0a030; padding: 0.5em 1em; }
.files { font-size: 0.85em; color: #555; }
"""


def _table(path: Path) -> str:
    """HTML of one CSV (escaped by pandas), truncated to :data:`MAX_ROWS` rows."""
    df = pd.read_csv(path)
    name = html.escape(path.name)
    full = len(df) <= MAX_ROWS
    body = (df if full else df.head(10)).to_html(
        index=False, float_format=lambda v: f"{v:.4g}", na_rep="–")
    if full:
        return f'<p class="files">{name}</p>{body}'
    return (f'<p class="files">{name}: first 10 of {len(df)} rows; full table: '
            f'<a href="{name}">{name}</a></p>{body}')


def _header(folder: Path, summary: dict) -> list[str]:
    run = html.escape(Path(str(summary.get("run_dir", folder))).name)
    dt = summary.get("dt_ps")
    dt_text = f"{dt:.4g}" if isinstance(dt, (int, float)) else "?"
    parts = [f"<h1>predesolv analysis: {run}</h1>",
             f"<p>Frames analysed: {summary.get('frames', '?')}; time between frames: "
             f"{dt_text} ps; analyses: "
             f"{html.escape(', '.join(summary.get('analyses', [])))}.</p>"]
    warnings = summary.get("warnings") or []
    if warnings:
        items = "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings)
        parts.append(f'<div class="warn"><b>Warnings</b><ul>{items}</ul></div>')
    return parts


def write_report(folder: str | Path) -> Path:
    """Write ``report.html`` for the analysis files in ``folder``; returns its path.

    Parameters
    ----------
    folder : str or Path
        An analysis folder (``summary.json`` and the CSV/PNG files of ``predesolv analyze``).
    """
    folder = Path(folder)
    summary_path = folder / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    parts = _header(folder, summary)
    shown: set[str] = set()
    for stem, (title, tables) in SECTIONS.items():
        png = folder / f"{stem}.png"
        if not png.exists():
            continue
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(f'<img src="{png.name}" alt="{html.escape(title)}">')
        for name in tables:
            if (folder / name).exists():
                parts.append(_table(folder / name))
                shown.add(name)
    region = folder / "coordination_by_region.csv"
    if region.exists():
        parts += ["<h2>Coordination by region</h2>", _table(region)]
        shown.add(region.name)
    others = sorted(p.name for p in folder.glob("*.csv") if p.name not in shown)
    if others:
        links = ", ".join(f'<a href="{html.escape(n)}">{html.escape(n)}</a>' for n in others)
        parts.append(f'<h2>All data files</h2><p class="files">{links}, '
                     f'<a href="summary.json">summary.json</a></p>')
    name = html.escape(Path(str(summary.get("run_dir", folder))).name)
    page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>predesolv analysis"
            f" of {name}</title><style>{_STYLE}</style></head><body>\n" + "\n".join(parts)
            + "\n</body></html>\n")
    out = folder / "report.html"
    atomic_write_text(out, page)
    return out
