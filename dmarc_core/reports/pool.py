"""The worker processes that read big reports and many files on every core."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import threading

_POOLS: dict[tuple[str, int], concurrent.futures.ProcessPoolExecutor] = {}


def process_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """Worker processes, kept for the next job. Forked when this process runs one thread (the CLI,
    a script: no start-up cost); started from a fork server otherwise, because forking a threaded
    server (Streamlit) can copy a lock that some other thread holds."""
    method = "fork" if threading.active_count() == 1 else "forkserver"
    key = (method, workers)
    if key in _POOLS and _POOLS[key]._broken:  # a worker died (the OOM killer): start afresh
        _POOLS.pop(key).shutdown(wait=False, cancel_futures=True)
    if key not in _POOLS:
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            # Loaded once in the fork server rather than in every worker's first task; pyarrow loads
            # pandas itself when it first builds an array from Python values.
            context.set_forkserver_preload(["dmarc_core.reports.reading", "pandas"])
        _POOLS[key] = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)
    return _POOLS[key]
