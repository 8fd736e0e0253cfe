"""The running process: lifecycle, the scheduler adapter, watchers, the control socket,
sd_notify, the lock, logging.
"""
