"""The allocator: published ports for services, and new tasks to pending."""
