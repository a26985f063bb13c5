"""Network code shared by the managers and the hosts (docs/networking.md)."""
