"""The durable store: schema, migrations and the database connection.

It imports only `handoff.domain`; the services that read and write it are
`handoff.conversations` (transcripts and handoff events) and `handoff.agents`.
"""

from handoff.store.database import Store, as_utc, open_store, upgrade, utcnow

__all__ = ["Store", "as_utc", "open_store", "upgrade", "utcnow"]
