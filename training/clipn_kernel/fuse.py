"""Fused ONNX graphs for ONNX Runtime's CPU and CUDA kernels.

The traced graphs spell every transformer block out in small ops: the QKV product, a reshape, a
transpose, a split, two batched products, a softmax and a mask add per attention; LayerNorm apart
from the residual add; the MLP bias apart from GELU. `fuse_graph` rewrites them into ONNX
Runtime's contrib ops:

- attention: our own pass (below), because the model computes Q, K and V with one in_proj
  product and splits them, a pattern the transformer optimizer's attention fusions (written for
  Hugging Face graphs with three separate products) do not match. The subgraph becomes one
  `com.microsoft.Attention` node (packed QKV weights, bias, `unidirectional=1` where the graph
  adds CLIP's causal mask);
- bias-GELU and LayerNorm: `onnxruntime.transformers.optimizer` with its attention, embedding
  and skip-LayerNorm fusions switched off.

The residual adds stay apart from LayerNorm: ONNX Runtime's CPU SkipLayerNormalization kernel
took 117-133 ms of a ViT-B-16 batch of 8 where Add + LayerNormalization take 39-42 ms
(onnxruntime-node 1.30, Intel AVX-512, 2 threads; bench/RESULTS.md).

The caller checks the fused graph against the unfused one (`check_parity`): the unfused graph's
outputs are the reference.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

MS_DOMAIN = "com.microsoft"


class _Graph:
    """Producer and consumer maps over a graph, with constant lookup."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.g = model.graph
        self.producer = {o: n for n in self.g.node for o in n.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for n in self.g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.inits = {i.name: i for i in self.g.initializer}

    def const(self, name: str) -> np.ndarray | None:
        if name in self.inits:
            return numpy_helper.to_array(self.inits[name])
        node = self.producer.get(name)
        if node is not None and node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t)
        return None

    def parent(self, node: onnx.NodeProto, index: int, op: str) -> onnx.NodeProto | None:
        if index >= len(node.input):
            return None
        p = self.producer.get(node.input[index])
        return p if p is not None and p.op_type == op else None

    def only_consumer(self, name: str, op: str) -> onnx.NodeProto | None:
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op else None


def _attr(node: onnx.NodeProto, name: str) -> Any:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return None


def _is_causal_mask(graph: _Graph, name: str) -> bool:
    """True when `name` is CLIP's causal mask: a constant square matrix with -inf above the
    diagonal and 0 elsewhere, possibly sliced from position 0 on both axes (dynamic lengths)."""
    while True:
        value = graph.const(name)
        if value is not None:
            if value.ndim != 2 or value.shape[0] != value.shape[1]:
                return False
            want = np.triu(np.full(value.shape, -np.inf, dtype=np.float32), 1)
            return bool(np.array_equal(value, want))
        node = graph.producer.get(name)
        if node is None or node.op_type not in ("Slice", "Cast"):
            return False
        if node.op_type == "Slice":
            starts = graph.const(node.input[1])
            steps = graph.const(node.input[4]) if len(node.input) > 4 and node.input[4] else None
            if starts is None or np.any(starts != 0) or (steps is not None and np.any(steps != 1)):
                return False
        name = node.input[0]


