#!/usr/bin/env python3
"""evokernel's PyTorch oracle.

Loads one KernelBench-format task file (unchanged, with optional shape-constant overrides),
describes the kernel contract it implies, produces seeded reference trials (inputs, parameters
and expected outputs) and times the PyTorch eager baseline.

It is a long-lived worker driven by evokernel over stdin/stdout with the framed protocol of
src/common/wire.h: one JSON header line, then the raw bytes of the tensors it lists. Anything
the task itself prints goes to stderr, never into the protocol stream.

Commands (header "cmd"):
  describe                      -> contract: args (inputs, params, outputs), constants, ops
  trial {seed, distribution}    -> tensors: inputs, params, outputs for that seed; distribution
                                   "default" (the task's get_inputs) or a hidden one never shown
                                   to models: "outliers" (0.5% of each float input's elements
                                   scaled by 4..8) or "scaled" (float inputs times 2.5)
  time {seed, warmup, trials, flush_bytes} -> {"times_ns": [...], "overhead_ns": per-call cost
                                   outside the timed interval} for the eager baseline
  quit
"""

import ast
import inspect
import json
import os
import sys
import time
import traceback

# The protocol stream is a private duplicate of fd 1; fd 1 itself then points at stderr so that
# print() in a task (or C-level writes from libraries) cannot corrupt it.
_PROTO_OUT = os.fdopen(os.dup(1), "wb", buffering=0)
os.dup2(2, 1)
sys.stdout = sys.stderr
_PROTO_IN = sys.stdin.buffer

import torch  # noqa: E402  (after the fd shuffle on purpose)

_DTYPES = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.int64: "int64",
    torch.int32: "int32",
    torch.bool: "bool",
    torch.uint8: "uint8",
}


class TaskError(Exception):
    """A problem with the task file; the message names the file and, where known, the line."""


# ---------------------------------------------------------------------------------------------
# Loading


def _literal_constants(tree):
    """Module-level `NAME = <literal>` assignments: {name: (value, node)}."""
    consts = {}
    for node in tree.body:
        target = value = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if not isinstance(target, ast.Name):
            continue
        try:
            v = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError):
            continue
        if isinstance(v, (bool, int, float, str, tuple, list)):
            consts[target.id] = (v, node)
    return consts


def _coerce_override(path, name, old, new):
    """Checks an override against the constant it replaces; returns the value to write."""
    if isinstance(old, bool):
        if not isinstance(new, bool):
            raise TaskError(f"{path}: override {name}={new!r}: expected a bool like the task's {old!r}")
        return new
    if isinstance(old, int):
        if isinstance(new, bool) or not isinstance(new, int):
            raise TaskError(f"{path}: override {name}={new!r}: expected an integer like the task's {old!r}")
        return new
    if isinstance(old, float):
        if isinstance(new, bool) or not isinstance(new, (int, float)):
            raise TaskError(f"{path}: override {name}={new!r}: expected a number like the task's {old!r}")
        return float(new)
    if isinstance(old, (tuple, list)):
        if not isinstance(new, (tuple, list)):
            raise TaskError(f"{path}: override {name}={new!r}: expected a sequence like the task's {old!r}")
        return tuple(new) if isinstance(old, tuple) else list(new)
    if isinstance(old, str):
        if not isinstance(new, str):
            raise TaskError(f"{path}: override {name}={new!r}: expected a string like the task's {old!r}")
        return new
    raise TaskError(f"{path}: override {name}: constant of unsupported type")


def _user_frame(path, exc):
    """'file:line' of the innermost frame of the task file in exc's traceback."""
    where = path
    for fr in traceback.extract_tb(exc.__traceback__):
        if fr.filename == path:
            where = f"{path}:{fr.lineno}"
    return where


def load_task(path, overrides):
    try:
        with open(path, "r", encoding="utf-8") as f:
            src = f.read()
    except OSError as e:
        raise TaskError(f"{path}: cannot read task file: {e.strerror}")
    try:
        tree = ast.parse(src, filename=path)
    except SyntaxError as e:
        raise TaskError(f"{path}:{e.lineno}: syntax error: {e.msg}")
    consts = _literal_constants(tree)
    for name, new in overrides.items():
        if name not in consts:
            known = ", ".join(sorted(k for k in consts if not k.startswith("_"))) or "none"
            raise TaskError(
                f"{path}: override '{name}': the task has no module-level constant '{name}' "
                f"(its constants: {known})")
        old, node = consts[name]
        value = _coerce_override(path, name, old, new)
        expr = ast.parse(repr(value), mode="eval").body
        node.value = ast.copy_location(expr, node.value)
        consts[name] = (value, node)
    ast.fix_missing_locations(tree)
    ns = {"__name__": "__evokernel_task__", "__file__": path}
    try:
        exec(compile(tree, path, "exec"), ns)
    except Exception as e:  # noqa: BLE001 - any failure of user code is a task error
        raise TaskError(f"{_user_frame(path, e)}: executing the task failed: {type(e).__name__}: {e}")
    for fn in ("Model", "get_inputs", "get_init_inputs"):
        if fn not in ns:
            raise TaskError(f"{path}: missing '{fn}' (a KernelBench task defines class Model, "
                            f"get_inputs() and get_init_inputs() at module level)")
        if not callable(ns[fn]):
            raise TaskError(f"{path}: '{fn}' is not callable")
    constants = {k: v for k, (v, _) in consts.items() if not k.startswith("_")}
    return ns, constants, src


