"""The one error of a missing ``ml`` extra, and the import that raises it.

Every optional third-party package of :mod:`predesolv.mlip` (ASE, torch, chgnet, sevenn,
tblite, dftd3) is imported through :func:`require`, inside the function that needs it, so
that ``import predesolv.mlip`` works on the main install and a request for a model names
the extra that provides it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from predesolv.errors import ConfigError

#: The pip command that installs every package of this subpackage.
INSTALL_HINT = 'pip install "predesolv[ml]"'


class MissingExtraError(ConfigError):
    """An optional package of the ``ml`` extra cannot be imported (CLI exit status 2)."""


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the ``ml`` extra.

    Parameters
    ----------
    module : str
        Dotted module name (``"chgnet.model"``).
    what : str
        What needs it (``"model chgnet-0.3.0"``), for the message.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingExtraError
        The import failed (not installed, or broken: the original error is quoted).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{what} needs the optional package {module.split('.')[0]!r} of the "
            f"predesolv[ml] extra, which cannot be imported ({exc}); install it with: "
            f"{INSTALL_HINT}") from exc
