"""X11's idle time: how long since the last keyboard or pointer input, from the
MIT-SCREEN-SAVER extension (libXss, through ctypes; no Python binding is needed). Only
loaded when $DISPLAY is set.

One connection is kept (a reading opening the display each time was seen on Xvfb to
restart the idle time, a cause not pinned down; a kept one reads it steadily). Xlib
ends the process when the X server goes away (its default I/O error handlers exit), so
attuned puts in handlers that only mark the connection dead (`XSetIOErrorExitHandler`,
libX11 1.7 and later; without it no connection is kept and idle time is not read).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)


class _Info(ctypes.Structure):
    _fields_ = [("window", ctypes.c_ulong), ("state", ctypes.c_int),
                ("kind", ctypes.c_int), ("til_or_since", ctypes.c_ulong),
                ("idle", ctypes.c_ulong), ("eventMask", ctypes.c_ulong)]


_IO_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_EXIT_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class X11Idle:
    """`seconds()`: the idle time on `display`, or None when it cannot be read."""

    def __init__(self, display: str) -> None:
        self.display = display
        self._x11: ctypes.CDLL | None = None
        self._xss: ctypes.CDLL | None = None
        try:
            x11 = ctypes.util.find_library("X11")
            xss = ctypes.util.find_library("Xss")
            if x11 is None or xss is None:
                raise OSError("libX11 or libXss is not installed")
            self._x11 = ctypes.CDLL(x11)
            self._xss = ctypes.CDLL(xss)
        except OSError as e:
            log.info("presence: cannot read X11's idle time (%s)", e)
            self._x11 = self._xss = None
            return
        self._x11.XOpenDisplay.restype = ctypes.c_void_p
        self._x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self._x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self._x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self._x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self._x11.XFree.argtypes = [ctypes.c_void_p]
        self._xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(_Info)
        self._xss.XScreenSaverQueryExtension.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        self._xss.XScreenSaverQueryInfo.argtypes = [
            ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_Info)]

        if not hasattr(self._x11, "XSetIOErrorExitHandler"):
            log.info("presence: this libX11 is older than 1.7; X11's idle time is not read")
            self._x11 = self._xss = None
            return
        self._x11.XSetIOErrorHandler.argtypes = [_IO_HANDLER]
        self._x11.XSetIOErrorExitHandler.argtypes = [ctypes.c_void_p, _EXIT_HANDLER,
                                                     ctypes.c_void_p]
        # Kept referenced: ctypes callbacks must outlive their use from C.
        self._on_io_error = _IO_HANDLER(self._io_error)
        self._on_exit = _EXIT_HANDLER(self._lost)
        self._x11.XSetIOErrorHandler(self._on_io_error)
        self._dpy: int | None = None

    @property
    def usable(self) -> bool:
        return self._xss is not None

    def _io_error(self, _dpy: int | None) -> int:
        return 0

    def _lost(self, _dpy: int | None, _data: int | None) -> None:
        # Xlib returns from the failed call; the connection is not used again (a dead
        # Display may not even be closed).
        log.info("presence: lost the connection to the X server %s", self.display)
        self._dpy = None

    def _open(self) -> int | None:
        assert self._x11 is not None and self._xss is not None
        dpy = self._x11.XOpenDisplay(self.display.encode())
        if not dpy:
            return None
        self._x11.XSetIOErrorExitHandler(dpy, self._on_exit, None)
        event, error = ctypes.c_int(), ctypes.c_int()
        if not self._xss.XScreenSaverQueryExtension(dpy, ctypes.byref(event),
                                                    ctypes.byref(error)):
            log.info("presence: the X server %s has no MIT-SCREEN-SAVER extension",
                     self.display)
            self._x11.XCloseDisplay(dpy)
            return None
        return int(dpy)

    def seconds(self) -> float | None:
        """Seconds since the last input, or None when it cannot be read now."""
        if self._x11 is None or self._xss is None:
            return None
        if self._dpy is None:
            self._dpy = self._open()
            if self._dpy is None:
                return None
        info = self._xss.XScreenSaverAllocInfo()
        if not info:
            return None
        try:
            ok = self._xss.XScreenSaverQueryInfo(
                self._dpy, self._x11.XDefaultRootWindow(self._dpy), info)
            if not ok or self._dpy is None:
                return None
            return float(info.contents.idle) / 1000.0
        finally:
            self._x11.XFree(info)

    def close(self) -> None:
        if self._x11 is not None and self._dpy is not None:
            self._x11.XCloseDisplay(self._dpy)
        self._dpy = None
