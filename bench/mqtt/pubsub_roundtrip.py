#!/usr/bin/env python3
"""mosquitto_pub -> mosquitto_sub round trips through an MQTT broker: the baseline of an operator's shell.

One long-running mosquitto_sub prints every message on a topic of its own; for each message a new mosquitto_pub
process publishes it (QoS 1 both ways), with its send time (CLOCK_MONOTONIC, ns) as the payload. A round trip is
timed from just before mosquitto_pub is started to the moment this script has read mosquitto_sub's line for that
message, so it includes starting mosquitto_pub (fork and exec, library loading, TCP connect, MQTT CONNECT) and its
publish: what one request from a shell costs. The next mosquitto_pub starts after the previous one has exited.

    pubsub_roundtrip.py --port 1883 [--host 127.0.0.1] [--count 200] [--warmup 5] [--timeout 10]

Prints one JSON document: {program, broker, qos, count, warmup, pubsub_us: {p50, p90, p99, max, mean}}, exact
nearest-rank percentiles in microseconds. Exit code 0, 1 when the clients fail or a message does not arrive within
--timeout seconds, 2 on a usage error.
"""
import argparse
import json
import math
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

PROBE_INTERVAL_NS = 200_000_000


def fail(message):
    print(f"pubsub_roundtrip: {message}", file=sys.stderr)
    sys.exit(1)


class Lines:
    """mosquitto_sub's stdout, line by line, with a deadline on each read (it flushes after every message)."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""

    def read(self, deadline_ns):
        """The next line as text, or None at the deadline."""
        while b"\n" not in self.buffer:
            left = (deadline_ns - time.monotonic_ns()) / 1e9
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise EOFError("mosquitto_sub exited")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8", "replace")


def publish(args, topic, payload):
    """Starts mosquitto_pub for one message; the caller reaps it."""
    return subprocess.Popen(
        [args.pub, "-h", args.host, "-p", str(args.port), "-q", "1", "-t", topic, "-m", payload],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def reap(process, timeout):
    try:
        _, errors = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        fail(f"mosquitto_pub did not exit within {timeout:g} s")
    if process.returncode != 0:
        fail(f"mosquitto_pub exited with {process.returncode}: {errors.decode('utf-8', 'replace').strip()}")


def rank(ordered, fraction):
    """The smallest sample with at least `fraction` of the samples at or below it."""
    return ordered[min(max(math.ceil(fraction * len(ordered)) - 1, 0), len(ordered) - 1)]


def main():
    parser = argparse.ArgumentParser(description="Time mosquitto_pub -> mosquitto_sub round trips through a broker.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--count", type=int, default=200, help="measured round trips (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="round trips run first and left out (default 5)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each message (default 10)")
    args = parser.parse_args()
    if args.count < 1 or args.warmup < 0 or not args.timeout > 0:
        parser.error("--count must be 1 or more, --warmup 0 or more and --timeout above 0")
    args.pub = shutil.which("mosquitto_pub")
    sub_program = shutil.which("mosquitto_sub")
    if not args.pub or not sub_program:
        fail("mosquitto_pub and mosquitto_sub are needed (apt-get install mosquitto-clients)")

    topic = f"kairo-bench/pubsub/{os.getpid()}-{time.monotonic_ns()}"
    timeout_ns = int(args.timeout * 1e9)
    with tempfile.TemporaryFile() as sub_errors:
        sub = subprocess.Popen(
            [sub_program, "-h", args.host, "-p", str(args.port), "-q", "1", "-t", topic, "-F", "%p"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=sub_errors)
        try:
            lines = Lines(sub.stdout.fileno())

            def subscriber_failed(what):
                sub.kill()
                sub.wait()
                sub_errors.seek(0)
                fail(f"{what}; mosquitto_sub: {sub_errors.read().decode('utf-8', 'replace').strip() or '(nothing on stderr)'}")

            # mosquitto_sub has subscribed once a probe comes back; probes sent before that are lost, so resend.
            deadline = time.monotonic_ns() + timeout_ns
            probe = 0
            ready = False
            while not ready:
                if time.monotonic_ns() >= deadline:
                    subscriber_failed(f"mosquitto_sub did not receive a probe on {topic} within {args.timeout:g} s")
                probe += 1
                reap(publish(args, topic, f"probe-{probe}"), args.timeout)
                try:
                    line = lines.read(min(deadline, time.monotonic_ns() + PROBE_INTERVAL_NS))
                except EOFError:
                    subscriber_failed("mosquitto_sub exited")
                ready = line is not None and line.startswith("probe-")

            samples = []
            for i in range(-args.warmup, args.count):
                start = time.monotonic_ns()
                payload = str(start)
                pub = publish(args, topic, payload)
                deadline = start + timeout_ns
                while True:
                    try:
                        line = lines.read(deadline)
                    except EOFError:
                        subscriber_failed("mosquitto_sub exited")
                    if line is None:
                        subscriber_failed(f"message {i + args.warmup + 1} did not arrive within {args.timeout:g} s")
                    if line == payload:  # late probes are skipped
                        break
                arrived = time.monotonic_ns()
                reap(pub, args.timeout)
                if i >= 0:
                    samples.append(arrived - start)
        finally:
            if sub.poll() is None:
                sub.terminate()
                sub.wait()

    ordered = sorted(samples)

    def us(ns):
        return round(ns / 1e3, 1)

    print(json.dumps({
        "program": "mosquitto_pub -> mosquitto_sub",
        "broker": f"{args.host}:{args.port}",
        "qos": 1,
        "count": args.count,
        "warmup": args.warmup,
        "pubsub_us": {"p50": us(rank(ordered, 0.50)), "p90": us(rank(ordered, 0.90)), "p99": us(rank(ordered, 0.99)),
                      "max": us(ordered[-1]), "mean": us(sum(ordered) / len(ordered))},
    }))


if __name__ == "__main__":
    main()
