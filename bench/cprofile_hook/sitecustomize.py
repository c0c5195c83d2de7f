"""Profiles a kithost server that a benchmark starts with ``BENCH_CPROFILE=<file>``.

``python -m bench`` with ``BENCH_CPROFILE_DIR=<folder>`` puts this folder on each server's
``PYTHONPATH``, so Python imports it at start-up: cProfile then records the main thread (the
event loop, where kithost's own work runs) until the server exits, and writes its stats to the
file for ``python -m pstats``. Its clock is the thread's CPU time, not the wall clock: on a
shared machine, time spent descheduled would otherwise land on whatever function was running.
Read call counts, not times: SQLAlchemy's async layer switches greenlets, which cProfile does
not follow (its times under it come out wrong, even negative), and cProfile slows Python code.
"""

import atexit
import cProfile
import os
import time

_out = os.environ.get("BENCH_CPROFILE")
if _out:
    _profile = cProfile.Profile(time.thread_time)

    def _dump() -> None:
        _profile.disable()
        _profile.dump_stats(_out)

    _profile.enable()
    atexit.register(_dump)
