"""``python -m softscope ...`` runs the command line (see :mod:`softscope.cli`)."""

from softscope.cli import main

raise SystemExit(main())
