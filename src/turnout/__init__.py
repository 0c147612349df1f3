"""turnout: a self-hosted LLM gateway with one API key and one base URL in front of many providers."""

__version__ = "0.1.0"
