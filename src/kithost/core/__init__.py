"""Domain rules with no HTTP and no SQL: sessions, ids, secrets, pagination, rate limits."""
