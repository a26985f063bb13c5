"""The scheduler: places pending tasks on nodes."""
