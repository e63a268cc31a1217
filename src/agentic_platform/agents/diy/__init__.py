"""``diy-agent``: the platform's own tool-calling loop, the reference agent."""
