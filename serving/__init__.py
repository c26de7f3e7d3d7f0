"""Serving: the predictions API and the accuracy dashboard over what modeling/predictions published
(`pmu serve`; `serving.app.create_app(db_url)`)."""
