"""The cascade classifier's one-hstack sparse features equal Rasa's ``get_sparse_features`` sentence matrix.

``CascadeIntentClassifier._sparse`` builds each message's sentence-level feature row itself (one
``hstack`` in pipeline order) instead of Rasa's pairwise combining; the trained models read the
columns by position, so the two must be the same matrix, value for value, for real messages.
"""
from __future__ import annotations

from tests.performance.rasa_script import ROOT, run_in_rasa_env

SCRIPT = r'''
import asyncio, json, sys
from scipy.sparse import csr_matrix, vstack
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)
from rasa_addons.cascade_classifier import CascadeIntentClassifier as C
from rasa.shared.nlu.constants import TEXT
ours = C._sparse
compared = []
def both(messages):
    a = ours(messages)
    rows = []
    for m in messages:
        f = m.get_sparse_features(attribute=TEXT)[1]
        rows.append(csr_matrix(f.features) if f is not None else csr_matrix((1, 0)))
    b = vstack(rows).tocsr()
    assert a.shape == b.shape and a.dtype == b.dtype and (a != b).nnz == 0
    compared.append(a.shape[1])
    return a
C._sparse = staticmethod(both)
from rasa.core.agent import load_agent
agent = asyncio.run(load_agent(model_path=sys.argv[1]))
texts = ["hi", "where is my order BC-100002??", "I want to cancel my membership", "asdfgh", "my card 4242 was charged twice",
         "can I change the shipping address on BC-100001? I moved", "premium plan", "jane.doe@gmail.com", "", "!!!",
         "how long do refunds take", "you are useless get me a human NOW", "the plus one", "gpay"]
intents = [asyncio.run(agent.parse_message(t))["intent"].get("name") for t in texts]
print(json.dumps({"compared": len(compared), "columns": compared[0], "intents": intents}))
'''


def test_sparse_rows_equal_rasas_sentence_features() -> None:
    from tests.conftest import latest_model  # RASA_MODEL, else the newest in models/

    model = latest_model()
    result = run_in_rasa_env(SCRIPT, str(model), timeout=600)
    assert result["compared"] >= 13 and result["columns"] > 1000
    assert "order_status" in result["intents"] and "request_human" in result["intents"]
    # an empty message is not an error: no prediction, so the fallback classifier answers
    assert result["intents"][8] == "nlu_fallback"
