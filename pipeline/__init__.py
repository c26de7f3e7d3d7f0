"""The pipeline's verbs, in one place: the `pmu` commands, the Dagster assets, `pmu demo` and the
benchmarks call these and add only their own I/O (arguments, progress, metadata).

| verb | module | what |
|---|---|---|
| land | pipeline.land | days of bodies into the raw tables, from the API or replayed recordings |
| build | pipeline.build | `dbt build`/`run` of the warehouse, a window of race days or what is new |
| train | pipeline.modeling | a win model on the feature marts, registered (and promoted) |
| evaluate | pipeline.modeling | walk-forward evaluation of a recipe: metrics, plots, on the registry |
| score | pipeline.scoring | a day's probabilities published to modeling.predictions |

The layers below stay apart: `extract/` (HTTP and landing) and `ml/` (models) import neither each
other nor Dagster nor the replay server; this package is where they meet. Importing it builds
nothing and imports neither pandas nor LightGBM: each verb imports what it needs when called.
"""
