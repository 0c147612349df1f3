"""Outbound dialects: one module per provider wire format. Pure translators; core/ does the I/O.

Modules here never import turnout.api.
"""
