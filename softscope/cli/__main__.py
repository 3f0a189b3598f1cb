"""``python -m softscope.cli ...`` runs the command line (as ``python -m softscope``)."""

from softscope.cli import main

raise SystemExit(main())
