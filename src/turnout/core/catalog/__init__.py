"""The catalog: providers, models, endpoints and their prices, checked once at start-up.

The ground floor of core/: it imports no other part of core/ (providers/ gives it the dialects'
targets and parameter rules).
"""
