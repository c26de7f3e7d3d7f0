"""Thin extractors: fetch PMU turfinfo bodies and land them untouched into raw jsonb tables."""
