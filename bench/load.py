"""A small HTTP/1.1 load generator (its own process): keep-alive connections posting events.

Bounded in time and count, 127.0.0.1 only. Prints JSON: requests/s, p50 and p99 in ms, errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from urllib.parse import urlsplit

MAX_REQUESTS = 200_000


def body(kind: str, n: int, run: str) -> bytes:
    """One event body: a contract CloudEvent for ours, the same fields for the bare endpoint."""
    event = {
        "specversion": "1.0",
        "id": f"{run}-{n}",
        "source": "load",
        "type": "call.logged",
        "subject": f"L-{n % 5000}",
        "time": "2026-03-01T10:00:00+08:00",
        "data": {"rep_id": f"R-{n % 40:03d}", "direction": "outbound", "duration_s": 60},
    }
    if kind == "bare":
        del event["specversion"]
    return json.dumps(event).encode()


async def worker(
    host: str,
    port: int,
    path: str,
    token: str,
    kind: str,
    run: str,
    deadline: float,
    counter: list[int],
    samples: list[float],
    errors: list[int],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline and counter[0] < MAX_REQUESTS:
            counter[0] += 1
            payload = body(kind, counter[0], run)
            content_type = "application/json" if kind == "bare" else "application/cloudevents+json"
            request = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode() + payload
            began = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            samples.append((time.perf_counter() - began) * 1000)
            status = int(status_line.split()[1])
            if status >= 300:
                errors[0] += 1
                statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--body", choices=["ours", "bare"], default="ours")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    assert parts.hostname in ("127.0.0.1", "localhost"), "load goes to this machine only"
    run = uuid.uuid4().hex[:8]
    counter, errors = [0], [0]
    samples: list[float] = []
    statuses: dict[int, int] = {}
    began = time.perf_counter()
    deadline = began + args.seconds
    await asyncio.gather(
        *(
            worker(
                parts.hostname,
                parts.port or 80,
                parts.path,
                args.token,
                args.body,
                run,
                deadline,
                counter,
                samples,
                errors,
                statuses,
            )
            for _ in range(args.concurrency)
        )
    )
    elapsed = time.perf_counter() - began
    samples.sort()
    print(
        json.dumps(
            {
                "requests_per_s": round(len(samples) / elapsed, 1),
                "p50_ms": round(statistics.median(samples), 2),
                "p99_ms": round(samples[min(len(samples) - 1, int(0.99 * len(samples)))], 2),
                "requests": len(samples),
                "errors": errors[0],
                "error_statuses": {str(k): v for k, v in sorted(statuses.items())},
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
