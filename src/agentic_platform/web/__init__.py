"""HTTP plumbing shared by every service: errors, middleware, health, server-sent events."""
