"""The OpenAI Responses dialect inbound: `POST /responses`, its typed stream events, its stored responses."""
