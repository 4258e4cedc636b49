"""Neutron's part: networks, subnets, ports and security groups."""
