"""Training utilities (`train_utils.create_train_step`)."""
