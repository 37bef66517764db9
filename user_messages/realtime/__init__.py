"""Live updates over WebSocket (Django Channels): install the ``realtime`` extra to use them.

``groups`` announces changes on the channel layer; ``consumer`` serves the ``myMessageCount``
subscription with the graphql-transport-ws protocol. Nothing else in the package imports this.
"""
