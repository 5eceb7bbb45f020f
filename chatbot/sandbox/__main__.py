"""`python -m chatbot.sandbox`: serve the sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse

import uvicorn

from .app import SandboxConfig
from .server import bind_socket, uvicorn_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chatbot.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay-ms", type=float, default=15.0, help="pause between streamed words")
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any key)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sock = bind_socket(args.host, args.port)
    port = sock.getsockname()[1]
    print(f"Anthropic sandbox listening on http://{args.host}:{port}  (ANTHROPIC_BASE_URL)", flush=True)
    config = SandboxConfig(api_key=args.api_key, delay_ms=args.delay_ms)
    uvicorn.Server(uvicorn_config(config)).run(sockets=[sock])


if __name__ == "__main__":
    main()
