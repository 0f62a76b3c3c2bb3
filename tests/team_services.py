"""Team services on loopback, started the way a team runs them, once per test session.

- :class:`Postgres`: Debian's PostgreSQL (``initdb`` + ``postgres`` as the ``postgres`` user when
  we are root), password authentication (scram-sha-256) on 127.0.0.1 only, a random superuser
  password and an ``mlops`` login role, both in a ``.pgpass`` file (never in a URL).
- :class:`MlflowServer`: a real ``mlflow server`` with its backend store on that PostgreSQL,
  ``--artifacts-destination`` (proxied artifacts), MLflow's ``basic-auth`` app (users, roles,
  ``default_permission = NO_PERMISSIONS``, a random admin password: MLflow ships none) and
  ``--enable-workspaces``. Each test gets an MLflow workspace of its own.
- :class:`DaskCluster`: ``dask scheduler`` and two ``dask worker`` processes, started separately.
- :class:`S3Server`: moto's server mode (``moto_server``), an S3 API emulator on loopback. It is a
  test double of S3 (in memory, no durability, signatures not checked), used because no
  S3-compatible server (MinIO, Garage, SeaweedFS) installs from PyPI, npm or Debian here: Debian's
  ``radosgw`` needs a whole Ceph cluster, and npm's ``s3rver`` is an emulator too. The object store
  code under test speaks to it over HTTP through s3fs/botocore, as it would to S3.

Each service is its own process group, stopped at the end of the session. PostgreSQL missing is a
skip, or a failure when ``MLOPS_REQUIRE_TEAM=1`` (``.ci/run`` sets it after installing it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path | None:
    """The folder of Debian's PostgreSQL binaries (the newest installed), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _wait(check: Any, what: str, proc: subprocess.Popen[bytes] | None, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not become ready in {timeout:.0f}s:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    """Stop a process group we started (by its id), then make sure it is gone."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    fh = open(log, "ab")  # noqa: SIM115 - kept open for the process lifetime
    return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without our variables or a stray MLflow target."""
    drop = ("JUPYTER_MLOPS_", "MLFLOW_TRACKING_", "MLFLOW_WORKSPACE", "PGPASSWORD")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return env


@dataclasses.dataclass
class Postgres:
    """A private PostgreSQL cluster on 127.0.0.1 with password authentication."""

    base: Path
    port: int = dataclasses.field(default_factory=free_port)
    superuser_password: str = dataclasses.field(default_factory=lambda: secrets.token_urlsafe(18))
    app_password: str = dataclasses.field(default_factory=lambda: secrets.token_urlsafe(18))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def passfile(self) -> Path:
        return self.base / "pgpass"

    def url(self, database: str, *, user: str = "mlops", driver: str = "postgresql+psycopg") -> str:
        """A URL without a password (it is in :attr:`passfile`)."""
        return f"{driver}://{user}@127.0.0.1:{self.port}/{database}"

    def _as_postgres(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def start(self) -> Postgres:
        bindir = pg_bindir()
        assert bindir is not None, "PostgreSQL is not installed (apt-get install postgresql)"
        self.base.mkdir(parents=True, exist_ok=True)
        pwfile = self.base / "superuser.pw"
        pwfile.write_text(self.superuser_password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
            shutil.chown(pwfile, "postgres")
        log = self.base / "postgres.log"
        subprocess.run(
            self._as_postgres(
                [str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={pwfile}"]
            ),
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
        self.proc = _spawn(
            self._as_postgres(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.data),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "fsync=off",  # a throw-away test cluster; durability is PostgreSQL's own business
                ]
            ),
            log,
        )
        self.passfile.write_text(
            f"127.0.0.1:{self.port}:*:postgres:{self.superuser_password}\n127.0.0.1:{self.port}:*:mlops:{self.app_password}\n"
        )
        self.passfile.chmod(0o600)
        _wait(lambda: self._ready(bindir), "postgres", self.proc, log, timeout=60)
        self.sql("postgres", f"CREATE ROLE mlops LOGIN PASSWORD '{self.app_password}'")
        return self

    def _ready(self, bindir: Path) -> bool:
        out = subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True)
        return out.returncode == 0

    def sql(self, database: str, statement: str, *, user: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement (autocommit) and return its rows."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=user, dbname=database, passfile=str(self.passfile), autocommit=True
        ) as conn:
            cur = conn.execute(statement)
            return list(cur.fetchall()) if cur.description else []

    def create_database(self, name: str) -> str:
        """A new database owned by ``mlops``; returns its URL (no password)."""
        self.sql("postgres", f'CREATE DATABASE "{name}" OWNER mlops')
        return self.url(name)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT)  # "fast" shutdown


@dataclasses.dataclass
class MlflowServer:
    """``mlflow server`` on PostgreSQL with basic-auth, workspaces and proxied artifacts."""

    base: Path
    pg: Postgres
    port: int = dataclasses.field(default_factory=free_port)
    admin_password: str = dataclasses.field(default_factory=lambda: secrets.token_urlsafe(18))
    proc: subprocess.Popen[bytes] | None = None
    workspaces: bool = False
    passwords: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MlflowServer:
        self.base.mkdir(parents=True, exist_ok=True)
        backend = self.pg.create_database("mlflow")
        self.pg.create_database("mlflow_auth")
        ini = self.base / "basic_auth.ini"
        ini.write_text(
            "[mlflow]\n"
            "default_permission = NO_PERMISSIONS\n"
            f"database_uri = {self.pg.url('mlflow_auth', driver='postgresql')}\n"
            "admin_username = admin\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        help_text = subprocess.run([str(VENV_BIN / "mlflow"), "server", "--help"], capture_output=True, text=True).stdout
        self.workspaces = "--enable-workspaces" in help_text
        cmd = [
            str(VENV_BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--backend-store-uri",
            backend.replace("postgresql+psycopg://", "postgresql://"),
            "--artifacts-destination",
            str(self.base / "artifacts"),
            "--app-name",
            "basic-auth",
            "--workers",
            "2",
        ]
        if self.workspaces:
            cmd.append("--enable-workspaces")
        env = clean_env(
            PGPASSFILE=str(self.pg.passfile),
            MLFLOW_AUTH_CONFIG_PATH=str(ini),
            MLFLOW_AUTH_ADMIN_PASSWORD=self.admin_password,
            MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(16),
            MLFLOW_DISABLE_TELEMETRY="true",
            # MLflow's job runner (huey consumers for GenAI scorers) is nothing we use: 8 fewer processes.
            MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        )
        log = self.base / "mlflow.log"
        self.proc = _spawn(cmd, log, env=env, cwd=self.base)
        _wait(lambda: urllib.request.urlopen(self.url + "/health", timeout=2).status == 200, "mlflow server", self.proc, log, 120)
        return self

    def admin_env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": self.admin_password}

    def user_env(self, name: str) -> dict[str, str]:
        """MLflow's credential variables for ``name`` (created on first use, with a random password)."""
        if name not in self.passwords:
            from mlflow.server.auth.client import AuthServiceClient

            password = secrets.token_urlsafe(15)
            with using_env(self.admin_env()):
                AuthServiceClient(self.url).create_user(name, password)
            self.passwords[name] = password
        return {"MLFLOW_TRACKING_USERNAME": name, "MLFLOW_TRACKING_PASSWORD": self.passwords[name]}

    def create_workspace(self, name: str) -> str | None:
        """A new MLflow workspace (None when this MLflow has no workspaces)."""
        if not self.workspaces:
            return None
        from mlflow import MlflowClient

        with using_env(self.admin_env()):
            MlflowClient(self.url).create_workspace(name, description="a test's own")
        return name

    def stop(self) -> None:
        _stop(self.proc)


