"""`c2m ingest`: raw exports → the canonical tables of DESIGN.md, every row accounted for.

Modules, one concept each: ``readers`` (files, globs, databases, encodings, delimiters),
``coerce`` (value coercion expressions), ``mapping`` (the mapping TOML, header synonyms, value
vocabularies), ``presets`` (completejourney, cdnow), ``schema`` (canonical table specs and
validation), ``columns`` (one source → canonical columns with reject reasons), ``rejects``
(reject layout, duplicates) and ``step`` (``run_ingest``).
"""

from c2m_cli.ingest.schema import canonical_schema, required_columns, validate_table
from c2m_cli.ingest.step import run_ingest

__all__ = ["canonical_schema", "required_columns", "run_ingest", "validate_table"]
