"""The claims' sizes: small enough for every page and check to run in milliseconds."""

#: Input features, hidden size, time steps and batch of the claims' modules and inputs.
IN, HIDDEN, SEQ, BATCH = 3, 4, 6, 3
