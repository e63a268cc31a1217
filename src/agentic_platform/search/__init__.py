"""Search building blocks shared by the retrieval and memory gateways.

One filter grammar (:mod:`.filters`), BM25 lexical ranking (:mod:`.lexical`), hybrid fusion
(:mod:`.fusion`), embeddings through the LLM gateway as the caller (:mod:`.embedding`) and
the index backends (:mod:`.backends`): embedded SQLite, PostgreSQL with pgvector, and an
in-memory one. A backend indexes *records* (text, vector, filterable
metadata, an opaque payload) in named *collections*; what a record means (a knowledge-base
chunk, a memory) is the caller's business.
"""
