"""`train-prompts` internals: the samples file, the training loop, the output files."""
