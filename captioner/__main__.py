"""``python -m captioner``: see captioner/cli/__init__.py."""

import os
import sys

from captioner.cli import common, main

code = main()
if code == common.EXIT_INTERRUPTED:
    # Ctrl-C may land while another thread is still in native code (loading or quantizing a
    # model): shutting the interpreter down under it aborts the process ("terminate called
    # without an active exception"). What the run had to record and print is done by now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
raise SystemExit(code)
