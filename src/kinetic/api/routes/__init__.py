"""One module per resource; each has ``add_routes(app, ctx)``."""
