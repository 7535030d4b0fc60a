"""The evaluation stage: scores on a split, the validation gallery and its score cache, model comparison."""
