"""Session fixtures for the SDK end-to-end tests.

They start the real binaries: `tollgate-mock` (a deterministic fake provider) and `tollgate serve`
pointed at it. Each process listens on port 0 and announces its address on the first line of its
stdout, which is read here (no fixed ports, no sleeping until ready). Binaries come from the
`TOLLGATE_BIN` / `TOLLGATE_MOCK_BIN` environment variables (scripts/test-sdk sets both), else from
`target/debug` of this checkout.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

ADMIN_TOKEN = "sdk-tests-admin-token-0123456789"
OPENAI_KEY = "sk-sdk-test-openai-key"
ANTHROPIC_KEY = "sk-ant-sdk-test-key"

# How long a process may take to print its address line: a bound on a failure, not a readiness wait.
STARTUP_TIMEOUT_S = 60
SHUTDOWN_TIMEOUT_S = 30


def _binary(env_var: str, default_name: str) -> str:
    path = os.environ.get(env_var) or str(REPO / "target" / "debug" / default_name)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.exit(
            f"{env_var}={path!r} is not an executable; build it "
            "(cargo build -p tollgate -p tollgate-mock-upstream) or run scripts/test-sdk",
            returncode=2,
        )
    return path


def _clean_env(**extra: str) -> dict[str, str]:
    """The parent's environment without Tollgate configuration variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not (k.startswith("TOLLGATE_") and "__" in k)}
    env.update(extra)
    return env


class Process:
    """A child process whose first stdout line is its address announcement."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], prefix: str, log_dir: str):
        self.name = name
        self.stderr_path = os.path.join(log_dir, f"{name}.stderr")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        first = self._first_line()
        if not first.startswith(prefix):
            self.kill()
            raise RuntimeError(
                f"{name}: expected a first stdout line starting with {prefix!r}, got {first!r}; "
                f"stderr:\n{self.stderr()}"
            )
        self.url = first[len(prefix):].strip().rstrip("/")
        self.first_line = first
        # Keep draining stdout so the child can never block on a full pipe.
        self.stdout_lines: list[str] = [first]
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()

    def _first_line(self) -> str:
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not selector.select(timeout=STARTUP_TIMEOUT_S):
                self.kill()
                raise RuntimeError(
                    f"{self.name}: printed nothing within {STARTUP_TIMEOUT_S}s; stderr:\n{self.stderr()}"
                )
        finally:
            selector.close()
        # Data (or EOF) is available; the line is flushed whole by the child.
        line = self.proc.stdout.readline().decode("utf-8", "replace")
        if not line:
            code = self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
            raise RuntimeError(f"{self.name}: exited with {code} before announcing its address; stderr:\n{self.stderr()}")
        return line.rstrip("\r\n")

    def _drain_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.stdout_lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))

    def stderr(self) -> str:
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-8000:]

    def terminate(self) -> int:
        """SIGTERM, then wait; returns the exit code (killing it if it does not stop in time)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not stop within {SHUTDOWN_TIMEOUT_S}s of SIGTERM")
        finally:
            self._drain.join(timeout=5)
            self._stderr.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Mock:
    """The running `tollgate-mock` and its control API."""

    def __init__(self, process: Process):
        self.process = process
        self.url = process.url

    def _call(self, method: str, path: str):
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def requests(self) -> list[dict]:
        """Recorded requests: `{method, path_and_query, headers: [[name, value]...], body}`."""
        return self._call("GET", "/__mock/requests")

    def clear(self) -> None:
        self._call("DELETE", "/__mock/requests")


class Gateway:
    """A running `tollgate serve` with its own data dir."""

    def __init__(self, process: Process, data_dir: str):
        self.process = process
        self.url = process.url
        self.data_dir = data_dir
        self.admin_token = ADMIN_TOKEN

    def proxy_url(self, provider: str, gateway: str = "default", account: str = "local") -> str:
        return f"{self.url}/v1/{account}/{gateway}/{provider}"

    @property
    def management_url(self) -> str:
        return f"{self.url}/client/v4"


@pytest.fixture(scope="session")
def tollgate_bin() -> str:
    return _binary("TOLLGATE_BIN", "tollgate")


@pytest.fixture(scope="session")
def mock_bin() -> str:
    return _binary("TOLLGATE_MOCK_BIN", "tollgate-mock")


@pytest.fixture(scope="session")
def logs_dir():
    path = tempfile.mkdtemp(prefix="tollgate-sdk-logs-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def mock(mock_bin, logs_dir):
    process = Process(
        "tollgate-mock",
        [mock_bin, "--listen", "127.0.0.1:0"],
        _clean_env(),
        "listening on ",
        logs_dir,
    )
    yield Mock(process)
    process.terminate()


@pytest.fixture(scope="session")
def start_gateway(tollgate_bin, mock, logs_dir):
    """Factory: starts one more gateway (own temp data dir, providers pointed at the mock)."""
    started: list[Gateway] = []

    def start(extra_config: str = "") -> Gateway:
        """`extra_config` is appended to the configuration file as it is."""
        data_dir = tempfile.mkdtemp(prefix="tollgate-sdk-data-")
        config = os.path.join(data_dir, "tollgate.toml")
        with open(config, "w") as f:
            f.write(
                f'[providers.openai]\nbase_url = "{mock.url}/v1"\n\n'
                f'[providers.anthropic]\nbase_url = "{mock.url}"\n\n'
                f'[providers.google-ai-studio]\nbase_url = "{mock.url}"\n\n'
                # An OpenAI-compatible provider other than OpenAI (the unified endpoint translates
                # the Responses and Messages APIs to its Chat Completions).
                f'[providers.groq]\nbase_url = "{mock.url}/v1"\n'
                f"{extra_config}\n"
            )
        process = Process(
            f"tollgate-{len(started)}",
            [tollgate_bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir, "--config", config],
            _clean_env(TOLLGATE_SERVER__ADMIN_TOKEN=ADMIN_TOKEN),
            "tollgate listening on ",
            logs_dir,
        )
        gateway = Gateway(process, data_dir)
        started.append(gateway)
        return gateway

    yield start

    failures = []
    for gateway in started:
        try:
            code = gateway.process.terminate()
        except AssertionError as error:
            failures.append(str(error))
            continue
        if code != 0:
            failures.append(
                f"{gateway.process.name} exited {code} on SIGTERM (expected 0); stderr:\n"
                f"{gateway.process.stderr()}"
            )
        shutil.rmtree(gateway.data_dir, ignore_errors=True)
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="session")
def gateway(start_gateway) -> Gateway:
    """The gateway the proxy tests share."""
    return start_gateway()


@pytest.fixture
def recorded(mock):
    """Clears the mock's request log before the test; call it to get what was recorded since."""
    mock.clear()
    return mock.requests
