"""Vector stores: files, ingestion, chunking and search (the SQL lives in ``kithost.store``)."""
