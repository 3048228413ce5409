"""Headless-Chromium helpers: serve an ASGI app on a real port and look at pages the way a browser does.

``render(url)`` runs ``/usr/bin/chromium --headless --dump-dom`` with every host but 127.0.0.1 made
unreachable (DNS fails and a dead proxy catches IP literals), and records the page's own network
requests from Chromium's net log, so a test can assert both "it renders" and "it fetched nothing
external". ``scripts/ensure-chromium.sh`` installs Chromium; without it these helpers skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
ENSURE_CHROMIUM = Path(__file__).resolve().parents[1] / "scripts" / "ensure-chromium.sh"
TIMEOUT_S = 60.0
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def require_chromium() -> Path:
    """The Chromium binary; skips the test when it is absent and cannot be installed here."""
    if CHROMIUM.exists():
        return CHROMIUM
    can_install = os.geteuid() == 0 and shutil.which("apt-get") is not None
    if not can_install:
        pytest.skip(f"{CHROMIUM} is not installed (run scripts/ensure-chromium.sh as root to install it)")
    subprocess.run(["/bin/sh", str(ENSURE_CHROMIUM)], check=False, timeout=600)
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing and scripts/ensure-chromium.sh could not install it")
    return CHROMIUM


@dataclass(frozen=True)
class Page:
    """What Chromium saw: the DOM after scripts ran, the URLs the page requested, its console lines."""

    url: str
    dom: str
    requests: tuple[str, ...]
    console: tuple[str, ...]

    @property
    def external_requests(self) -> list[str]:
        """Requests the page made to anything other than the local test server."""
        return [u for u in self.requests if (urlsplit(u).hostname or "") not in LOCAL_HOSTS]


def _site(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}"


def _page_requests(net_log: Path, page_url: str) -> tuple[str, ...]:
    """URLs requested on behalf of the page (not Chromium's own background traffic) from a net log."""
    try:
        log: dict[str, Any] = json.loads(net_log.read_text())
    except (OSError, ValueError):
        return ()
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    site = _site(page_url)
    urls: list[str] = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        if event.get("type") != start_job or "url" not in params:
            continue
        # The network isolation key is "<top-frame site> <frame site>"; the browser's own update and
        # account checks carry "null null" or a Google site, the page's requests carry the page's site.
        if str(params.get("network_isolation_key", "")).split(" ")[0] == site:
            urls.append(params["url"])
    return tuple(dict.fromkeys(urls))


def _console(stderr: str) -> tuple[str, ...]:
    return tuple(line.split("] ", 1)[-1] for line in stderr.splitlines() if ":CONSOLE" in line)


def render(url: str, *, wait_ms: int = 8000, offline: bool = True) -> Page:
    """Load ``url`` in headless Chromium, let scripts run for ``wait_ms`` of virtual time, return the page.

    With ``offline`` (the default) any request to a host other than 127.0.0.1 fails, so a page that
    depends on a CDN visibly breaks; ``Page.external_requests`` lists such attempts either way.
    """
    chromium = require_chromium()
    with tempfile.TemporaryDirectory(prefix="claims-chromium-") as tmp:
        profile = Path(tmp) / "profile"
        net_log = Path(tmp) / "net-log.json"
        args = [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--mute-audio",
            # Chromium's own services (form autofill hints, translate, optimization guide) call Google
            # whatever the page does; they are not the page's requests, so they are switched off.
            "--disable-features=AutofillServerCommunication,Translate,OptimizationHints,MediaRouter",
            f"--user-data-dir={profile}",
            f"--log-net-log={net_log}",
            "--enable-logging=stderr",
            "--v=0",
            f"--virtual-time-budget={wait_ms}",
        ]
        if offline:
            args += [
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
                # Loopback always bypasses proxies; everything else (IP literals too) hits a closed port.
                "--proxy-server=http://127.0.0.1:9",
            ]
        args += ["--dump-dom", url]
        proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"chromium did not finish rendering {url} within {TIMEOUT_S:.0f} s")
        finally:
            # Renderer/GPU helpers share the session; make sure none outlive the call.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode != 0 or not stdout.strip():
            pytest.fail(f"chromium exited {proc.returncode} rendering {url}:\n{stderr[-4000:]}")
        return Page(url=url, dom=stdout, requests=_page_requests(net_log, url), console=_console(stderr))


def render_dom(url: str, *, wait_ms: int = 8000) -> str:
    """The DOM of ``url`` after its scripts ran, rendered by headless Chromium with the network cut off."""
    return render(url, wait_ms=wait_ms).dom


@contextlib.contextmanager
def serve_in_thread(app: Any, **config: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free 127.0.0.1 port in a background thread; yield its base URL.

    Extra keyword arguments go to ``uvicorn.Config`` (e.g. ``lifespan="off"``). The HTTP protocol is
    the one ``claims serve`` runs (uvicorn's httptools).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options: dict[str, Any] = {
        "log_level": "warning",
        "http": "httptools",
        "ws": "websockets-sansio",
        **config,
    }
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # surfaced in the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if failure or not thread.is_alive():
            sock.close()
            raise RuntimeError(f"uvicorn failed to start: {failure[0] if failure else 'exited'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("uvicorn did not start within 30 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        if failure:
            raise RuntimeError("uvicorn crashed") from failure[0]
