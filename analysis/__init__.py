"""Analysis of predesolv run directories or any MDAnalysis Universe."""