def _c_identifier(name):
    out = "".join(ch if (ch.isalnum() or ch == "_") else "_" for ch in name)
    if not out or out[0].isdigit():
        out = "t_" + out
    return out


def _json_value(v):
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (tuple, list)):
        return [_json_value(x) for x in v]
    if isinstance(v, torch.Tensor):
        return {"tensor": list(v.shape), "dtype": str(v.dtype)}
    return repr(v)


class Oracle:
    def __init__(self, path, overrides, threads):
        self.path = path
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        self.threads = threads
        self.ns, self.constants, self.src = load_task(path, overrides)
        self.model_cls = self.ns["Model"]
        self._timed = None  # (seed, model, inputs) of the last time request
        self._flush = None  # cache-flush buffer of the time requests

    # -- running user code with file:line errors ----------------------------------------------
    def _call(self, what, fn, *args):
        try:
            return fn(*args)
        except TaskError:
            raise
        except Exception as e:  # noqa: BLE001
            raise TaskError(f"{_user_frame(self.path, e)}: {what} failed: {type(e).__name__}: {e}")

    def _build(self, seed):
        """Model weights and inputs are both drawn from `seed`."""
        torch.manual_seed(seed)
        init = self._call("get_init_inputs()", self.ns["get_init_inputs"])
        if not isinstance(init, (list, tuple)):
            raise TaskError(f"{self.path}: get_init_inputs() must return a list, got {type(init).__name__}")
        model = self._call("Model(*get_init_inputs())", self.model_cls, *init)
        if not isinstance(model, torch.nn.Module):
            raise TaskError(f"{self.path}: Model is not a torch.nn.Module")
        inputs = self._call("get_inputs()", self.ns["get_inputs"])
        if not isinstance(inputs, (list, tuple)):
            raise TaskError(f"{self.path}: get_inputs() must return a list, got {type(inputs).__name__}")
        return init, model, list(inputs)

    def _forward(self, model, inputs):
        with torch.no_grad():
            out = self._call("Model.forward", model, *inputs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        for i, o in enumerate(outs):
            if not isinstance(o, torch.Tensor):
                raise TaskError(f"{self.path}: forward() output {i} is a {type(o).__name__}, not a tensor")
        return outs

    @staticmethod
    def _params(model):
        """Parameters and buffers the kernel receives, in state_dict order.

        BatchNorm's num_batches_tracked is bookkeeping no forward pass reads; it is left out.
        """
        seen = set()
        out = []
        for name, t in model.state_dict(keep_vars=True).items():
            if name.endswith("num_batches_tracked"):
                continue
            seen.add(name)
            out.append((name, t))
        for name, t in model.named_buffers():
            if name not in seen and not name.endswith("num_batches_tracked"):
                out.append((name, t))
        return out

    def _check_dtype(self, what, t):
        if t.dtype not in _DTYPES:
            raise TaskError(f"{self.path}: {what} has dtype {t.dtype}, which evokernel does not support "
                            f"(supported: {', '.join(_DTYPES.values())})")

    def _input_names(self, n):
        try:
            params = list(inspect.signature(self.model_cls.forward).parameters.values())[1:]
        except (TypeError, ValueError):
            params = []
        names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(names) != n:
            names = [f"in{i}" for i in range(n)]
        return [_c_identifier(x) for x in names]

    # -- commands ------------------------------------------------------------------------------
    def describe(self, seed):
        init, model, inputs = self._build(seed)
        outs = self._forward(model, inputs)
        args, scalars, used = [], [], set()

        def unique(name):
            base, k = name, 1
            while name in used:
                name = f"{base}_{k}"
                k += 1
            used.add(name)
            return name

        names = self._input_names(len(inputs))
        for i, (x, name) in enumerate(zip(inputs, names)):
            if isinstance(x, torch.Tensor):
                self._check_dtype(f"input {i} ({name})", x)
                args.append({"name": unique(name), "role": "input", "dtype": _DTYPES[x.dtype],
                             "shape": list(x.shape), "source": f"forward argument {i}"})
            elif isinstance(x, (bool, int, float)):
                scalars.append({"name": unique(name), "value": x, "source": f"forward argument {i}"})
            else:
                raise TaskError(f"{self.path}: get_inputs() element {i} is a {type(x).__name__}; "
                                f"only tensors and Python numbers are supported")
        for pname, t in self._params(model):
            self._check_dtype(f"parameter {pname}", t)
            args.append({"name": unique(_c_identifier(pname)), "role": "param",
                         "dtype": _DTYPES[t.dtype], "shape": list(t.shape), "source": pname})
        for i, o in enumerate(outs):
            self._check_dtype(f"output {i}", o)
            args.append({"name": unique("out" if len(outs) == 1 else f"out{i}"), "role": "output",
                         "dtype": _DTYPES[o.dtype], "shape": list(o.shape),
                         "source": f"forward() output {i}"})
        return {
            "ok": True,
            "args": args,
            "scalar_args": scalars,
            "constants": {k: _json_value(v) for k, v in self.constants.items()},
            "init_inputs": [_json_value(v) for v in init],
            "modules": sorted({type(m).__name__ for m in model.modules() if m is not model}),
            "calls": self._forward_calls(),
            **self._work(model, inputs),
            "doc": inspect.getdoc(self.model_cls) or "",
            "env": self.env(),
        }

    def _work(self, model, inputs):
        """Operators the forward pass runs and the floating-point operations it does.

        FLOPs come from torch.profiler's formulas, which cover matmul-like ops, convolutions and
        elementwise add/mul; other operators count 0, so the total is a lower bound on the work,
        which is what the roofline check needs (docs/eval.md).
        """
        try:
            from torch.profiler import profile, ProfilerActivity
            with torch.no_grad(), profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
                self._call("Model.forward", model, *inputs)
            events = prof.key_averages()
        except TaskError:
            raise
        except Exception as e:  # noqa: BLE001 - the profiler is optional
            return {"flops": None, "flops_by_op": {}, "aten_ops": [], "flops_error": f"{type(e).__name__}: {e}"}
        by_op = {e.key: int(e.flops) for e in events if e.flops}
        aten = sorted({e.key for e in events if e.key.startswith("aten::")})
        return {"flops": int(sum(by_op.values())), "flops_by_op": by_op, "aten_ops": aten}

    def _forward_calls(self):
        """Names of functions/methods called in the Model class body (an operator signature)."""
        try:
            tree = ast.parse(inspect.getsource(self.model_cls))
        except (OSError, TypeError, SyntaxError):
            tree = ast.parse(self.src)
        calls = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Attribute):
                    calls.add(f.attr)
                elif isinstance(f, ast.Name):
                    calls.add(f.id)
        return sorted(calls - {"super", "__init__"})

    @staticmethod
    def _transform(inputs, distribution, seed, strength):
        """Hidden input distributions: same shapes and dtypes, different values.

        Only floating-point tensors change (integer targets, boolean masks and Python numbers
        keep their meaning). Signs are preserved, so inputs that must stay positive do.
        """
        if distribution == "default":
            return inputs
        g = torch.Generator().manual_seed(seed * 7919 + 17)
        out = []
        for x in inputs:
            if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel() > 0):
                out.append(x)
                continue
            y = x.detach().clone().contiguous()
            if distribution == "outliers":
                n = max(1, y.numel() // 200)
                idx = torch.randint(0, y.numel(), (n,), generator=g)
                factor = 1 + (3 + 4 * torch.rand(n, generator=g, dtype=y.dtype)) * strength
                y.view(-1)[idx] *= factor
            elif distribution == "scaled":
                y *= 1 + 1.5 * strength
            else:
                raise TaskError(f"unknown input distribution {distribution!r}")
            out.append(y)
        return out

    @staticmethod
    def _finite(tensors):
        # min and max propagate NaN and show an infinity: one read of the tensor, no boolean
        # tensor of its size (20-40 ms for a 28 MiB output; aminmax takes about 1.5 ms).
        for t in tensors:
            if not t.is_floating_point() or t.numel() == 0:
                continue
            try:
                lo, hi = torch.aminmax(t)
                if not (bool(torch.isfinite(lo)) and bool(torch.isfinite(hi))):
                    return False
            except RuntimeError:  # a dtype without aminmax on this build
                if not bool(torch.isfinite(t).all()):
                    return False
        return True

    def trial(self, seed, distribution="default"):
        _, model, inputs = self._build(seed)
        params = [(n, t.detach().clone()) for n, t in self._params(model)]
        used = distribution
        if distribution == "default":
            outs = self._forward(model, inputs)
        else:
            # A hidden distribution must stay a valid input: if it makes the reference
            # non-finite where the task's own inputs do not, soften it, then give up on it.
            # (The reference on the task's own inputs is only computed when needed.)
            base_finite = None
            for strength in (1.0, 0.5, 0.25):
                candidate = self._transform(inputs, distribution, seed, strength)
                outs = self._forward(model, candidate)
                if not self._finite(outs) and base_finite is None:
                    base_finite = self._finite(self._forward(model, inputs))
                if self._finite(outs) or not base_finite:
                    inputs = candidate
                    used = distribution if strength == 1.0 else f"{distribution}*{strength}"
                    break
            else:
                outs = self._forward(model, inputs)
                used = "default (fallback)"
        tensors = []
        for x in inputs:
            if isinstance(x, torch.Tensor):
                tensors.append(x)
        tensors += [t for _, t in params]
        tensors += outs
        return {"ok": True, "seed": seed, "num_outputs": len(outs), "distribution": used}, tensors

    def time(self, seed, warmup, trials, flush_bytes):
        # Timing comes in rounds on the same seed: build the model and inputs once.
        if self._timed is None or self._timed[0] != seed:
            self._timed = (seed,) + self._build(seed)[1:]
        _, model, inputs = self._timed
        # One flush buffer for the worker's life: a fresh one would page-fault on its first fill
        # in every request, which the budget would count as per-call cost.
        if not flush_bytes:
            flush = None
        else:
            if self._flush is None or self._flush.numel() != max(flush_bytes // 4, 1):
                self._flush = torch.zeros(max(flush_bytes // 4, 1), dtype=torch.float32)
            flush = self._flush
        times = []
        with torch.no_grad():
            for _ in range(warmup):
                model(*inputs)
            loop_start = time.perf_counter_ns()
            for i in range(trials):
                if flush is not None:
                    flush.fill_(float(i))
                t0 = time.perf_counter_ns()
                model(*inputs)
                times.append(time.perf_counter_ns() - t0)
            loop_ns = time.perf_counter_ns() - loop_start
        # What each timed call costs outside its measured interval (the flush, the loop).
        overhead = max(0, loop_ns - sum(times)) / max(trials, 1)
        return {"ok": True, "times_ns": times, "overhead_ns": overhead}

    def env(self):
        blas = ""
        try:
            with open("/proc/self/maps") as f:
                libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
            blas = ", ".join(sorted(os.path.realpath(p) for p in libs))
        except OSError:
            pass
        return {"torch": torch.__version__, "python": sys.version.split()[0], "blas": blas,
                "threads": torch.get_num_threads()}


# ---------------------------------------------------------------------------------------------
# Protocol


def _write(header, tensors=()):
    tensors = [t.detach().contiguous() for t in tensors]
    header = dict(header)
    header["tensors"] = [{"name": "", "dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                          "nbytes": t.numel() * t.element_size()} for t in tensors]
    _write_all(json.dumps(header).encode() + b"\n")
    for t in tensors:
        if t.numel():
            # The tensor's own memory, no intermediate copy (tensors are tens of MB).
            _write_all(memoryview(t.numpy()).cast("B"))


def _write_all(data):
    view = memoryview(data)
    while view:
        n = _PROTO_OUT.write(view)
        view = view[n:]


def _read():
    line = _PROTO_IN.readline()
    if not line:
        return None
    header = json.loads(line)
    for d in header.get("tensors", []):  # commands carry no tensors today; skip any payload
        _PROTO_IN.read(d["nbytes"])
    return header


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", required=True)
    ap.add_argument("--overrides", default="{}", help="JSON object of constant overrides")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    try:
        oracle = Oracle(a.task, json.loads(a.overrides), a.threads)
        _write({"ok": True, "ready": True})
    except TaskError as e:
        _write({"ok": False, "kind": "invalid_task", "error": str(e)})
        return 0
    while True:
        try:
            req = _read()
        except (ValueError, KeyError) as e:
            _write({"ok": False, "kind": "internal", "error": f"bad request: {e}"})
            continue
        if req is None or req.get("cmd") == "quit":
            return 0
        cmd = req.get("cmd")
        try:
            if cmd == "describe":
                _write(oracle.describe(int(req.get("seed", 0))))
            elif cmd == "trial":
                header, tensors = oracle.trial(int(req["seed"]), str(req.get("distribution", "default")))
                _write(header, tensors)
            elif cmd == "time":
                _write(oracle.time(int(req.get("seed", 0)), int(req.get("warmup", 3)),
                                   int(req.get("trials", 10)), int(req.get("flush_bytes", 0))))
            else:
                _write({"ok": False, "kind": "internal", "error": f"unknown command {cmd!r}"})
        except TaskError as e:
            _write({"ok": False, "kind": "invalid_task", "error": str(e)})
        except Exception as e:  # noqa: BLE001 - report, never die silently
            _write({"ok": False, "kind": "internal",
                    "error": f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=5)}"})


if __name__ == "__main__":
    sys.exit(main())
