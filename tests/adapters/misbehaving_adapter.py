#!/usr/bin/python3
"""An adapter that misbehaves on purpose, for adamconf's own tests.

    misbehaving_adapter.py --mode MODE

Modes: crash-at-hello, hang-at-hello, garbage-at-hello, crash-on-run, hang-on-run,
garbage-on-run, noise-on-stdout, wrong-length, wrong-id, nan, error, segfault,
stderr-flood (a correct adapter that writes megabytes to stderr), correct;
and empty-results, short-elements (one element fewer), early-answer (an
answer printed before its request arrives), huge-number (1e999 in an answer),
hello-unknown-preset, hello-bad-state, exit-child-holds-stdout (exits with
status 5 at the first run while a child keeps stdout open), spawn-children
(starts a child and a setsid grandchild, both sleeping, and writes their pids
to $ADAMCONF_TEST_PIDS).
Apart from the misbehaviour it is the minimal adapter (Algorithm 1, float64).
"""
import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "adapters", "template"))
import minimal_adapter  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True)
    mode = parser.parse_args().mode
    if mode == "spawn-children":
        import subprocess
        child = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        grandchild = subprocess.Popen(["setsid", "sh", "-c", "sleep 1000 & echo $!; wait"], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, text=True)
        sleeper = grandchild.stdout.readline().strip()
        with open(os.environ["ADAMCONF_TEST_PIDS"], "w") as f:
            f.write(f"{child.pid} {grandchild.pid} {sleeper}\n")
    if mode == "early-answer":
        print(json.dumps(minimal_adapter.HELLO), flush=True)
        print(json.dumps({"id": 1, "results": []}), flush=True)
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
        if hello and mode == "early-answer":
            continue
        if hello and mode.startswith("hello-"):
            broken = json.loads(json.dumps(minimal_adapter.HELLO))
            if mode == "hello-unknown-preset":
                broken["optimizers"][0]["presets"] = ["pytorch_adam"]
            if mode == "hello-bad-state":
                broken["optimizers"][0]["state"] = "yes"
            print(json.dumps(broken), flush=True)
            continue
        if hello:
            print(json.dumps(minimal_adapter.HELLO), flush=True)
            continue
        if mode == "exit-child-holds-stdout":
            os.system("sleep 20 &")
            sys.exit(5)
        if mode == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        if mode == "error":
            print(json.dumps({"id": request["id"], "error": "CUDA error: out of memory"}), flush=True)
            continue
        results = [minimal_adapter.run(c) for c in request["cases"]]  # adamconf-adapter/2: theta per step, per tensor
        if mode == "wrong-length":
            results[0]["theta"] = results[0]["theta"][:-1] if len(results[0]["theta"]) > 1 else []
        if mode == "nan":
            results[0]["theta"][-1][0][0] = float("nan")
        if mode == "empty-results":
            results = []
        if mode == "short-elements":
            results[0]["theta"][-1][0] = results[0]["theta"][-1][0][:-1]
        if mode == "noise-on-stdout":
            print("step done!", flush=True)
        if mode == "stderr-flood":
            sys.stderr.write("x" * 2_000_000 + "\n")
            sys.stderr.flush()
        answer = {"id": request["id"] + (1 if mode == "wrong-id" else 0), "results": results}
        text = json.dumps(answer)
        if mode == "huge-number":
            text = text.replace('"theta": [[[', '"theta": [[[1e999, ', 1)
        print(text, flush=True)


if __name__ == "__main__":
    main()
