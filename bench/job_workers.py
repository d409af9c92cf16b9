"""Start and stop the pipeline's worker processes beside the service under measurement.

Ingest answers once the events are appended; `python manage.py run_worker` brings stats, rule
tags and rollups up to date behind it. The benchmark runs the worker as production does: its own
processes (`--job-workers`, default 1), stopped with SIGTERM (a graceful stop: the current job
finishes) at the end. Each worker's output goes to bench/results/worker-<n>.log.
"""

import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ROOT / "jobs" / "management" / "commands" / "run_worker.py"


def available() -> bool:
    return COMMAND.exists()


def start(count: int, *, python: str, env: dict) -> list[subprocess.Popen]:
    """Start `count` workers; none when the command does not exist (ingest still synchronous)."""
    if count <= 0 or not available():
        return []
    logs = ROOT / "bench" / "results"
    logs.mkdir(exist_ok=True)
    processes = []
    for number in range(count):
        log = (logs / f"worker-{number}.log").open("w")
        processes.append(
            subprocess.Popen(
                [python, "manage.py", "run_worker", "--name", f"bench-worker-{number}"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()  # the child holds its own descriptor
    time.sleep(2)  # let them connect and start listening before the load begins
    for process in processes:
        if process.poll() is not None:
            raise RuntimeError(f"run_worker exited with {process.returncode}: see {logs}")
    return processes


def stop(processes: list[subprocess.Popen], timeout: float = 75) -> dict:
    """SIGTERM each worker and wait; report how long the graceful stop took and the exit codes.

    The worker's own stop timeout (JOBS_STOP_TIMEOUT_SECONDS, 60 s) comes first; SIGKILL only
    after `timeout`, for a worker that ignored it.
    """
    started = time.monotonic()
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=max(0.1, timeout - (time.monotonic() - started))))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    return {"stopped_in_s": round(time.monotonic() - started, 2), "exit_codes": codes}
