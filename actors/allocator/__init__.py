"""The allocator: networks, addresses and published ports, and new tasks to pending."""
