"""The use cases of the service, and the one bootstrap that builds what they need.

`bootstrap` turns `Settings` into `Services` (engines, appender, reader, keys, projector, the
in-memory copy, the inbox, the caches); the HTTP routes, the dashboard and the command line
all call the use cases here with those services, and none of them wires its own. This
package may import the store, the projections and the events, never an adapter (api, web, cli).
"""
