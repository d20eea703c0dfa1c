"""predesolv's version (one definition; ``predesolv.__version__`` re-exports it)."""

__version__ = "0.2.0"
