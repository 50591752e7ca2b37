"""Rasa's CountVectorsFeaturizer without the per-token features nothing here reads.

``CountVectorsFeaturizer`` gives every message two kinds of features: a row of n-gram counts per
token (sequence features, for DIET-like classifiers) and one row for the whole message (sentence
features). This pipeline reads only the sentence features: the cascade intent classifier stacks
each featurizer's sentence row (``CascadeIntentClassifier._sparse``) and the CRF entity extractor
reads no count features at all (only its own token features and dense features, of which there
are none). The per-token rows cost a second ``CountVectorizer.transform`` over every token on
every message, about half of the featurizer's time (the character n-gram one most).

``SentenceCountVectorsFeaturizer`` is that featurizer, trained and configured the same way, which
adds the sentence features only. They are computed by Rasa's own code from the same vocabulary,
so they are the same numbers (tests/nlu/test_sentence_count_vectors.py compares both featurizers
on every training example; the held-out NLU report is unchanged, docs/performance.md).
"""
from __future__ import annotations

from typing import List, Optional, Text, Tuple

import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceCountVectorsFeaturizer(CountVectorsFeaturizer):
    """``CountVectorsFeaturizer`` that adds sentence features only (see the module docstring)."""

    def _create_features(
        self, attribute: Text, all_tokens: List[List[Text]]
    ) -> Tuple[List[Optional[scipy.sparse.spmatrix]], List[Optional[scipy.sparse.spmatrix]]]:
        if not self.vectorizers.get(attribute):
            return [None], [None]
        sequence_features: List[Optional[scipy.sparse.spmatrix]] = []
        sentence_features: List[Optional[scipy.sparse.spmatrix]] = []
        for tokens in all_tokens:
            sequence_features.append(None)
            if not tokens or attribute not in DENSE_FEATURIZABLE_ATTRIBUTES:
                sentence_features.append(None)
                continue
            # what CountVectorsFeaturizer._create_features computes for the sentence
            sentence = self.vectorizers[attribute].transform([" ".join(tokens)])
            sentence.sort_indices()
            sentence_features.append(sentence.tocoo())
        return sequence_features, sentence_features
