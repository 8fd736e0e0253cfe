"""attuned as a user service (systemd, launchd) and `attuned doctor`."""
