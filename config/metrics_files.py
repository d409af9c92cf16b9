"""Where the processes' metric files live: prometheus_client's multiprocess mode.

gunicorn serves with several worker processes and the background worker is a process of its
own, so no process alone knows the service's counters. With PROMETHEUS_MULTIPROC_DIR set, each
process writes its counters into a file of its own there (`counter_<pid>.db`, ...) and a scrape
sums every file (config/metrics.py). gunicorn.conf.py sets the variable before its workers
import the application (`.local/prometheus` unless the environment names a directory), clears
the files of processes that are gone when the server starts, and tells prometheus_client when
a worker exits. The background worker joins in when its environment names the same directory
(`make run` does so for both).

Nothing here imports prometheus_client at module level: the variable must be set first.
"""

import os
import re
from pathlib import Path

from config.local_state import LOCAL_DIR

ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_DIR = LOCAL_DIR / "prometheus"
_FILE_PID = re.compile(r"_(\d+)\.db$")


def use_multiprocess_dir() -> Path:
    """Set PROMETHEUS_MULTIPROC_DIR, to DEFAULT_DIR unless it is set, and create the directory."""
    path = Path(os.environ.get(ENV) or DEFAULT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(path)
    return path


def remove_dead_process_files(path: Path) -> list[Path]:
    """Delete the metric files of processes that are gone; return them.

    At a server's start every earlier gunicorn worker is gone, and their counters would
    otherwise be summed in forever. A live process keeps its file: the background worker,
    which runs on across a web server's restart, would otherwise count from a file no scrape
    reads. Only `*.db` files are touched, whatever else the directory holds.
    """
    removed = []
    for file in Path(path).glob("*.db"):
        match = _FILE_PID.search(file.name)
        if match is None or not _alive(int(match.group(1))):
            file.unlink(missing_ok=True)
            removed.append(file)
    return removed


def mark_process_dead(pid: int, path: Path) -> None:
    """Tell prometheus_client that a process exited (gunicorn's `child_exit`)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(path))


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False  # kill(0) would signal this process group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, under another user
    return True


if __name__ == "__main__":
    # `make run`: prepare the directory its web server and worker share, and name it.
    directory = use_multiprocess_dir()
    remove_dead_process_files(directory)
    print(directory)
