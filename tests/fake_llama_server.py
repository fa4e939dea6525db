"""Stands in for ``python -m llama_cpp.server`` where the real model is not needed.

Same command line; serves ``GET /v1/models`` and a canned ``POST /v1/chat/completions`` on the
given loopback port, and writes its arguments to ``$FAKE_LLAMA_ARGS`` so tests can check them.
``FAKE_LLAMA_EXIT=N`` makes it fail at start-up like a broken build would.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "The reset link is valid for 30 minutes [1]."


class Handler(BaseHTTPRequestHandler):
    alias = "local"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _json(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._json({"object": "list", "data": [{"id": self.alias, "object": "model"}]})

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        message = {"role": "assistant", "content": f"{request['model']}: {ANSWER}"}
        usage = {"prompt_tokens": 9, "completion_tokens": 10, "total_tokens": 19}
        self._json({"id": "fake", "object": "chat.completion", "created": 0, "model": "local",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": usage})  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("-m", "--model", "--model_alias", "--host", "--port", "--n_ctx", "--n_threads",
                 "--disable_ping_events"):  # fmt: skip
        parser.add_argument(flag)
    args = parser.parse_args()
    if path := os.environ.get("FAKE_LLAMA_ARGS"):
        with open(path, "w") as f:
            json.dump(vars(args), f)
    if code := int(os.environ.get("FAKE_LLAMA_EXIT", "0")):
        print("fake llama server: failing at start-up", flush=True)
        sys.exit(code)
    Handler.alias = args.model_alias
    ThreadingHTTPServer((args.host, int(args.port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
