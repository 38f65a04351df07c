"""Editing on a server: `diffeditor serve` (Ray Serve) and the clients of the app and CLI.

`api` (the wire format), `limits`, `auth` and `client` need neither Ray nor Qt, so the
desktop install and the CLI use them as they are; only `app` (the Serve application) and
`serve` (the command) import Ray. The engine never imports this package.
"""
