"""The HTTP surface: one package per inbound dialect, plus auth, SSE writing, catalog and account routes.

Nothing here imports a specific provider; api/ and providers/ meet in model/ and core/.
"""
