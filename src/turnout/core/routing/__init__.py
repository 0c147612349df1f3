"""Routing: a model id and provider preferences -> ordered endpoints, with the health (local and
shared), availability and prompt-cache stickiness that decide it. Imports catalog/ and money/."""
