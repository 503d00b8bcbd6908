"""The one pool of worker processes that reads big reports and many files on every core."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading

_POOL: concurrent.futures.ProcessPoolExecutor | None = None
_LOCK = threading.Lock()


def cores() -> int:
    """The cores this process may run on (a container or ``taskset`` may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def process_pool() -> concurrent.futures.ProcessPoolExecutor:
    """One worker per core, shared by every caller and kept for the next job: callers bound their
    own work in flight, so no nesting of files, archives and chunks starts more workers than
    cores. Forked when this process runs one thread (the CLI, a script: no start-up cost); started
    from a fork server otherwise, because forking a threaded server (Streamlit) can copy a lock
    that some other thread holds."""
    global _POOL
    with _LOCK:
        if _POOL is not None and _POOL._broken:  # a worker died (the OOM killer): start afresh
            _POOL.shutdown(wait=False, cancel_futures=True)
            _POOL = None
        if _POOL is None:
            method = "fork" if threading.active_count() == 1 else "forkserver"
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                # Loaded once in the fork server rather than in every worker's first task; pyarrow loads
                # pandas itself when it first builds an array from Python values.
                context.set_forkserver_preload(["dmarc_core.reports.reading", "pandas"])
            _POOL = concurrent.futures.ProcessPoolExecutor(cores(), mp_context=context)
        return _POOL