def _match_attention(graph: _Graph, softmax: onnx.NodeProto, num_heads: int) -> dict[str, Any] | None:
    """The nodes of one attention subgraph around `softmax`, or None when it does not match:
    MatMul(X, W) + b -> Reshape -> Transpose[2,0,3,1,4] -> Split(3) -> Squeeze x3;
    q @ Transpose(k) * scale [+ causal mask] -> Softmax -> @ v -> Transpose[0,2,1,3] -> Reshape."""
    removed: list[onnx.NodeProto] = [softmax]
    node = graph.producer.get(softmax.input[0])
    causal = False
    if node is not None and node.op_type == "Add":
        add = node
        mul = next((graph.producer[i] for i in add.input if i in graph.producer and graph.producer[i].op_type == "Mul"), None)
        if mul is None:
            return None
        mask = add.input[1] if add.input[0] == mul.output[0] else add.input[0]
        if not _is_causal_mask(graph, mask):
            return None
        causal = True
        removed.append(add)
        node = mul
    if node is None or node.op_type != "Mul":
        return None
    mul = node
    scale = next((graph.const(i) for i in mul.input if graph.const(i) is not None), None)
    qk = next((graph.producer[i] for i in mul.input if i in graph.producer and graph.producer[i].op_type == "MatMul"), None)
    if scale is None or scale.size != 1 or qk is None:
        return None
    removed += [mul, qk]
    q_sq = graph.parent(qk, 0, "Squeeze")
    k_t = graph.parent(qk, 1, "Transpose")
    if q_sq is None or k_t is None or list(_attr(k_t, "perm") or []) != [0, 1, 3, 2]:
        return None
    k_sq = graph.parent(k_t, 0, "Squeeze")
    av = graph.only_consumer(softmax.output[0], "MatMul")
    if k_sq is None or av is None or av.input[0] != softmax.output[0]:
        return None
    v_sq = graph.parent(av, 1, "Squeeze")
    split = graph.parent(q_sq, 0, "Split")
    if v_sq is None or split is None or len(split.output) != 3:
        return None
    if [graph.parent(s, 0, "Split") for s in (q_sq, k_sq, v_sq)] != [split] * 3 or [q_sq.input[0], k_sq.input[0], v_sq.input[0]] != list(split.output):
        return None
    if _attr(split, "axis") not in (0, None):
        return None
    perm = graph.parent(split, 0, "Transpose")
    if perm is None or list(_attr(perm, "perm") or []) != [2, 0, 3, 1, 4]:
        return None
    reshape = graph.parent(perm, 0, "Reshape")
    bias_add = graph.parent(reshape, 0, "Add") if reshape is not None else None
    if bias_add is None:
        return None
    matmul = next((graph.producer[i] for i in bias_add.input if i in graph.producer and graph.producer[i].op_type == "MatMul"), None)
    if matmul is None:
        return None
    bias_name = bias_add.input[0] if bias_add.input[1] == matmul.output[0] else bias_add.input[1]
    weight, bias = graph.const(matmul.input[1]), graph.const(bias_name)
    if weight is None or bias is None or weight.ndim != 2 or weight.shape[1] != 3 * weight.shape[0] or bias.shape != (weight.shape[1],):
        return None
    hidden = weight.shape[0]
    if hidden % num_heads != 0 or not math.isclose(float(scale.reshape(())), 1.0 / math.sqrt(hidden // num_heads), rel_tol=1e-6):
        return None
    out_t = graph.only_consumer(av.output[0], "Transpose")
    if out_t is None or list(_attr(out_t, "perm") or []) != [0, 2, 1, 3]:
        return None
    out_reshape = graph.only_consumer(out_t.output[0], "Reshape")
    if out_reshape is None:
        return None
    # Every intermediate must feed only this subgraph, or removing it would break another user.
    removed += [k_t, q_sq, k_sq, v_sq, av, split, perm, reshape, bias_add, matmul, out_t, out_reshape]
    inside = {n.name for n in removed}
    for n in removed:
        if n is out_reshape:
            continue
        for o in n.output:
            if any(u.name not in inside for u in graph.consumers.get(o, [])):
                return None
    return {
        "input": matmul.input[0], "weight": matmul.input[1], "bias": bias_name, "output": out_reshape.output[0],
        "hidden": hidden, "scale": float(scale.reshape(())), "causal": causal, "removed": removed, "name": matmul.name,
    }


def fuse_attention(model: onnx.ModelProto, num_heads: int) -> int:
    """Replaces every matching attention subgraph by one com.microsoft.Attention node; returns how many."""
    graph = _Graph(model)
    matches = [m for m in (_match_attention(graph, n, num_heads) for n in list(graph.g.node) if n.op_type == "Softmax") if m is not None]
    if not matches:
        return 0
    drop = {id(n) for m in matches for n in m["removed"]}
    kept = [n for n in graph.g.node if id(n) not in drop]
    fused = {}
    for i, m in enumerate(matches):
        fused[m["output"]] = helper.make_node(
            "Attention", [m["input"], m["weight"], m["bias"]], [m["output"]], name=f"Attention_{i}", domain=MS_DOMAIN,
            num_heads=num_heads, unidirectional=1 if m["causal"] else 0, scale=m["scale"],
        )
    # Each Attention goes where its input is available: right after the node producing it.
    out: list[onnx.NodeProto] = []
    by_input: dict[str, list[onnx.NodeProto]] = {}
    for m in matches:
        by_input.setdefault(m["input"], []).append(fused[m["output"]])
    graph_inputs = {i.name for i in graph.g.input} | set(graph.inits)
    for name in graph_inputs:
        out.extend(by_input.pop(name, []))
    for n in kept:
        out.append(n)
        for o in n.output:
            out.extend(by_input.pop(o, []))
    if by_input:
        raise ValueError(f"attention fusion: no producer for {sorted(by_input)}")
    del graph.g.node[:]
    graph.g.node.extend(out)
    _prune(model)
    return len(matches)


def _prune(model: onnx.ModelProto) -> None:
    """Drops nodes whose outputs nobody reads and initializers no node reads."""
    g = model.graph
    wanted = {o.name for o in g.output}
    keep: list[onnx.NodeProto] = []
    for n in reversed(list(g.node)):
        if any(o in wanted for o in n.output):
            keep.append(n)
            wanted.update(i for i in n.input if i)
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)
    unused = [i for i in g.initializer if i.name not in wanted]
    for i in unused:
        g.initializer.remove(i)


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    """Node count per op type (Constant nodes left out), most frequent first."""
    counts = Counter(n.op_type for n in model.graph.node if n.op_type != "Constant")
    return dict(counts.most_common())


def fuse_graph(src: str | Path, dst: str | Path, *, num_heads: int, hidden_size: int, attention: bool = True) -> dict[str, Any]:
    """Writes the fused copy of the float32 graph `src` to `dst`; returns the op counts before and
    after. `attention=False` leaves attention unfused (the other fusions still apply)."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    before = onnx.load(str(src))
    counts_before = op_counts(before)
    options = FusionOptions("bert")
    # Attention is ours (above); the embedding fusion is for BERT's word+position+segment inputs;
    # skip-LayerNorm runs slower fused than apart on the CPU (module docstring).
    options.enable_attention = False
    options.enable_embed_layer_norm = False
    options.enable_skip_layer_norm = False
    options.enable_bias_skip_layer_norm = False
    optimized = optimize_model(str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=0,
                               optimization_options=options, only_onnxruntime=False)
    model = optimized.model
    fused = fuse_attention(model, num_heads) if attention else 0
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return {"attention": fused, "before": counts_before, "after": op_counts(model)}


def check_parity(reference: str | Path, candidate: str | Path, feeds: Sequence[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]], *, tol: float = 1e-5) -> float:
    """Largest |candidate - reference| over `feeds` (pairs of a reference feed and a candidate
    feed, which may be the same ids cut to a shorter length), relative to the reference output's
    scale (at least 1); raises ValueError above `tol`. Both graphs run on ONNX Runtime's CPU
    provider with its basic optimisations only, so the comparison is of the graphs, not of
    run-time rewrites."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    ref = ort.InferenceSession(str(reference), opts, providers=["CPUExecutionProvider"])
    cand = ref if Path(candidate) == Path(reference) else ort.InferenceSession(str(candidate), opts, providers=["CPUExecutionProvider"])
    worst = 0.0
    for ref_feed, cand_feed in feeds:
        a = ref.run(None, ref_feed)[0]
        b = cand.run(None, cand_feed)[0]
        if a.shape != b.shape:
            raise ValueError(f"{candidate}: output shape {b.shape}, the reference gives {a.shape}")
        err = float(np.max(np.abs(a - b))) / max(1.0, float(np.max(np.abs(a))))
        worst = max(worst, err)
    if not worst <= tol:
        raise ValueError(f"{candidate}: differs from the reference graph by {worst:.3g} (relative to the output scale), above {tol:g}")
    return worst


def describe(info: dict[str, Any], log: Callable[[str], None]) -> None:
    fused = {k: v for k, v in info["after"].items() if k in ("Attention", "SkipLayerNormalization", "BiasGelu", "LayerNormalization", "Gelu")}
    log(f"  fused: {fused}; nodes {sum(info['before'].values())} -> {sum(info['after'].values())}")
