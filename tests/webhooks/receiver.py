"""A webhook receiver as a tender platform would run one: every message is
verified with the Standard Webhooks reference library (`standardwebhooks`),
not with the register's code. Verified messages are appended to --out as JSON
lines (id, type, seq, kvkNumbers, attempt time); refused ones to --out with
"verified": false. The secret is read from --secret-file at each request (the
test writes it once the subscription exists). Prints "listening PORT" when ready.
"""

import argparse
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

LOCK = threading.Lock()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--status", type=int, default=204)
    args = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {k: v for k, v in self.headers.items()}
            try:
                with open(args.secret_file, encoding="utf-8") as f:
                    secrets = [s for s in f.read().split() if s]
            except FileNotFoundError:
                secrets = []
            payload = None
            for secret in secrets:
                try:
                    payload = Webhook(secret).verify(body, headers)
                    break
                except WebhookVerificationError:
                    continue
            record = {
                "verified": payload is not None,
                "id": headers.get("webhook-id") or headers.get("Webhook-Id"),
                "at": time.time(),
                "sha": hashlib.sha256(body).hexdigest(),
            }
            if payload is not None:
                data = payload.get("data", {})
                event = data.get("event") or {}
                record.update(
                    type=payload.get("type"),
                    seq=event.get("seq"),
                    kvkNumbers=data.get("kvkNumbers"),
                    certificateNumber=event.get("certificateNumber")
                    or data.get("certificateNumber"),
                )
            with LOCK, open(args.out, "a", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
            self.send_response(args.status if payload is not None else 400)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
