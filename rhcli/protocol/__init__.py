"""The wire contract between a client and its daemon, the one client package both sides import.

- ``daemon.proto`` and its generated stubs (``daemon_pb2``, ``daemon_pb2_grpc``);
- ``wire``: what both ends agree on besides the messages (the token's metadata key,
  message and chunk sizes, the argument limit, the pickle protocol);
- ``statuses``: the names statuses and failure kinds go by for people and JSON.

Importing this package imports nothing else: the stubs load only when a module asks.
"""
