"""Where shard tasks run: in this process, a local process pool, or a Dask cluster.

Every parallel stage of the testbed (simulating shards, sweep points, replicates) maps a
picklable function over tasks with a :class:`concurrent.futures.Executor`. Which executor is
chosen here, once (the command line's ``--workers N``, ``--dask`` and ``--scheduler ADDRESS``
come through :mod:`recsys.cli.args`); results never depend on it, because every task carries
its own keyed randomness.

- ``workers == 1`` and no Dask: ``None`` (run inline, no pickling).
- ``workers > 1``: a :class:`~concurrent.futures.ProcessPoolExecutor`.
- ``dask=True``: a ``dask.distributed.LocalCluster`` with ``workers`` single-threaded worker
  processes, used through ``Client.get_executor()``.
- ``scheduler=ADDRESS``: an existing cluster (``dask-scheduler`` + ``dask-worker``\\ s).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import shutil
import tempfile
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Iterator

from recsys.core.errors import InputError

#: seconds to wait for an existing Dask scheduler before giving up
CONNECT_TIMEOUT = 10


def _distributed():
    try:
        import distributed
    except ImportError:
        raise InputError("Dask is not installed: pip install 'recsys[dask]'") from None
    return distributed


@contextlib.contextmanager
def executor(workers: int = 1, *, dask: bool = False, scheduler: str | None = None) -> Iterator[Executor | None]:
    """An executor for ``workers`` (see module docstring); closed (and a local cluster stopped) on exit."""
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    if scheduler:
        distributed = _distributed()
        try:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"--scheduler {scheduler}: cannot connect ({reason})") from None
        with client:
            yield client.get_executor(pure=False)
        return
    if dask:
        distributed = _distributed()
        # worker processes inherit this: keep BLAS single-threaded inside each one
        for name in _THREAD_VARIABLES:
            os.environ.setdefault(name, "1")
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            yield client.get_executor(pure=False)
        return
    if workers > 1:
        # "forkserver", not "fork": forking a process whose BLAS/OpenMP threads are running can
        # deadlock the child (seen with implicit's top-k inside a forked worker)
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver"),
                                 initializer=single_threaded_worker) as pool:
            yield pool
        return
    yield None


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def single_threaded_worker() -> None:
    """A worker process runs one task at a time on one core: native thread pools (BLAS, OpenMP)
    limited to one thread, or N workers' pools would fight over N cores (measured: a shard took
    1.5x as long in each of two workers as alone)."""
    for name in _THREAD_VARIABLES:   # for libraries loaded later
        os.environ[name] = "1"
    import importlib

    from threadpoolctl import threadpool_limits

    importlib.import_module("numpy")   # load BLAS, so that the limit reaches it
    threadpool_limits(limits=1)


class _File:
    """A handle to an object pickled once into the run's scratch folder (process pools)."""

    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path


_CACHE: dict[str, object] = {}


def resolve(handle):
    """The object behind a handle from :meth:`Shared.put`, inside a task."""
    if isinstance(handle, _File):
        obj = _CACHE.pop(handle.path, None)   # least recently used first out
        if obj is None:
            with open(handle.path, "rb") as fh:  # written by this run's own driver, never user input
                obj = pickle.load(fh)
            if len(_CACHE) >= 8:
                _CACHE.pop(next(iter(_CACHE)))
        _CACHE[handle.path] = obj
        return obj
    return handle


class Shared:
    """Large read-only objects (the world, fitted policies) sent to workers once, not per task.

    Inline: the object itself. Process pool: pickled once to a scratch file that each worker
    process loads on first use and caches. Dask: ``Client.scatter(..., broadcast=True)``, whose
    futures Dask resolves inside the tasks.
    """

    def __init__(self, executor: Executor | None):
        self.executor = executor
        self._dir: str | None = None
        self._count = 0
        self._client = getattr(executor, "_client", None)  # dask.distributed's ClientExecutor

    def put(self, obj):
        if self.executor is None:
            return obj
        if self._client is not None:
            return self._client.scatter(obj, broadcast=True, hash=False)
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="recsys-shared-")
        self._count += 1
        path = os.path.join(self._dir, f"{self._count}.pkl")
        with open(path, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return _File(path)

    def drop(self, handle) -> None:
        """Release one object from :meth:`put` (its workers' cached copies age out)."""
        if isinstance(handle, _File):
            with contextlib.suppress(OSError):
                os.remove(handle.path)
        elif isinstance(handle, (list, tuple)):   # Client.scatter splits a list into futures
            for h in handle:
                self.drop(h)
        elif self._client is not None and hasattr(handle, "release"):
            handle.release()

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> "Shared":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
