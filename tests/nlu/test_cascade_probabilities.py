"""The cascade classifier's probabilities equal sklearn's ``predict_proba``, float for float.

``CascadeIntentClassifier._probabilities`` computes a multinomial logistic regression's
probabilities itself (contiguous transposed weights kept once); for 400 training examples and a
set of unseen messages parsed by the trained model, every call of both models (n-grams, and n-grams plus the sentence vector) must
give exactly sklearn's numbers, so the intents and confidences Rasa sees are unchanged. The sparse
features it combines (``_sparse``, ``_side_by_side``) must be the very arrays scipy's hstack/vstack
give.
"""
from __future__ import annotations

from tests.performance.rasa_script import ROOT, run_in_rasa_env

SCRIPT = r'''
import asyncio, json, sys
import numpy as np
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)
from rasa.core.agent import load_agent
from rasa.shared.nlu.training_data.loading import load_data
from rasa_addons.cascade_classifier import CascadeIntentClassifier
agent = asyncio.run(load_agent(model_path=sys.argv[1]))
nodes = agent.processor.graph_runner._instantiated_nodes
cascade = next(n._component for n in nodes.values() if isinstance(n._component, CascadeIntentClassifier))
texts = [e.get("text") for e in load_data("data/nlu").intent_examples][:400]
texts += ["where is my order BC-100002??", "asdfgh", "my card 4242 was charged twice", "!!!", "the plus one",
          "i want my money back for the broken blender", "who do I talk to about a lawyer letter", "gpay"]
compared = []
mine = cascade._probabilities
def checked(model, x):
    probabilities = mine(model, x)
    theirs = model.predict_proba(x)
    assert probabilities.dtype == theirs.dtype and probabilities.shape == theirs.shape
    assert np.array_equal(probabilities, theirs), "probabilities differ from sklearn's"
    compared.append(model is cascade.combined)
    return probabilities
cascade._probabilities = checked
# the sentence features side by side, against scipy's own stacking of the same blocks
from scipy.sparse import hstack, vstack
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa_addons import cascade_classifier
stacked = []
own_sparse = CascadeIntentClassifier._sparse
def checked_sparse(messages):
    x = own_sparse(messages)
    rows = []
    for message in messages:
        blocks = [f.features for f in message.features
                  if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse()]
        rows.append(hstack(blocks).tocsr())
        side = cascade_classifier._side_by_side(blocks)
        assert side.shape == rows[-1].shape and side.dtype == rows[-1].dtype
        for name in ("data", "indices", "indptr"):
            assert np.array_equal(getattr(side, name), getattr(rows[-1], name)), name
            assert getattr(side, name).dtype == getattr(rows[-1], name).dtype, name
    theirs = vstack(rows).tocsr()
    assert x.shape == theirs.shape and x.dtype == theirs.dtype
    for name in ("data", "indices", "indptr"):
        assert np.array_equal(getattr(x, name), getattr(theirs, name)), name
    stacked.append(len(messages))
    return x
CascadeIntentClassifier._sparse = staticmethod(checked_sparse)
for text in texts:
    asyncio.run(agent.parse_message(text))
print(json.dumps({"wording": compared.count(False), "combined": compared.count(True), "kept": len(cascade._weights),
                  "stacked": len(stacked)}))
'''


def test_probabilities_are_sklearns() -> None:
    from tests.conftest import latest_model  # RASA_MODEL, else the newest in models/

    model = latest_model()
    result = run_in_rasa_env(SCRIPT, str(model), timeout=600)
    assert result["wording"] >= 400 and result["combined"] >= 5 and result["kept"] == 2, result
    assert result["stacked"] >= 400, result
