"""The web console: static pages and small ES modules served at ``/console``.

The console is a client of the public HTTP APIs and nothing else: every page calls
``/admin/v1``, ``/llm/v1``, ``/agents/v1``, ``/retrieval/v1`` and ``/memory/v1`` with the
signed-in caller's credentials, so whatever it shows a script can do too.
"""
