"""Horizon, unmodified, over Nimbus's OpenStack API: its local settings (`settings`, read from
the environment) and the commands that collect its static files and serve it (`__main__`)."""
