"""Octavia: load balancers as amphora pods running HAProxy."""
