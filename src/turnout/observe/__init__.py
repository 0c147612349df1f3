"""Operating turnout: Prometheus metrics, request tracking for graceful shutdown, Server-Timing."""
