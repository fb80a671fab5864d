#!/usr/bin/python3
"""A stand-in for evokernel-runner that answers the verifier with broken replies (tests only).

Usage: fake_runner.py MODE [runner arguments...]. It speaks the framed protocol (common/wire.h)
well enough to get to the reply that MODE breaks, computing ReLU with numpy where a correct
reply is needed to get further (level1/12_relu only). After a broken reply it stays alive, so
the verifier cannot blame a dead process: the reply itself must be judged.
"""
import json
import os
import sys
import time

import numpy as np

DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32,
          "bool": np.bool_, "float16": np.float16}

mode = sys.argv[1]
inp, out = sys.stdin.buffer, sys.stdout.buffer
slots = {}
spec = None


def read_frame():
    line = inp.readline()
    if not line:
        sys.exit(0)
    header = json.loads(line)
    tensors = []
    for t in header.get("tensors", []):
        data = inp.read(t["nbytes"])
        tensors.append(np.frombuffer(data, dtype=DTYPES[t["dtype"]]).reshape(t["shape"]))
    return header, tensors


def send(header, tensors=(), raw=None):
    header = dict(header)
    header["tensors"] = [{"name": "out%d" % i, "dtype": str(t.dtype), "shape": list(t.shape),
                          "nbytes": t.nbytes} for i, t in enumerate(tensors)]
    out.write((json.dumps(header) + "\n").encode())
    for t in tensors:
        out.write(np.ascontiguousarray(t).tobytes())
    if raw is not None:
        out.write(raw)
    out.flush()


def hang():
    out.flush()
    time.sleep(30)
    sys.exit(0)


OBS = {"canary": [], "modified_inputs": [], "threads": 1, "threads_granted": 1, "fp_changed": 0}

while True:
    h, ts = read_frame()
    cmd = h.get("cmd")
    if cmd == "quit":
        sys.exit(0)
    if cmd == "spec":
        spec = h
        if mode == "garbage":
            out.write(b"this is not a frame header\n")
            hang()
        if mode == "no_sandbox":
            send({"ok": True, "ready": True, "layout": {"slots": 8}})
            hang()
        if mode == "unknown_kind":
            send({"ok": False, "kind": "all_good_really", "error": "trust me"})
            hang()
        send({"ok": True, "ready": True, "sandbox": {"seccomp": True, "network_namespace": True},
              "layout": {"slots": h.get("slots", 8)}})
    elif cmd == "load":
        slots[h["slot"]] = ts
        if mode == "surplus_load":
            send({"ok": True}, [np.zeros(4, np.float32)])
            hang()
        send({"ok": True})
    elif cmd == "run":
        x = slots[h["slot"]][0]
        y = np.maximum(x, 0).astype(x.dtype)
        reply = dict(OBS, ok=True, latency_ns=1000.0, inner_ns=1000.0, outer_ns=2000.0, late_writes=[])
        if mode == "no_outputs":
            send(reply)
            hang()
        if mode == "wrong_shape":
            send(reply, [y.reshape(-1)[: y.size // 2].copy()])
            hang()
        if mode == "surplus_outputs":
            send(reply, [y, y])
            hang()
        if mode == "short_frame":
            header = dict(reply, tensors=[{"name": "y", "dtype": str(y.dtype), "shape": list(y.shape),
                                           "nbytes": y.nbytes}])
            out.write((json.dumps(header) + "\n").encode())
            out.write(y.tobytes()[: y.nbytes // 3])
            out.flush()
            os.close(1)  # the frame ends early (sys.stdout does not own descriptor 1); the process lives on
            time.sleep(30)
            sys.exit(0)
        if mode == "missing_field":
            del reply["threads"]
            send(reply, [y])
            hang()
        send(reply, [y])
    elif cmd == "time":
        calls = []
        fulls = []
        for c in h["calls"]:
            x = slots[c["slot"]][0]
            y = np.maximum(x, 0).astype(x.dtype)
            idx = np.random.randint(0, y.size, size=h.get("samples", 16))
            samples = [[int(i), float(y.reshape(-1)[i]), False] for i in idx]
            calls.append({"slot": c["slot"], "full": c["full"], "latency_ns": 1000.0, "inner_ns": 1000.0,
                          "outer_ns": 2000.0, "samples": [samples]})
            if c["full"]:
                fulls.append(y)
        reply = dict(OBS, ok=True, calls=calls, round_trip_ns=100.0, overhead_ns=100.0)
        if mode == "extra_calls":
            reply["calls"] = calls + calls[:1]
            send(reply, fulls + fulls[:1])
            hang()
        if mode == "negative_time":
            calls[0]["latency_ns"] = -5.0
            send(reply, fulls)
            hang()
        if mode == "sample_out_of_range":
            calls[0]["samples"][0][0][0] = 10 ** 12
            send(reply, fulls)
            hang()
        send(reply, fulls)
    else:
        send({"ok": False, "kind": "runtime_error", "error": "unknown command"})
