"""A real nginx on a loopback port in front of the app, configured as the README's
deployment section says (websocket upgrade, buffering off, X-Forwarded-*), plus what an
authenticating proxy adds: the signed-in user in a header.

nginx connects to the app from 127.0.0.2 (`proxy_bind`), so the app sees a peer address
that differs from a browser connecting directly (127.0.0.1) and can trust one, not the
other. A missing binary is an error, not a skip: `.ci/run` installs Debian's nginx.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import httpx

PROXY_ADDRESS = "127.0.0.2"

# The proxy lines of the README's nginx example (tests/e2e/test_e2e_proxy.py checks that
# the README still shows exactly these).
LOCATION = """\
    location / {
        proxy_pass http://127.0.0.1:{app_port};
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_buffering off;
        proxy_read_timeout 1h;
"""

CONFIG = """\
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
{location}        proxy_bind {proxy_address};
        {extra}
        }}
    }}
}}
"""


def nginx_binary() -> str:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("nginx is not installed, and the proxy tests need a real one: apt-get install nginx "
                       "(.ci/run does this in CI)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Nginx:
    """`with Nginx(tmp, app_port, user="pat") as url:` — the app through nginx; with
    `user`, nginx adds `X-Forwarded-User: <user>` as an authenticating proxy would."""

    def __init__(self, directory: Path, app_port: int, *, user: str | None = None) -> None:
        self.directory, self.app_port, self.user = Path(directory), app_port, user
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        extra = f'proxy_set_header X-Forwarded-User "{self.user}";' if self.user else ""
        config = self.directory / "nginx.conf"
        config.write_text(CONFIG.format(
            dir=self.directory, port=self.port, proxy_address=PROXY_ADDRESS, extra=extra,
            location=LOCATION.replace("{app_port}", str(self.app_port)),
        ))
        self._process = subprocess.Popen(
            [nginx_binary(), "-c", str(config), "-p", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{self.port}"
        transport = httpx.HTTPTransport(retries=50)  # connect retries: nginx binding, then the app
        with httpx.Client(transport=transport, timeout=30) as client:
            for _ in range(200):
                try:
                    if client.get(f"{url}/_stcore/health").status_code == 200:
                        return url
                except httpx.TransportError:
                    pass
                if self._process.poll() is not None:
                    raise RuntimeError((self._process.stderr.read() or b"").decode())
        raise RuntimeError("nginx did not pass health checks through")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process.stderr.close()
