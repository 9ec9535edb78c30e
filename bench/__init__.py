"""The benchmark: acknowledgement latency against bare Bolt, throughput, scheduler scale, delivery, memory.

Run it with `python -m bench` (see README, "Performance"). Everything listens on 127.0.0.1.
"""
