#!/usr/bin/python3
"""An adapter that misbehaves on purpose, for adamconf's own tests.

    misbehaving_adapter.py --mode MODE

Modes: crash-at-hello, hang-at-hello, garbage-at-hello, crash-on-run, hang-on-run,
garbage-on-run, noise-on-stdout, wrong-length, wrong-id, nan, error, segfault,
stderr-flood (a correct adapter that writes megabytes to stderr), correct.
Apart from the misbehaviour it is the minimal adapter (Algorithm 1, float64).
"""
import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "adapters", "python"))
import minimal_adapter  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True)
    mode = parser.parse_args().mode
    for line in sys.stdin:
        request = json.loads(line)
        hello = request["op"] == "hello"
        stage = "at-hello" if hello else "on-run"
        if mode == f"crash-{stage}":
            print("something went badly wrong", file=sys.stderr)
            sys.exit(3)
        if mode == f"hang-{stage}":
            time.sleep(3600)
        if mode == f"garbage-{stage}":
            print("Traceback (most recent call last): not JSON at all", flush=True)
            continue
        if hello:
            print(json.dumps(minimal_adapter.HELLO), flush=True)
            continue
        if mode == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        if mode == "error":
            print(json.dumps({"id": request["id"], "error": "CUDA error: out of memory"}), flush=True)
            continue
        results = [minimal_adapter.run(request["hyperparameters"], c) for c in request["cases"]]
        if mode == "wrong-length":
            results[0]["theta"] = results[0]["theta"][:-1] if len(results[0]["theta"]) > 1 else []
        if mode == "nan":
            results[0]["theta"][-1][0] = float("nan")
        if mode == "noise-on-stdout":
            print("step done!", flush=True)
        if mode == "stderr-flood":
            sys.stderr.write("x" * 2_000_000 + "\n")
            sys.stderr.flush()
        answer = {"id": request["id"] + (1 if mode == "wrong-id" else 0), "results": results}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
