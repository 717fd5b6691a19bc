"""The control plane over HTTP: aiohttp.web in the daemon's process and event loop.

Layout: ``server`` (app factory, ``ApiServer`` lifecycle), ``context`` (what handlers
may use: ``ApiContext``), ``envelope`` (``{"data": ..., "error": ...}`` responses),
``registry`` (routes with their OpenAPI description), ``middleware`` (errors, auth,
read-only, audit of mutations), ``openapi`` and ``routes/<resource>.py``.

Adding routes from another module: write ``def add_routes(app: web.Application, ctx:
ApiContext) -> None`` in your module and add the module's dotted name to
``kinetic.api.server.ROUTE_MODULES`` (one line). Inside, register JSON endpoints with
``kinetic.api.registry.route(app, "GET", "/api/...", handler, summary=..., tag=...)`` so
they are in ``/api/openapi.json``, or plain aiohttp routes (``app.router.add_get``,
``add_static``) for pages, streams and ``/metrics``. Paths under ``/api/`` need the token
(when one is set) unless registered with ``public=True`` or added to
``app[PUBLIC_PATHS]``; other paths are public unless added to ``app[PROTECTED_PATHS]``
(path prefixes). ``ctx.token_ok(request)`` checks a request's token (header
``Authorization: Bearer <token>`` or cookie ``kinetic_api_token``) for handlers that do
their own checks.
"""
