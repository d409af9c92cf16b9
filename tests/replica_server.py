"""A streaming replica of the suite's own PostgreSQL, started on loopback for the replica tests.

The standby is a base backup of the server that holds the test database (`pg_basebackup -R -X
stream`), taken once that database exists, so that it holds it under the same name; it then
streams from that server like a production replica. It runs the server binaries of the
primary's own version (those of the running postmaster when they can be found), as the owner
of the primary's data directory (PostgreSQL refuses to run as root), in a temporary folder, on
a free 127.0.0.1 port, with trust for loopback connections only.

The primary must accept replication connections from this machine: the embedded server does
as initdb made it (`local replication all trust`); a system server needs a pg_hba line such as
`host replication all 127.0.0.1/32 trust` (.ci/run adds it). Where no standby can be started,
the tests that need one are skipped, except in CI (CI=true), where they fail.
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

WAIT_SECONDS = 60
# A hot standby needs these at least as high as its primary's.
_MATCHED_SETTINGS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


class StandbyUnavailable(Exception):
    """No standby of the test database's server can be started on this machine."""


class Standby:
    """A hot standby of the primary behind Django's `default` connection."""

    def __init__(self, primary):
        self.primary = primary.settings_dict
        facts = _primary_facts(primary)
        self.dbname = self.primary["NAME"]
        self.bin_dir = _binaries(facts["server_version_num"] // 10000, facts["data_directory"])
        self.run_as = _run_as(facts["data_directory"])
        self.port = _free_port()
        self.base = Path(tempfile.mkdtemp(prefix="replica", dir="/tmp"))
        self.data = self.base / "data"
        self.log = self.base / "standby.log"
        if self.run_as is not None:
            os.chown(self.base, self.run_as.pw_uid, self.run_as.pw_gid)
        self.base.chmod(0o700)
        self._settings = {name: facts[name] for name in _MATCHED_SETTINGS}

    # -- life cycle -------------------------------------------------------------------------

    def create(self) -> float:
        """Take the base backup and start streaming; return how long that took (seconds)."""
        began = time.monotonic()
        primary = self.primary
        args = ["-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "-N", "--no-manifest"]
        args += ["-U", primary["USER"] or "postgres"]
        if primary["HOST"]:
            args += ["-h", primary["HOST"]]
        if primary["PORT"]:
            args += ["-p", str(primary["PORT"])]
        self._run("pg_basebackup", *args)
        self._configure()
        self.start()
        return time.monotonic() - began

    def start(self) -> None:
        """Start the standby (again) and wait until it streams from the primary."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self._wait(self._streaming, "the standby to stream from the primary")

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as when a replica is lost."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def running(self) -> bool:
        done = subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            check=False,
            cwd=self.base,
            **self._as_owner(),
        )
        return done.returncode == 0

    def remove(self) -> None:
        try:
            if self.data.exists() and self.running():
                self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def reset(self) -> None:
        """Running and replaying, whatever a test left (a failed one may have stopped both)."""
        if not self.running():
            self.start()
        self.sql("SELECT pg_wal_replay_resume()")

    # -- replay ------------------------------------------------------------------------------

    def sql(self, query: str, params=()) -> tuple:
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname=self.dbname,
            user=self.primary["USER"] or "postgres",
            password=self.primary["PASSWORD"] or None,
            autocommit=True,
            connect_timeout=5,
        ) as conn:
            return conn.execute(query, params).fetchone()

    def pause_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_pause()")
        self._wait(
            lambda: self.sql("SELECT pg_get_wal_replay_pause_state()")[0] == "paused",
            "replay to pause",
        )

    def resume_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_resume()")

    def wait_replayed(self, lsn: int) -> None:
        """Wait until the standby replayed the primary's WAL up to `lsn` (bytes)."""
        self._wait(lambda: self._lsn("pg_last_wal_replay_lsn()") >= lsn, f"replay of {lsn}")

    def wait_received(self, lsn: int) -> None:
        """Wait until the standby received (not necessarily replayed) WAL up to `lsn`."""
        self._wait(lambda: self._lsn("pg_last_wal_receive_lsn()") >= lsn, f"receipt of {lsn}")

    def wait_lag_over(self, seconds: float) -> None:
        """Wait until the last transaction replayed is older than `seconds` on the standby."""
        self._wait(
            lambda: self.sql(
                "SELECT clock_timestamp() - pg_last_xact_replay_timestamp() "
                "> make_interval(secs => %s)",
                [seconds],
            )[0],
            f"a lag over {seconds}s",
        )

    # -- helpers -----------------------------------------------------------------------------

    def _lsn(self, function: str) -> int:
        value = self.sql(f"SELECT {function} - '0/0'::pg_lsn")[0]
        return -1 if value is None else int(value)

    def _streaming(self) -> bool:
        try:
            row = self.sql("SELECT status FROM pg_stat_wal_receiver")
        except psycopg.OperationalError:
            return False
        return row is not None and row[0] == "streaming"

    def _configure(self) -> None:
        """The standby's own settings, after those the backup copied (the later one wins);
        a system server's configuration lives outside its data directory and is not copied."""
        lines = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = ''",
            "hot_standby = on",
            "fsync = off",
            "shared_buffers = '32MB'",
            "logging_collector = off",
            "archive_mode = off",
            *(f"{name} = {value}" for name, value in self._settings.items()),
        ]
        conf = self.data / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\n# The replica tests' standby (tests/replica_server.py)\n")
            handle.write("\n".join(lines) + "\n")
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        (self.data / "pg_ident.conf").write_text("")
        (self.data / "log").unlink(missing_ok=True)  # the embedded primary's log, copied along
        if self.run_as is not None:
            for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
                os.chown(self.data / name, self.run_as.pw_uid, self.run_as.pw_gid)

    def _run(self, program: str, *args: str) -> None:
        env = {**os.environ}
        if self.primary["PASSWORD"]:
            env["PGPASSWORD"] = self.primary["PASSWORD"]
        with (self.base / f"{program}.out").open("ab") as out:
            done = subprocess.run(
                [str(self.bin_dir / program), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.base,
                timeout=WAIT_SECONDS * 2,
                check=False,
                **self._as_owner(),
            )
        if done.returncode != 0:
            raise StandbyUnavailable(f"{program} failed:\n{self._tail(program)}")

    def _as_owner(self) -> dict:
        if self.run_as is None:
            return {}
        return {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}

    def _tail(self, program: str) -> str:
        texts = []
        for path in (self.base / f"{program}.out", self.log):
            if path.exists():
                texts.append(path.read_text(errors="replace")[-3000:])
        return "\n".join(texts)

    def _wait(self, done, what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{self._tail('pg_ctl')}")
            time.sleep(0.02)


def _primary_facts(primary) -> dict:
    names = ["data_directory", "server_version_num", *_MATCHED_SETTINGS]
    with primary.cursor() as cursor:
        cursor.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [names])
        facts = dict(cursor.fetchall())
    if "data_directory" not in facts:
        raise StandbyUnavailable("the test database's role cannot read data_directory")
    facts["server_version_num"] = int(facts["server_version_num"])
    return facts


def _binaries(major: int, data_directory: str) -> Path:
    """The bin folder of the primary's server: the running postmaster's, else one of the
    installed servers of the same major version."""
    candidates = []
    try:
        pid = int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
        candidates.append(Path(os.readlink(f"/proc/{pid}/exe")).parent)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import pgserver

        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    candidates.append(Path(f"/usr/lib/postgresql/{major}/bin"))
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(Path(found.stdout.strip()))
    for folder in candidates:
        if all((folder / name).exists() for name in ("postgres", "pg_ctl", "pg_basebackup")):
            version = subprocess.run(
                [str(folder / "postgres"), "--version"], capture_output=True, text=True
            ).stdout
            if _major(version) == major:
                return folder
    raise StandbyUnavailable(f"no PostgreSQL {major} server binaries found ({candidates})")


def _major(version_line: str) -> int | None:
    """16 from "postgres (PostgreSQL) 16.2", 15 from "... 15.20 (Debian 15.20-0+deb12u1)"."""
    try:
        return int(version_line.split(")")[1].split()[0].split(".")[0])
    except (IndexError, ValueError):
        return None


def _run_as(data_directory: str) -> pwd.struct_passwd | None:
    """The user to run the standby as: the owner of the primary's data when this process is
    root (as the primary's own server does), else this process's user."""
    if os.geteuid() != 0:
        return None
    try:
        owner = Path(data_directory).stat().st_uid
    except OSError as exc:
        raise StandbyUnavailable(f"the primary's data is not on this machine: {exc}") from exc
    if owner == 0:
        raise StandbyUnavailable("the primary's data directory belongs to root")
    return pwd.getpwuid(owner)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
