"""Building blocks for packed trials: K runs of one architecture trained as one model whose
parameters carry a leading member dimension (issue 10)."""
