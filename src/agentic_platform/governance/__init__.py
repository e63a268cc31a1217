"""Usage plans, their enforcement, and the usage ledger."""
