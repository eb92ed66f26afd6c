"""One module per CLI command: parse options, call one library function, render.

Modules here import only typer and ``_common`` at top level; library code (polars, sklearn,
statsmodels) is imported inside the command body so that ``c2m --help`` answers fast.
"""
