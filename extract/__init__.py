"""Thin extractors: fetch PMU turfinfo bodies and land them untouched into raw jsonb tables."""

# Stored with every landed row. Bump when what is fetched or how it is stored changes.
EXTRACTOR_VERSION = "extract-1.0"
