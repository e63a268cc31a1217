"""Search backends: one :class:`~.base.SearchBackend` Protocol, one module per store, each
imported only when chosen (so a missing extra fails with a message naming it)."""
