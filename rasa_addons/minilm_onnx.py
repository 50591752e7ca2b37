"""all-MiniLM-L6-v2's encoder as an ONNX graph, run by ONNX Runtime on one CPU thread.

The NumPy encoder in ``minilm.py`` is the reference; this module builds the same computation
(embeddings, six BERT layers, mean pooling, L2 normalization) as one ONNX graph from the same
``model.safetensors`` and hands it to ONNX Runtime. Why: a customer message is a handful of tokens,
and for such short inputs NumPy's BLAS (OpenBLAS packs the weight matrix for every product) spends
two to three times longer on the 24 weight products than ONNX Runtime's kernels, which stream the
weights once: 8-11 ms against 3-4 ms for a question here (CHANGELOG.md, performance round 7). The
graph is built when the encoder is loaded (about a second) into a temporary folder that is gone
once ONNX Runtime has opened it, so there is no exported model file to keep in step with the
weights. The weights go straight from the safetensors arrays into an external-data file: no
serialized copy of them is ever held in memory (peak memory of a load as with NumPy, 178 MB), and
the session keeps about half of what the NumPy encoder kept.

Inputs are prepared by the caller exactly as for the NumPy encoder: token ids, their positions and
a 0/1 mask per row (padding gets no attention and no weight in the mean). The output is the
(batch, 384) unit vectors. tests/nlu/test_minilm_encoder.py compares both encoders with each other
and with sentence-transformers.
"""
from __future__ import annotations

import math
import os
import tempfile
from typing import BinaryIO, Dict, List

import numpy as np

#: the opset that has LayerNormalization; every ONNX Runtime from 1.14 on runs it
OPSET = 17


#: arrays of at least this many elements go to the weights file instead of into the graph
_EXTERNAL_MIN_ELEMENTS = 1024
_ALIGN = 4096


class _Graph:
    """Collects nodes and initializers with unique names (a tiny builder over ``onnx.helper``).

    Large initializers are written straight to ``data_file`` as ONNX external data (at page-aligned
    offsets), so the graph itself stays small and no serialized copy of the weights is ever built.
    """

    def __init__(self, data_file: BinaryIO, data_name: str) -> None:
        from onnx import TensorProto, helper, numpy_helper

        self.helper, self.numpy_helper, self.TensorProto = helper, numpy_helper, TensorProto
        self.data_file, self.data_name = data_file, data_name
        self.nodes: List = []
        self.initializers: List = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: np.ndarray, hint: str = "const") -> str:
        name = self.name(hint)
        value = np.asarray(value)
        if value.size < _EXTERNAL_MIN_ELEMENTS:
            self.initializers.append(self.numpy_helper.from_array(value, name))
            return name
        value = np.ascontiguousarray(value, dtype=np.float32)
        self.data_file.write(b"\0" * (-self.data_file.tell() % _ALIGN))
        offset = self.data_file.tell()
        self.data_file.write(memoryview(value).cast("B"))
        tensor = self.TensorProto(name=name, data_type=self.TensorProto.FLOAT, dims=list(value.shape),
                                  data_location=self.TensorProto.EXTERNAL)
        for key, text in (("location", self.data_name), ("offset", str(offset)), ("length", str(value.nbytes))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, text
        self.initializers.append(tensor)
        return name

    def op(self, op_type: str, inputs: List[str], hint: str = "", **attributes) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], **attributes))
        return out


def write_model(weights: Dict[str, np.ndarray], hidden: int, heads: int, layers: int, eps: float,
                folder: str) -> str:
    """Write the encoder over ``weights`` (safetensors names without ``bert.``) to ``folder`` as an
    ONNX model and its weights file; return the model's path. ``weights`` is emptied as it is read,
    so each array can be freed once it is in the file.

    Inputs: ``input_ids`` int64 (batch, length), ``position_ids`` int64 (batch, length),
    ``mask`` float32 (batch, length). Output: ``sentence_embedding`` float32 (batch, hidden).
    """
    model_path = os.path.join(folder, "all-MiniLM-L6-v2.onnx")
    data_name = "all-MiniLM-L6-v2.weights"
    with open(os.path.join(folder, data_name), "wb") as data_file:
        model = _build(_Graph(data_file, data_name), weights, hidden, heads, layers, eps)
    with open(model_path, "wb") as handle:
        handle.write(model.SerializeToString())
    return model_path


