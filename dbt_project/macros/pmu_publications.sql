{#- The rows of each model's last publication before each race's start: what a bettor could have
    seen while a bet was still possible (modeling.publications + modeling.published_predictions,
    published_at < marts.race.race_start_at; ties on published_at go to the later publication_id).
    A re-score after the off (which may know the result) never counts. The publication is chosen
    per race, then all of its rows are kept, so a runner withdrawn since an earlier publication is
    not brought back from it. One row per (model_id, race_id, num_pmu), with the publication's
    model, race_date and published_at and the race's race_start_at. `races_relation`: ref('race'),
    passed by the model so that dbt sees the dependency at parse time. Read by
    marts.ml_model_daily_accuracy and marts.predictions_current. Until ml/schema.sql creates
    modeling.*, no rows, with the same columns and types. -#}
{% macro last_publication_before_start(races_relation) %}
    {#- Named outside the branch, so that dbt records the dependency at parse time: one of the two
        sources only, as both are the Dagster asset modeling/predictions (one key, one dbt resource). -#}
    {%- set published_rows_source = source('modeling', 'published_predictions') -%}
    {%- if source_exists('modeling', 'publications') and source_exists('modeling', 'published_predictions') %}
        select
            publications.publication_id,
            publications.model_id,
            publications.model_name,
            publications.model_version,
            publications.race_date,
            publications.published_at,
            published_rows.race_id,
            chosen.race_start_at,
            published_rows.num_pmu,
            published_rows.probability,
            published_rows.p_model,
            published_rows.rank,
            published_rows.fair_odds,
            published_rows.market_odds,
            published_rows.market_prob,
            published_rows.market_served_at,
            published_rows.edge,
            published_rows.kelly_fraction,
            published_rows.p_place
        from (
            -- per model and race, its latest publication before the start
            select distinct on (candidates.model_id, candidate_rows.race_id)
                candidates.publication_id,
                candidate_rows.race_id,
                races.race_start_at
            from {{ source('modeling', 'publications') }} as candidates
            inner join {{ published_rows_source }} as candidate_rows
                on candidates.publication_id = candidate_rows.publication_id
            inner join {{ races_relation }} as races
                on candidate_rows.race_id = races.race_id
            where candidates.published_at < races.race_start_at
            order by
                candidates.model_id asc,
                candidate_rows.race_id asc,
                candidates.published_at desc,
                candidates.publication_id desc
        ) as chosen
        inner join {{ source('modeling', 'publications') }} as publications
            on chosen.publication_id = publications.publication_id
        inner join {{ published_rows_source }} as published_rows
            on
                chosen.publication_id = published_rows.publication_id
                and chosen.race_id = published_rows.race_id
    {%- else %}
        -- no modeling tables yet: no rows, with the types of ml/schema.sql
        select
            null::bigint as publication_id,
            null::bigint as model_id,
            null::text as model_name,
            null::integer as model_version,
            null::date as race_date,
            null::timestamptz as published_at,
            null::text as race_id,
            null::timestamptz as race_start_at,
            null::integer as num_pmu,
            null::double precision as probability,
            null::double precision as p_model,
            null::integer as rank,
            null::double precision as fair_odds,
            null::double precision as market_odds,
            null::double precision as market_prob,
            null::timestamptz as market_served_at,
            null::double precision as edge,
            null::double precision as kelly_fraction,
            null::double precision as p_place
        where false
    {%- endif %}
{% endmacro %}
