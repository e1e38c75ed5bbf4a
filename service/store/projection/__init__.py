"""From the log to the read models: the projector and its checkpoints, the read-model writers,
and rebuilds into the spare generation with their swap.
"""
