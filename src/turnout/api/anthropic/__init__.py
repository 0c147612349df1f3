"""The Anthropic Messages dialect inbound: `POST /messages`, its stream events and its error envelope."""
