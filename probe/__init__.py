"""probe: device-side compliance evidence for IoT products (JC-STAR, CLS, UK PSTI)."""

__version__ = "0.1.0"
TOOL_NAME = "probe"
