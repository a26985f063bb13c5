"""The Docker Engine API on a manager's ``STATE_DIR/docker.sock``: a door onto the local control API.

``versions`` and ``routes`` say which requests are served; ``translate`` turns Docker's JSON into
control-API bodies and back; ``endpoints`` sequences the control-API calls of each request; the actor
serves HTTP/1.1 (h11) on the unix socket. docs/engine-api.md has what is served and refused.
"""