@dataclasses.dataclass
class DaskCluster:
    """A ``dask scheduler`` and two ``dask worker`` processes, each its own process group."""

    base: Path
    env: dict[str, str]
    port: int = dataclasses.field(default_factory=free_port)
    scheduler: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = dataclasses.field(default_factory=list)

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> DaskCluster:
        self.base.mkdir(parents=True, exist_ok=True)
        dask = str(VENV_BIN / "dask")
        log = self.base / "scheduler.log"
        self.scheduler = _spawn(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--dashboard-address", ":0"],
            log,
            env=self.env,
            cwd=self.base,
        )
        for i in range(2):
            self.add_worker(i)
        self.wait_for_workers(2)
        return self

    def add_worker(self, i: int) -> subprocess.Popen[bytes]:
        folder = self.base / f"worker-{i}"
        folder.mkdir(exist_ok=True)
        cmd = [str(VENV_BIN / "dask"), "worker", self.address, "--nworkers", "1", "--nthreads", "1", "--dashboard-address", ":0"]
        cmd += ["--name", f"w{i}", "--local-directory", str(folder), "--no-nanny"]
        proc = _spawn(cmd, self.base / f"worker-{i}.log", env=self.env, cwd=folder)
        self.workers.append(proc)
        return proc

    def worker_count(self) -> int:
        from distributed import Client

        with Client(self.address, timeout=10, set_as_default=False) as client:
            return len(client.scheduler_info()["workers"])

    def wait_for_workers(self, n: int, timeout: float = 90.0) -> None:
        _wait(lambda: self.worker_count() >= n, f"{n} dask workers", self.scheduler, self.base / "scheduler.log", timeout)

    def stop(self) -> None:
        for proc in self.workers:
            _stop(proc)
        _stop(self.scheduler)


@dataclasses.dataclass
class S3Server:
    """moto's S3 emulator on loopback (see the module docstring for what it is and why)."""

    base: Path
    port: int = dataclasses.field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        self.base.mkdir(parents=True, exist_ok=True)
        log = self.base / "moto.log"
        self.proc = _spawn([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)], log, env=clean_env())
        _wait(
            lambda: urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).status == 200, "moto_server", self.proc, log
        )
        return self

    def credentials(self) -> dict[str, str]:
        """AWS's variables, as s3fs reads them (moto accepts any key)."""
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}

    def create_bucket(self, name: str) -> None:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, **aws_kwargs(self.credentials())).create_bucket(Bucket=name)

    def stop(self) -> None:
        _stop(self.proc)


