"""Test-data generators (synthetic run directories with known answers) for tests,
notebooks and benchmarks. Not MD: molecules are placed and moved by rules."""

from predesolv.testing.double_well import DoubleWell, write_double_well
from predesolv.testing.surface2d import Surface2D, write_surface_2d
from predesolv.testing.synthetic import make_random_electrolyte, make_run

__all__ = ["DoubleWell", "Surface2D", "make_random_electrolyte", "make_run",
           "write_double_well", "write_surface_2d"]
