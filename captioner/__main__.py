"""``python -m captioner``: see captioner/cli.py."""

from captioner.cli import main

raise SystemExit(main())
