#!/usr/bin/env python3
"""A stand-in for Roboflow's Model Evaluations API on 127.0.0.1, for benchmarks.

    scripts/fake-api.py --port 8765 --delay-ms 200 --eval base=base.json --eval cand=cand.json

Serves GET /{workspace}/model-evals/{id} (a finished eval's record) and
/{workspace}/model-evals/{id}/map-results (the given file) for any workspace, each after the
given delay, from many threads at once. Loopback only.
"""
import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--eval", action="append", default=[], metavar="ID=FILE")
    args = ap.parse_args()
    bodies = {}
    for spec in args.eval:
        eval_id, path = spec.split("=", 1)
        with open(path, "rb") as f:
            bodies[eval_id] = f.read()
    delay = args.delay_ms / 1000

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            time.sleep(delay)
            parts = self.path.strip("/").split("/")
            body, status = b'{"error": "model_eval_not_found"}', 404
            if len(parts) >= 3 and parts[1] == "model-evals" and parts[2] in bodies:
                if len(parts) == 3:
                    record = {"evalId": parts[2], "status": "done", "project": "bench", "versionId": "1"}
                    body, status = json.dumps(record).encode(), 200
                elif parts[3:] == ["map-results"]:
                    body, status = bodies[parts[2]], 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
