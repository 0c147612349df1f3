"""Canonical, dialect-free types: what inbound dialects translate into and providers translate from.

Nothing in this package knows about HTTP, a web framework, or any provider's wire format.
"""
