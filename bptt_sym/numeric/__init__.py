"""Numbers from derivations: NumPy compilation per step (the stepwise compiler) and matrix
evaluation, batched or exact."""
