"""rasa_addons/minilm.py (the all-MiniLM-L6-v2 the intent classifier and the question encoder use)
computes what the reference implementations compute: the same WordPiece ids as Hugging Face's
`tokenizers` with the model's tokenizer.json, and the same sentence vectors as sentence-transformers
with either runtime (the ONNX graph of minilm_onnx.py and the NumPy forward pass), on every
training and held-out message plus awkward input (accents, CJK, control characters, very long
words, empty text)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from rasa_addons.minilm import RUNTIMES, MiniLMEncoder, configured_runtime, default_model_dir, shared_encoder

ROOT = Path(__file__).resolve().parents[2]
MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
AWKWARD = ["Ünïcode café naïve résumé", "ok\tso \u200bweird  chars 你好 !!!??", "x" * 150, "BC-100001 jane@x.com $45.99",
           "", "   ", "don't won't can't", "¿Dónde está mi pedido?", "emoji 📦 order", "a" + "\x00" + "b"]


def texts():
    out = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")) + [ROOT / "tests" / "nlu" / "holdout.yml"]:
        for item in (yaml.safe_load(path.read_text()) or {}).get("nlu") or []:
            for line in (item.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    out.append(MARKUP.sub(lambda m: m.group(1), line.strip()[2:]).strip())
    return out + AWKWARD


@pytest.fixture(scope="module", params=RUNTIMES)
def encoder(request) -> MiniLMEncoder:
    return MiniLMEncoder(runtime=request.param)


@pytest.fixture(scope="module")
def reference_vectors():
    from sentence_transformers import SentenceTransformer

    sample = texts()[::7] + AWKWARD
    reference = SentenceTransformer(str(default_model_dir()), device="cpu", local_files_only=True)
    return sample, reference.encode(sample, normalize_embeddings=True, batch_size=64)


def test_token_ids_match_the_tokenizers_library(encoder: MiniLMEncoder) -> None:
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(default_model_dir() / "tokenizer.json"))
    reference.no_truncation()
    reference.no_padding()
    sample = texts()
    mismatches = [t for t in sample if reference.encode(t).ids != encoder.tokenizer.encode(t, max_length=100_000)]
    assert len(sample) > 2500 and not mismatches, mismatches[:5]


def test_vectors_match_sentence_transformers(encoder: MiniLMEncoder, reference_vectors) -> None:
    sample, expected = reference_vectors
    ours = encoder.encode(sample)
    assert ours.shape == expected.shape == (len(sample), 384)
    assert float((expected * ours).sum(axis=1).min()) > 0.9999
    # batching (padding to the longest message of a batch) does not change a message's vector
    alone = np.stack([encoder.encode_one(t) for t in sample[:20]])
    assert np.abs(alone - ours[:20]).max() < 1e-5


def test_long_input_is_truncated_like_sentence_transformers(encoder: MiniLMEncoder) -> None:
    ids = encoder.tokenizer.encode("order " * 400)
    assert len(ids) == 256 and ids[0] == encoder.tokenizer.cls_id and ids[-1] == encoder.tokenizer.sep_id


def test_both_runtimes_give_the_same_vectors() -> None:
    sample = texts()[::11] + AWKWARD
    onnx, numpy_ = (MiniLMEncoder(runtime=name).encode(sample) for name in ("onnxruntime", "numpy"))
    assert np.abs(onnx - numpy_).max() < 1e-5


def test_runtime_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("MINILM_RUNTIME", raising=False)
    assert configured_runtime() == "onnxruntime"
    monkeypatch.setenv("MINILM_RUNTIME", " NumPy ")
    assert configured_runtime() == "numpy"
    assert shared_encoder().runtime == "numpy" and shared_encoder() is shared_encoder()
    monkeypatch.setenv("MINILM_RUNTIME", "tensorflow")
    with pytest.raises(ValueError, match="MINILM_RUNTIME must be one of onnxruntime, numpy"):
        configured_runtime()


def test_onnx_graph_keeps_its_weights_outside_and_its_folder_is_removed(tmp_path, monkeypatch) -> None:
    import json
    import tempfile

    from safetensors.numpy import load_file

    from rasa_addons.minilm_onnx import write_model

    model_dir = default_model_dir()
    config = json.loads((model_dir / "config.json").read_text())
    weights = {k.removeprefix("bert."): v for k, v in load_file(str(model_dir / "model.safetensors")).items()}
    unused = ("pooler.", "embeddings.position_ids")  # the pooler is not in a sentence vector; positions are inputs
    total = sum(v.nbytes for k, v in weights.items() if not k.startswith(unused))
    path = Path(write_model(weights, config["hidden_size"], config["num_attention_heads"],
                            config["num_hidden_layers"], config["layer_norm_eps"], str(tmp_path)))
    # the graph is small (biases and norms); the matrices went to the weights file, page-aligned
    assert path.stat().st_size < 200_000
    assert 0.99 * total <= (tmp_path / "all-MiniLM-L6-v2.weights").stat().st_size < total + 200 * 4096
    assert [k for k in weights if not k.startswith(unused)] == []  # consumed as written

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    MiniLMEncoder(runtime="onnxruntime").encode_one("hello")
    assert list((tmp_path / "scratch").iterdir()) == []
