"""alliance-sim: an agent-based scenario simulator of alliance cohesion (US, Japan, South Korea, China)."""

__version__ = "0.1.0"
