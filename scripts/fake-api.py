#!/usr/bin/env python3
"""A stand-in for Roboflow's Model Evaluations API on 127.0.0.1, for benchmarks.

    scripts/fake-api.py --port 8765 --delay-ms 200 --eval base=base.json --eval cand=cand.json

Serves GET /{workspace}/model-evals/{id} (a finished eval's record) and
/{workspace}/model-evals/{id}/map-results (the given file) for any workspace, each after the
given delay, from many threads at once. Loopback only.

The panels are served too, in the documented shapes, for the splits and classes of the file:
confidence-sweep, performance-by-class?split=S and confusion-matrix?split=S&confidence=N
(the values are synthetic).
"""
import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def class_names(doc):
    """The class names of each split of the map-results `doc`, in the file's order."""
    return {s: list((v or {}).get("perClass") or {}) for s, v in doc.get("splits", {}).items()}


def panels(doc):
    """The panel bodies of an eval whose map-results is `doc`, by path and query."""
    names = class_names(doc)

    def curve(shift):
        per = {}
        for i in range(100):
            t = i / 100
            p, r = min(1, 0.3 + 0.65 * t + shift), max(0, 0.98 - 0.9 * t * t - shift)
            per[f"{t:.2f}"] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4)}
        best = max(per, key=lambda k: per[k]["f1"])
        return {"perThreshold": per, "optimalThreshold": float(best), "optimalMetrics": per[best]}

    sweep = {"splits": {}}
    for s, classes in names.items():
        c = curve(0)
        c["perClass"] = {n: curve((i % 7) / 100) for i, n in enumerate(classes)}
        sweep["splits"][s] = c

    def by_class(split):
        return {"taskType": "object-detection-like", "split": split, "classes": [
            {"className": n, "map50": 0.9, "map50_95": 0.7, "map75": 0.8, "precision": 0.8,
             "recall": 0.7, "f1": 0.75, "optimalThreshold": 0.4} for n in names.get(split, [])]}

    def matrix(split, confidence):
        classes = names.get(split, [])
        n = len(classes)
        rows = [[0] * (n + 1) for _ in range(n + 1)]
        for i in range(n):
            rows[i][i], rows[i][n] = 20, round(20 * confidence / 100)
        rows[n][:n] = [2] * n
        return {"split": split, "confidenceThreshold": confidence / 100, "classes": classes + ["background"], "matrix": rows}

    cache = {}

    def answer(panel, query):
        # Serialised once per distinct request: the timing is the client's, not json.dumps's.
        key = (panel, tuple(query.get("split", [])), tuple(query.get("confidence", [])))
        if key not in cache:
            found = uncached(panel, query)
            cache[key] = found and (found[0], json.dumps(found[1]).encode())
        return cache[key]

    def uncached(panel, query):
        split = query.get("split", ["test"])[0]
        if panel == "confidence-sweep":
            return 200, sweep
        if panel == "performance-by-class":
            if split not in ("train", "valid", "test"):
                return 400, {"error": "invalid_split", "message": "Invalid split"}
            return 200, by_class(split)
        if panel == "confusion-matrix":
            confidence = query.get("confidence", ["20"])[0]
            if not confidence.isdigit() or int(confidence) > 100:
                return 400, {"error": "invalid_confidence", "message": "out of range"}
            return 200, matrix(split, int(confidence))
        return None

    return answer


def read_evals(specs):
    """The `ID=FILE` specs of --eval: each eval's map-results body and document, by id."""
    bodies, docs = {}, {}
    for spec in specs:
        eval_id, path = spec.split("=", 1)
        with open(path, "rb") as f:
            bodies[eval_id] = f.read()
        docs[eval_id] = json.loads(bodies[eval_id])
    return bodies, docs


def serve(port, delay_ms, bodies, route):
    """Serves a finished eval's record and its map-results for each eval of `bodies` on
    127.0.0.1:`port`, each answer after `delay_ms`, from many threads at once. Any other path
    below an eval goes to `route(eval_id, rest, query)`, which answers (status, body) or None
    (404)."""
    delay = delay_ms / 1000

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            time.sleep(delay)
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            body, status = b'{"error": "model_eval_not_found"}', 404
            if len(parts) >= 3 and parts[1] == "model-evals" and parts[2] in bodies:
                rest = parts[3:]
                if not rest:
                    record = {"evalId": parts[2], "status": "done", "project": "bench", "versionId": "1"}
                    body, status = json.dumps(record).encode(), 200
                elif rest == ["map-results"]:
                    body, status = bodies[parts[2]], 200
                else:
                    answer = route(parts[2], rest, parse_qs(url.query))
                    if answer:
                        status, body = answer
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    # socketserver listens with a backlog of 5: a client that opens a dozen connections at
    # once would see SYNs dropped and retried a second later, which no real API does.
    ThreadingHTTPServer.request_queue_size = 128
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def panel_route(docs):
    """A `route` for serve() that answers the panels of each eval of `docs`."""
    panel = {eval_id: panels(doc) for eval_id, doc in docs.items()}

    def route(eval_id, rest, query):
        return panel[eval_id](rest[0], query) if len(rest) == 1 else None

    return route


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--eval", action="append", default=[], metavar="ID=FILE")
    args = ap.parse_args()
    bodies, docs = read_evals(args.eval)
    serve(args.port, args.delay_ms, bodies, panel_route(docs))


if __name__ == "__main__":
    main()
