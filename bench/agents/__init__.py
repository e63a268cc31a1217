"""The agents benchmark: platform overhead per agent step, and local-model tokens/s."""
