"""PMCCG bot: the process and the platform-neutral domain."""
