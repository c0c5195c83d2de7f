"""What kithost is measured against: each anchor runs in its own process on uvicorn, with the
same server settings as ``kithost serve`` (see ``serving.serve``)."""
