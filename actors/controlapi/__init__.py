"""The control API: the requests the shoal CLI makes, checked and turned into store proposals."""
