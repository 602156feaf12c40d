"""Development-only code: tiny random checkpoints, benchmarks and measurements.

Nothing in the app imports this package; the CLI reaches it through ``make-tiny`` and
``bench``, and the tests build their tiny checkpoints with ``dev.tiny``.
"""
