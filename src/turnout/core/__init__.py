"""Policy: catalog, routing, dispatch, streaming, pricing, accounting. Knows no inbound dialect."""
