"""netconf-emulator: fleets of virtual NETCONF devices over WebSocket."""

__version__ = "0.6.1"
