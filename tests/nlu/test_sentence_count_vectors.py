"""rasa_addons.sentence_count_vectors: the same sentence features as Rasa's CountVectorsFeaturizer
(word and char_wb configurations of config.yml, every NLU training example and some unseen
messages), and no per-token features."""
from __future__ import annotations

from pathlib import Path

from tests.performance.rasa_script import run_in_rasa_env

SCRIPT = r'''
import json, sys
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa_addons.sentence_count_vectors import SentenceCountVectorsFeaturizer

from pathlib import Path
storage = LocalModelStorage(Path(sys.argv[1]))
context = ExecutionContext(GraphSchema({}), "test")
def component(cls, name, config):
    return cls.create({**cls.get_default_config(), **config}, storage, Resource(name), context)

tokenizer = component(WhitespaceTokenizer, "tok", {})
data = load_data("data/nlu")
tokenizer.process_training_data(data)
unseen = [Message({TEXT: t}) for t in ["where iz my ordr BC-100002??", "refund!!!", "", "ok", "my card 4242 4242 was charged twice",
                                        "do you ship to Canada?", "I want to speak with a lawyer about GDPR"]]
tokenizer.process(unseen)
compared = 0
for number, config in enumerate([{}, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4, "max_features": 3000}]):
    theirs = component(CountVectorsFeaturizer, f"cv{number}", config)
    ours = component(SentenceCountVectorsFeaturizer, f"scv{number}", config)
    theirs.train(data)
    ours.train(data)
    assert theirs.vectorizers[TEXT].vocabulary_ == ours.vectorizers[TEXT].vocabulary_
    messages = data.training_examples + unseen
    reference = [Message(dict(m.data)) for m in messages]
    theirs.process(reference)
    own = [Message(dict(m.data)) for m in messages]
    ours.process(own)
    for a, b in zip(reference, own):
        assert not [f for f in b.features if f.type == FEATURE_TYPE_SEQUENCE], "per-token features added"
        sa = [f.features for f in a.features if f.type == FEATURE_TYPE_SENTENCE]
        sb = [f.features for f in b.features if f.type == FEATURE_TYPE_SENTENCE]
        assert len(sa) == len(sb), a.get(TEXT)
        for x, y in zip(sa, sb):
            assert x.shape == y.shape and x.dtype == y.dtype and type(x) is type(y)
            for name in ("data", "row", "col"):
                assert np.array_equal(getattr(x, name), getattr(y, name)), (a.get(TEXT), name)
            compared += 1
print(json.dumps({"compared": compared, "examples": len(data.training_examples)}))
'''


def test_sentence_features_are_rasas(tmp_path: Path) -> None:
    result = run_in_rasa_env(SCRIPT, str(tmp_path), timeout=600)
    assert result["examples"] > 1000 and result["compared"] >= 2 * result["examples"], result
