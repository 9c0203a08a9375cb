"""Bootstrap of the local AWS API emulator: how it is started (``server``) and seeded (``seed``)."""
