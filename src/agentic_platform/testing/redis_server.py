"""A private ``redis-server`` process for tests: started on a free loopback port, and able to
crash, hang and come back on the same port, so tests can prove what happens to the platform
when its Redis does."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` without persistence: a restart comes back empty, with an empty
    script cache, as a crashed cache server would."""

    def __init__(self, port: int | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise FileNotFoundError("redis-server is not installed")
        self._executable = executable
        self.port = port if port is not None else free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 5.0) -> None:
        """Start the server and wait until it answers PING."""
        arguments = ["--port", str(self.port), "--bind", "127.0.0.1"]
        arguments += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self._process = subprocess.Popen(  # noqa: S603 - a fixed executable and arguments
            [self._executable, *arguments],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._answers_ping():
                return
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Kill the server as a crash would, frozen or not."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=5)
            self._process = None

    def freeze(self) -> None:
        """Hang the server: the kernel still accepts connections, nothing answers."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False
