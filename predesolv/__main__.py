"""``python -m predesolv`` = the ``predesolv`` command."""

from predesolv.cli import main

raise SystemExit(main())
