"""menderlite: a Mender-compatible over-the-air update server in one Python process."""

__version__ = "0.1.0"
