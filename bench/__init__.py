"""kithost's benchmarks: ``python -m bench`` (``make bench``) runs B1–B4 and prints one table."""