def _build(g: _Graph, weights: Dict[str, np.ndarray], hidden: int, heads: int, layers: int, eps: float):
    """The ModelProto of the encoder, its large initializers written to ``g``'s data file."""
    from onnx import TensorProto

    h = g.helper
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    head_dim = hidden // heads

    def layer_norm(x: str, prefix: str) -> str:
        return g.op("LayerNormalization", [x, g.const(f32(weights.pop(prefix + ".weight"))),
                                           g.const(f32(weights.pop(prefix + ".bias")))],
                    axis=-1, epsilon=eps)

    def dense(x: str, prefix: str) -> str:
        product = g.op("MatMul", [x, g.const(f32(weights.pop(prefix + ".weight").T), "w")])
        return g.op("Add", [product, g.const(f32(weights.pop(prefix + ".bias")), "b")])

    word = g.op("Gather", [g.const(weights.pop("embeddings.word_embeddings.weight"), "word"), "input_ids"])
    position = g.op("Gather", [g.const(weights.pop("embeddings.position_embeddings.weight"), "position"),
                               "position_ids"])
    x = g.op("Add", [word, position])
    x = g.op("Add", [x, g.const(f32(weights.pop("embeddings.token_type_embeddings.weight")[0]), "token_type")])
    x = layer_norm(x, "embeddings.LayerNorm")

    # (batch, length) 0/1 -> (batch, 1, 1, length) additive bias: no attention to padding
    bias = g.op("Mul", [g.op("Sub", [g.const(np.float32(1.0)), "mask"]), g.const(np.float32(-1e9))])
    bias = g.op("Unsqueeze", [bias, g.const(np.array([1, 2], dtype=np.int64))])
    scale = g.const(np.float32(1.0 / math.sqrt(head_dim)))
    split_heads = g.const(np.array([0, 0, 3, heads, head_dim], dtype=np.int64))
    merge_heads = g.const(np.array([0, 0, hidden], dtype=np.int64))
    half, one = g.const(np.float32(0.5)), g.const(np.float32(1.0))
    inv_sqrt2 = g.const(np.float32(1.0 / math.sqrt(2.0)))

    for i in range(layers):
        p = f"encoder.layer.{i}."
        names = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
        # q, k and v in one product, as in the NumPy encoder
        qkv_w = f32(np.concatenate([weights.pop(n + ".weight") for n in names]).T)
        qkv_b = f32(np.concatenate([weights.pop(n + ".bias") for n in names]))
        qkv = g.op("Add", [g.op("MatMul", [x, g.const(qkv_w, "w")]), g.const(qkv_b, "b")])
        qkv = g.op("Transpose", [g.op("Reshape", [qkv, split_heads])], perm=[2, 0, 3, 1, 4])
        q, k, v = (g.op("Gather", [qkv, g.const(np.array(j, dtype=np.int64))], axis=0) for j in range(3))
        scores = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
        scores = g.op("Add", [g.op("Mul", [scores, scale]), bias])
        attention = g.op("Softmax", [scores], axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [attention, v])], perm=[0, 2, 1, 3])
        context = g.op("Reshape", [context, merge_heads])
        x = layer_norm(g.op("Add", [x, dense(context, p + "attention.output.dense")]),
                       p + "attention.output.LayerNorm")
        inner = dense(x, p + "intermediate.dense")
        # exact GELU, as BERT's "gelu": 0.5 x (1 + erf(x / sqrt 2))
        inner = g.op("Mul", [g.op("Mul", [inner, half]),
                             g.op("Add", [one, g.op("Erf", [g.op("Mul", [inner, inv_sqrt2])])])])
        x = layer_norm(g.op("Add", [x, dense(inner, p + "output.dense")]), p + "output.LayerNorm")

    weights_3d = g.op("Unsqueeze", ["mask", g.const(np.array([2], dtype=np.int64))])
    axis1 = g.const(np.array([1], dtype=np.int64))
    total = g.op("ReduceSum", [g.op("Mul", [x, weights_3d]), axis1], keepdims=0)
    count = g.op("Max", [g.op("ReduceSum", [weights_3d, axis1], keepdims=0), g.const(np.float32(1e-9))])
    pooled = g.op("Div", [total, count])
    norm = g.op("Max", [g.op("ReduceL2", [pooled], axes=[1], keepdims=1),
                        g.const(np.float32(1e-12))])
    g.nodes.append(h.make_node("Div", [pooled, norm], ["sentence_embedding"]))

    graph = h.make_graph(
        g.nodes, "all-MiniLM-L6-v2",
        [h.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "length"]),
         h.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "length"]),
         h.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "length"])],
        [h.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        g.initializers,
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)], producer_name="rasa_addons.minilm_onnx")
    model.ir_version = 8  # readable by every ONNX Runtime that has opset 17
    return model


class OnnxRunner:
    """An ONNX Runtime session over the encoder graph: ``run(ids, mask)`` like ``MiniLMEncoder._forward``."""

    def __init__(self, model_path: str, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # one thread: a message is one short sequence, and the server's other work (and the
        # other process on a 2-CPU host) needs the second core more than the product does
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # From a file, not from bytes: a session made from bytes keeps them (the 90 MB of weights a
        # second time, next to the session's own copy) for as long as it lives.
        self.session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])

    @classmethod
    def from_weights(cls, weights: Dict[str, np.ndarray], hidden: int, heads: int, layers: int,
                     eps: float, threads: int = 1) -> "OnnxRunner":
        """Build the graph over ``weights`` (emptied, see ``write_model``), then load it: the arrays
        are dropped before the session loads its own copy, so at most one copy is held at a time."""
        with tempfile.TemporaryDirectory(prefix="minilm-onnx-") as folder:
            return cls(write_model(weights, hidden, heads, layers, eps, folder), threads)

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        positions = np.broadcast_to(np.arange(ids.shape[1], dtype=np.int64), ids.shape)
        feeds = {"input_ids": ids.astype(np.int64, copy=False), "position_ids": np.ascontiguousarray(positions),
                 "mask": mask.astype(np.float32, copy=False)}
        return self.session.run(["sentence_embedding"], feeds)[0]
