"""Real in-process parts for tests of the platform and of code built on it."""
