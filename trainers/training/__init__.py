"""A `finetune`/`compress` run: the training loop, its step plan, the jobs
(what is trained, with which loss), the optimizer and checkpointing."""
