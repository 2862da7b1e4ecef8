"""Pure authentication building blocks, composed into the server's authenticator elsewhere.

``passwords`` (hash/verify/rehash), ``sasl`` (PLAIN and LOGIN exchanges), ``ratelimit``
(per-client failure lockouts) and ``cache`` (recent successful checks). No I/O, no asyncio.
"""
