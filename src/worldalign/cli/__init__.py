"""The ``worldalign`` command line: one module per verb group."""
