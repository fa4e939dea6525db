"""The embeddable customer widget: site keys, anonymous visitor tokens, CORS, ``/widget.js``.

Kept import-free on purpose: ``app.auth.deps`` imports ``app.widget.visitors``, so this package
must not pull in routers (which import ``app.auth.deps``) when it is first imported.
"""
