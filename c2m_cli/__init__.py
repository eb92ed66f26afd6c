"""c2m: consumer-to-manufacturer retail analytics from the command line."""

__version__ = "0.1.0"
