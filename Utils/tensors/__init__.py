"""Tensor primitives with no knowledge of runs or files: sparse rows, vectorised samplers, many-pair
scores, row-sparse gradients."""
