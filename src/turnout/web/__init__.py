"""The web UI: catalog and model pages, the chat playground and the activity dashboard.

Server-rendered HTML, a few small vanilla scripts and server-drawn SVG charts; every asset ships
in the package (`static/`), so the UI works offline. `web_routes()` is what the app mounts.
"""

from turnout.web.routes import web_routes

__all__ = ["web_routes"]
