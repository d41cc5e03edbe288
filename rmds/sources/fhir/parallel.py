"""Converting blocks of large FHIR NDJSON files in worker processes.

Validating and mapping FHIR resources is Python work that holds the GIL, so threads do not
spread it over the cores; processes do. :class:`WorkerPool` starts ``python -m
rmds.sources.fhir.parallel`` once per worker: a clean interpreter that imports rmds, loads
the reference pack (code tables, municipalities) once, and converts the blocks of lines it
is sent, answering with canonical rows and quarantine as Arrow tables. It never re-runs the
caller's script (as ``multiprocessing``'s spawn does with an unguarded ``__main__``) and is
never forked next to an open DuckDB connection and its threads. Workers ignore Ctrl-C (the
parent stops them) and end when their input closes, also when the parent is killed.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import traceback
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

from rmds.exceptions import WorkerError
from rmds.sources.fhir.reader import Chunk, FhirFile

__all__ = ["WorkerPool"]

_SIZE = struct.Struct("<Q")
_STOPPED = "processo auxiliar de leitura FHIR parado"
Block = tuple[int, list[bytes]]  # (number of the first line, the lines)


def _send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_SIZE.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(_SIZE.size)
    if len(head) < _SIZE.size:
        raise EOFError
    size = _SIZE.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)  # our own worker, over its own pipe


class WorkerPool:
    """Worker processes converting NDJSON blocks; :meth:`submit` gives a future."""

    def __init__(self, workers: int, reference_dir: Path) -> None:
        self._tasks: queue.Queue[tuple[Future[Chunk], str, Block] | None] = queue.Queue()
        # the workers import this very rmds, installed or not
        root = str(Path(__file__).resolve().parents[3])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        self._processes = [subprocess.Popen(
            [sys.executable, "-m", "rmds.sources.fhir.parallel", str(reference_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env) for _ in range(workers)]
        self._threads = [threading.Thread(target=self._serve, args=(process,), daemon=True,
                                          name="rmds-fhir-worker")
                         for process in self._processes]
        self._dead = 0  # workers gone; when all are, nothing would take a block
        self._lock = threading.Lock()
        for thread in self._threads:
            thread.start()

    def submit(self, path: Path, block: Block) -> Future[Chunk]:
        future: Future[Chunk] = Future()
        self._tasks.put((future, str(path), block))
        with self._lock:
            if self._dead == len(self._processes):
                self._drain(_STOPPED)
        return future

    def _serve(self, process: subprocess.Popen[bytes]) -> None:
        """Feed one worker, one block at a time, until the pool shuts down."""
        assert process.stdin is not None and process.stdout is not None
        while (task := self._tasks.get()) is not None:
            future, path, block = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                _send(process.stdin, (path, block))
                ok, result = _receive(process.stdout)
            except (EOFError, OSError):
                future.set_exception(WorkerError(
                    f"{Path(path).name}: o processo auxiliar de leitura FHIR (PID "
                    f"{process.pid}) terminou inesperadamente (código {process.wait()})"))
                with self._lock:
                    self._dead += 1
                    self._drain(_STOPPED)
                return
            if ok:
                future.set_result(result)
            else:
                future.set_exception(WorkerError(
                    f"{Path(path).name}: erro no processo auxiliar de leitura FHIR:\n{result}"))

    def _drain(self, reason: str | None = None) -> None:
        """Empty the queue of waiting blocks: each fails for ``reason`` (a worker died; under
        ``_lock``) or, without one, is cancelled (shutdown). A shutdown marker found is put
        back: it is meant for another thread."""
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return
            if task is None:
                self._tasks.put(None)
                return
            if reason is None:
                task[0].cancel()
            else:
                task[0].set_exception(WorkerError(f"{Path(task[1]).name}: {reason}"))

    def shutdown(self) -> None:
        """Stop taking blocks (those waiting are cancelled), let the running ones finish,
        and end the workers."""
        self._drain()
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()
        for process in self._processes:
            if process.stdin is not None:
                process.stdin.close()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _work(reference_dir: Path) -> None:
    """A worker's life: load the code tables, then convert blocks until stdin closes."""
    from rmds.sources.fhir.validate import Validator
    from rmds.territory import ReferencePack

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    try:
        pack = ReferencePack(reference_dir)
        validator, municipalities = Validator(pack), pack.ibge6_to_7_table()
        failed = None
    except Exception as error:  # said in answer to every block, below
        failed = f"{type(error).__name__}: {error}"
    while True:
        try:
            path, block = _receive(source)
        except EOFError:
            return
        answer: tuple[bool, Any] = (False, failed)
        if failed is None:
            try:
                answer = (True, FhirFile(Path(path), "ndjson", validator,
                                         municipalities).convert_block(*block))
            except Exception:  # handed to the parent, which raises it
                answer = (False, traceback.format_exc(limit=8))
        try:
            _send(sink, answer)
        except OSError:  # the parent is gone (killed): nobody to answer
            return


if __name__ == "__main__":
    _work(Path(sys.argv[1]))
