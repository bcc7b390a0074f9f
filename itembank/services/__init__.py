"""Business operations: each takes a session and an actor, runs in the caller's transaction and
writes its audit event there too. The CLI and the API are thin shells over these functions."""
