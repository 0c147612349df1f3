"""Policy: the request path (gateway, context, streaming, response cache) over four floors.

catalog/ (what can be served and at what price) is the ground floor; money/ (keys, limits,
credits, the journal and the records) builds on it; routing/ (which endpoints, in what order, and
their health) on both; upstream/ (the HTTP client and the attempt loop) on routing. Imports only
go down this list, never up, and no floor knows an inbound dialect (that is api/).
"""