def aws_kwargs(creds: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": creds["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": creds["AWS_SECRET_ACCESS_KEY"],
        "region_name": creds["AWS_DEFAULT_REGION"],
    }


@contextlib.contextmanager
def using_env(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block (credentials the engines read themselves)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclasses.dataclass
class TeamServices:
    """PostgreSQL and the MLflow server of one session (Dask and S3 start on demand)."""

    base: Path
    pg: Postgres
    mlflow: MlflowServer
    _dask: DaskCluster | None = None
    _s3: S3Server | None = None
    _n: int = 0

    def unique(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    @property
    def dask(self) -> DaskCluster:
        if self._dask is None:
            env = clean_env(
                PGPASSFILE=str(self.pg.passfile), MLFLOW_DISABLE_TELEMETRY="true", **self.mlflow.user_env("dask-runner")
            )
            # The code under test (the repository, as this process imports it) and the test helpers.
            paths = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).parent), env.get("PYTHONPATH", "")]
            env["PYTHONPATH"] = os.pathsep.join(paths).rstrip(os.pathsep)
            self._dask = DaskCluster(self.base / "dask", env).start()
        return self._dask

    @property
    def s3(self) -> S3Server:
        if self._s3 is None:
            self._s3 = S3Server(self.base / "s3").start()
        return self._s3

    def team_config(
        self, folder: Path, *, roles: dict[str, list[str]] | None = None, executor: bool = False, objects: str | None = None
    ) -> tuple[Path, dict[str, Any]]:
        """A team configuration file for a new workspace: its own database and MLflow workspace.

        Returns the file and the values it sets. ``roles`` become ``[roles]`` (MLflow users are
        created for every member); the Dask runner is a researcher when ``executor`` is set.
        """
        name = self.unique("ws")
        db = self.pg.create_database(f"mlops_{name}")
        mlflow_ws = self.mlflow.create_workspace(f"team-{name}")
        roles = {k: list(v) for k, v in (roles or {}).items()}
        if executor:
            roles.setdefault("researcher", []).append("dask-runner")
        for members in roles.values():
            for member in members:
                self.mlflow.user_env(member)
        lines = [
            "[tracking]",
            f'uri = "{self.mlflow.url}"',
            *([f'workspace = "{mlflow_ws}"'] if mlflow_ws else []),
            "[metadata]",
            f'url = "{db}"',
            f'passfile = "{self.pg.passfile}"',
        ]
        if objects:
            lines += ["[objects]", f'url = "{objects}"']
        if executor:
            lines += ["[executor]", f'address = "{self.dask.address}"']
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "team.toml"
        path.write_text("\n".join(lines) + "\n")
        return path, {"db": db, "mlflow_workspace": mlflow_ws, "roles": roles}

    def stop(self) -> None:
        for service in (self._dask, self._s3, self.mlflow, self.pg):
            if service is not None:
                with contextlib.suppress(Exception):
                    service.stop()


def start_team_services(base: Path) -> TeamServices:
    """PostgreSQL, then the MLflow server on it."""
    pg = Postgres(base / "pg").start()
    try:
        server = MlflowServer(base / "mlflow", pg).start()
    except BaseException:
        pg.stop()
        raise
    return TeamServices(base, pg, server)


def make_team_workspace(
    services: TeamServices,
    folder: Path,
    *,
    roles: dict[str, list[str]],
    reviewers: tuple[str, ...] = (),
    executor: bool = False,
    objects: str | None = None,
    user: str = "alice",
) -> tuple[Path, dict[str, Any]]:
    """A workspace on the team services, made as a team's admin would: ``init --config``, roles, ``access sync``.

    Returns the project folder and what :meth:`TeamServices.team_config` set up.
    """
    from jupyter_mlops.cli.main import main

    config, info = services.team_config(folder / "admin", roles=roles, executor=executor, objects=objects)
    for reviewer in reviewers:
        services.mlflow.user_env(reviewer)
    root = folder / "project"
    with using_env(services.mlflow.user_env(user)):
        assert main(["--user", user, "init", str(root), "--config", str(config)]) == 0
    toml = root / ".mlops" / "config.toml"
    text = toml.read_text()
    if reviewers:
        text = text.replace("reviewers = []", "reviewers = [" + ", ".join(f'"{r}"' for r in reviewers) + "]")
    text += "\n[roles]\n" + "".join(
        f"{role} = [{', '.join(repr(m) for m in members)}]\n" for role, members in info["roles"].items()
    )
    toml.write_text(text.replace("'", '"'))
    with using_env(services.mlflow.admin_env()):
        assert main(["--root", str(root), "--user", "admin", "access", "sync"]) == 0
    return root, info
