"""A PostgreSQL server of the benchmark's own, configured for the machine it runs on.

`bench/run.py --own-postgres DIR` measures the service against a server set up the way
docs/postgresql.md recommends for production, instead of whatever server DATABASE_URL names
(a distribution's defaults are sized for a laptop: 128 MB of shared buffers). The settings are
computed from the machine's memory and cores by `tuned_settings`, the one place the document's
table comes from, and written to DIR/bench-tuning.conf on every start, so a rerun after editing
them needs no initdb.

The binaries are the machine's PostgreSQL (/usr/lib/postgresql/<newest>/bin) or, without one,
the ones bundled with pgserver. PostgreSQL refuses to run as root: as root, the cluster belongs
to the `postgres` system user.
"""

import os
import pwd
import socket
import subprocess
import time
from pathlib import Path

SYSTEM_BINARIES = Path("/usr/lib/postgresql")
TUNING_FILE = "bench-tuning.conf"
HOT_TABLES = {
    # Updated in place on every applied batch: vacuum after 2 % of the rows changed, not 20 %,
    # so that dead versions do not bloat the pages the random upserts read.
    "profiles_personstats": {"autovacuum_vacuum_scale_factor": "0.02"},
    "profiles_personeventstats": {"autovacuum_vacuum_scale_factor": "0.02"},
    # Queue tables: every row is inserted, updated and deleted within seconds. A fixed
    # threshold and no cost delay keep them a few pages long; their scans stay index-only.
    "profiles_pendingevents": {
        "autovacuum_vacuum_scale_factor": "0",
        "autovacuum_vacuum_threshold": "1000",
        "autovacuum_vacuum_cost_delay": "0",
    },
    "procrastinate_jobs": {
        "autovacuum_vacuum_scale_factor": "0",
        "autovacuum_vacuum_threshold": "1000",
        "autovacuum_vacuum_cost_delay": "0",
    },
}


def tuned_settings(*, ram_bytes: int, cores: int, max_connections: int = 200) -> dict[str, str]:
    """The server settings for a dedicated machine of `ram_bytes` and `cores` (see the doc)."""
    ram_mb = ram_bytes // 2**20
    return {
        "max_connections": str(max_connections),
        "shared_buffers": f"{ram_mb // 4}MB",
        "effective_cache_size": f"{ram_mb * 3 // 4}MB",
        # Per sort or hash node: a quarter of the RAM spread over the connections, 4-64 MB.
        "work_mem": f"{min(64, max(4, ram_mb // 4 // max_connections))}MB",
        "maintenance_work_mem": f"{min(2048, max(64, ram_mb // 16))}MB",
        # Checkpoints on the timer, not on WAL volume: ~15 min of WAL at peak ingest, <= 16 GB.
        "max_wal_size": f"{min(16, max(2, ram_mb // 2048))}GB",
        "min_wal_size": "1GB",
        "checkpoint_timeout": "15min",
        "checkpoint_completion_target": "0.9",
        "wal_compression": "lz4",
        "wal_buffers": "64MB",
        "synchronous_commit": "on",
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        "max_worker_processes": str(max(8, cores)),
        "max_parallel_workers": str(cores),
        "max_parallel_workers_per_gather": str(max(1, min(4, cores // 2))),
        "max_parallel_maintenance_workers": str(max(1, min(4, cores // 2))),
        "autovacuum_max_workers": str(max(3, min(8, cores // 2))),
        "autovacuum_naptime": "15s",
        "autovacuum_vacuum_cost_limit": "2000",
        "autovacuum_vacuum_insert_scale_factor": "0.05",
        # Log every lock wait longer than deadlock_timeout (1 s): row-lock contention between
        # concurrent writers shows up in the server log with the statements involved.
        "log_lock_waits": "on",
    }


def machine_settings() -> dict[str, str]:
    """`tuned_settings` for this machine, which also runs the application and the load."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return tuned_settings(ram_bytes=ram, cores=os.cpu_count() or 1)


def binaries() -> Path:
    versions = sorted(
        (p for p in SYSTEM_BINARIES.glob("*/bin") if (p / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


class OwnPostgres:
    """Start (initdb on first use) and stop a cluster in `directory` on a spare loopback port."""

    def __init__(self, directory: str | Path, database: str = "bench"):
        self.directory = Path(directory).resolve()
        self.database = database
        self.bin = binaries()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            user=self.user,
            capture_output=True,
            text=True,
            check=check,
            cwd="/",
        )

    def start(self) -> "OwnPostgres":
        if not (self.directory / "PG_VERSION").exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            if self.user:
                entry = pwd.getpwnam(self.user)
                os.chown(self.directory, entry.pw_uid, entry.pw_gid)
            self._run("initdb", "-D", str(self.directory), "-U", "postgres", "--auth=trust")
            with (self.directory / "postgresql.conf").open("a") as conf:
                conf.write(f"\ninclude_if_exists = '{TUNING_FILE}'\n")
        self.port = self._running_port() or _spare_port()
        settings = {**machine_settings(), "port": str(self.port)}
        if "--with-lz4" not in self._run("pg_config", "--configure").stdout:
            settings["wal_compression"] = "on"  # pglz: the build has no lz4
        libraries = Path(self._run("pg_config", "--pkglibdir").stdout.strip())
        if (libraries / "pg_stat_statements.so").exists():  # for bench/statements.py
            settings["shared_preload_libraries"] = "'pg_stat_statements'"
        settings |= {"listen_addresses": "'127.0.0.1'", "unix_socket_directories": "'/tmp'"}
        tuning = self.directory / TUNING_FILE
        tuning.write_text("".join(f"{name} = {value}\n" for name, value in settings.items()))
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(tuning, entry.pw_uid, entry.pw_gid)
        if self._running_port():
            self._run("pg_ctl", "-D", str(self.directory), "-m", "fast", "-w", "restart")
        else:
            log = str(self.directory / "server.log")
            self._run("pg_ctl", "-D", str(self.directory), "-l", log, "-w", "-t", "120", "start")
        self._create_database()
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory), "-m", "fast", "-w", "stop", check=False)

    def tune_hot_tables(self) -> None:
        """Per-table autovacuum of the hot tables (they exist once the schema is migrated)."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            for table, options in HOT_TABLES.items():
                exists = conn.execute("SELECT to_regclass(%s)", [table]).fetchone()[0]
                if exists:
                    pairs = ", ".join(f"{name} = {value}" for name, value in options.items())
                    conn.execute(f"ALTER TABLE {table} SET ({pairs})")

    def _running_port(self) -> int | None:
        pid_file = self.directory / "postmaster.pid"
        if not pid_file.exists():
            return None
        lines = pid_file.read_text().splitlines()
        try:
            os.kill(int(lines[0]), 0)
        except (ProcessLookupError, ValueError, IndexError):
            return None
        return int(lines[3])

    def _create_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(
                    f"postgres://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
                )
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        with conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [self.database]
            ).fetchone()
            if not found:
                conn.execute(f'CREATE DATABASE "{self.database}"')


def _spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
