"""Plugins and server tools around dispatch (docs/plugins.md); one module per step, run by pipeline.py."""
