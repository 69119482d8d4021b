"""How fast the playground answers: every request a page makes, timed through the app.

    python benchmarks/playground.py                 # nets up to 3×32 units, 2,000 points
    python benchmarks/playground.py --repeats 50

The target (the playground issue): the first page load and every interaction answer within
200 ms on 2 cores, for nets up to 3×32 hidden units. Each request is sent through Starlette's
TestClient (the whole app: middleware, routing, JSON; no network), ``--repeats`` times; the
median and the worst are printed with their ratio to the target, and a line saying whether the
worst of all met it. A training chunk is bounded by time on the server
(``playground.CHUNK_SECONDS``), so asking for 1,000 steps answers as fast as asking for 100.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from starlette.testclient import TestClient

from chainrule.serve import playground
from chainrule.serve.app import create_app

TARGET_SECONDS = 0.200


def timed(call, repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = call()
        seconds.append(time.perf_counter() - started)
        if response.status_code >= 400:
            raise SystemExit(f"{response.request.url}: {response.status_code} {response.text}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    client = TestClient(create_app([]))
    big = {"dataset": "spirals", "settings": {"n": playground.MAX_POINTS}, "hidden": [32, 32, 32],
           "activation": "relu", "optimizer": "adam", "batch_size": 32}  # fmt: skip
    session_id = client.post("/api/playground/new", json=big).json()["id"]
    train = f"/api/playground/train/{session_id}"
    client.post(train, json={"steps": 5})  # compile or warm whatever the first step needs
    other = {**big, "hidden": [32, 32, 16]}

    def closed(response):  # a page that goes away again: sessions are bounded server-wide
        client.post(f"/api/playground/close/{response.json()['id']}")
        return response

    requests = {
        "page /playground": lambda: client.get("/playground"),
        "playground.js": lambda: client.get("/static/playground.js"),
        "options": lambda: client.get("/api/playground/options"),
        "new session (3×32, 2,000 points)": lambda: closed(
            client.post("/api/playground/new", json=big)
        ),
        "new settings (3×32)": lambda: client.post(
            f"/api/playground/settings/{session_id}", json=other
        ),
        "train 1 step + snapshot": lambda: client.post(train, json={"steps": 1}),
        "train 20 steps + snapshot": lambda: client.post(train, json={"steps": 20}),
        "train 1,000 steps (time-bounded)": lambda: client.post(train, json={"steps": 1000}),
        "reset": lambda: client.post(f"/api/playground/reset/{session_id}", json={}),
        "export recipe": lambda: client.get(f"/api/playground/recipe/{session_id}"),
        "export model file": lambda: client.get(f"/api/playground/model/{session_id}"),
    }
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"playground answers, {args.repeats} repeats, {cores} cores, target "
          f"{TARGET_SECONDS * 1000:.0f} ms")  # fmt: skip
    print(f"{'request':<36} {'median':>9} {'worst':>9} {'worst/target':>13}")
    worst = 0.0
    for name, call in requests.items():
        seconds = timed(call, args.repeats)
        worst = max(worst, max(seconds))
        print(f"{name:<36} {statistics.median(seconds) * 1000:>7.1f}ms "
              f"{max(seconds) * 1000:>7.1f}ms {max(seconds) / TARGET_SECONDS:>12.2f}×")  # fmt: skip
    verdict = "met" if worst <= TARGET_SECONDS else "MISSED"
    print(f"target {verdict}: the slowest answer took {worst * 1000:.0f} ms "
          f"({worst / TARGET_SECONDS:.2f}× the {TARGET_SECONDS * 1000:.0f} ms target)")  # fmt: skip


if __name__ == "__main__":
    main()
