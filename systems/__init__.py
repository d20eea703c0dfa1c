"""Builders: electrolytes, carbon electrodes and composite cells (never run MD)."""
