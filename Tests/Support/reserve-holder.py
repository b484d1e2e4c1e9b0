#!/usr/bin/python3
# A stand-in for a program that holds a sound card through the D-Bus device reservation protocol
# (org.freedesktop.ReserveDevice1.Audio<N>), as PulseAudio, PipeWire and JACK do. Test use only.
#
#   reserve-holder.py CARD APPLICATION_NAME grant|refuse [PRIORITY]
#
# grant: answers RequestRelease(p) with true when p > PRIORITY (default 0, PulseAudio's), lets the
# requester replace it, and takes the name back as soon as it is free again (PulseAudio watches the
# name and reclaims the card when the other program releases it). refuse: always false.
# Prints "owned UNIQUE-NAME" and "lost" on stdout as the name comes and goes (one line each, flushed).
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

IFACE = "org.freedesktop.ReserveDevice1"
PROPS = "org.freedesktop.DBus.Properties"

card, app_name, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
priority = int(sys.argv[4]) if len(sys.argv) > 4 else 0
name = "%s.Audio%d" % (IFACE, card)
path = "/org/freedesktop/ReserveDevice1/Audio%d" % card

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()


def say(word):
    print(word, flush=True)


class Holder(dbus.service.Object):
    @dbus.service.method(IFACE, in_signature="i", out_signature="b")
    def RequestRelease(self, p):
        ok = mode == "grant" and p > priority
        say("request %d %s" % (p, "granted" if ok else "refused"))
        return ok

    def _props(self):
        return {"ApplicationName": dbus.String(app_name),
                "ApplicationDeviceName": dbus.String("hw:%d" % card),
                "Priority": dbus.Int32(priority)}

    @dbus.service.method(PROPS, in_signature="ss", out_signature="v")
    def Get(self, interface, prop):
        return self._props()[prop]

    @dbus.service.method(PROPS, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return self._props()


Holder(bus, path)
flags = dbus.bus.NAME_FLAG_DO_NOT_QUEUE | dbus.bus.NAME_FLAG_ALLOW_REPLACEMENT


def acquire():
    if bus.request_name(name, flags) in (dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER,
                                         dbus.bus.REQUEST_NAME_REPLY_ALREADY_OWNER):
        say("owned " + bus.get_unique_name())
    return False


def owner_changed(n, old, new):
    if n != name:
        return
    me = bus.get_unique_name()
    if old == me and new != me:
        say("lost")
    if new == "" and mode == "grant":
        GLib.idle_add(acquire)


bus.add_signal_receiver(owner_changed, signal_name="NameOwnerChanged",
                        dbus_interface="org.freedesktop.DBus", arg0=name)
acquire()
GLib.MainLoop().run()
