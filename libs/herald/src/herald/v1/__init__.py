"""Generated protobuf code for the herald.v1 events (``make proto``); do not edit the *_pb2 files."""
