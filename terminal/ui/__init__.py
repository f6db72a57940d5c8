"""The terminal's screens: kiosk web UI, customer display, server-sent events (see `server.create_app`)."""
