"""The executor: a worker host's actor that runs assigned tasks as Docker containers."""
