// The helper that carries a libvirt domain's console: a short program in libvirt's own Python
// binding (python3-libvirt, what virt-manager is written in), because `virsh console` reaches only
// <console>, <serial> and <parallel> devices, and the built-in guest's lossless console is a
// virtio-serial *channel* (org.flotilla.console.0, as on the local host). libvirt opens a channel
// with virDomainOpenChannel, which virsh has no command for.
//
// It runs as `python3 -c HELPER URI UUID PORT`, an argument array: the URI is the one Flotilla
// built (qemu:///system, or the ssh master's forwarded socket), the UUID was checked, and no word
// reaches a shell. It opens the domain's channel named PORT when the domain has one, otherwise the
// domain's console (what `virsh console` would open), says which on its stderr, then copies
// stdin → stream and stream → stdout until the stream ends.
//
// The stream → stdout side blocks on a full pipe, and the helper then stops reading the stream.
// libvirtd stops reading the channel's socket in turn, and QEMU throttles the port instead of
// dropping: a stalled reader costs time, never bytes (issue 13's measurement: a virtio *console*
// dropped 74–91 % of what was written while its reader stalled).
//
// Exit codes: 0 the stream ended (the domain stopped, or stdin closed); 3 the binding is not
// installed; 4 libvirt refused (the reason on stderr).

export const HELPER_NO_BINDING = 3;
export const HELPER_LIBVIRT_ERROR = 4;

export const CONSOLE_STREAM_PY = String.raw`
import os, sys
try:
    import libvirt
except ImportError:
    sys.exit(3)
import xml.etree.ElementTree as ET

uri, uuid, port = sys.argv[1:4]
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors arrive as exceptions
os.set_blocking(1, True)

def fail(err):
    sys.stderr.write(str(err).strip() + "\n")
    sys.stderr.flush()
    os._exit(4)

try:
    libvirt.virEventRegisterDefaultImpl()
    conn = libvirt.open(uri)
    dom = conn.lookupByUUIDString(uuid)
    targets = ET.fromstring(dom.XMLDesc(0)).findall("./devices/channel/target")
    st = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
    if any(t.get("name") == port for t in targets):
        dom.openChannel(port, st, libvirt.VIR_DOMAIN_CHANNEL_FORCE)
        kind = "port"
    else:
        dom.openConsole(None, st, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        kind = "console"
except libvirt.libvirtError as e:
    fail(e)
sys.stderr.write("attached " + kind + "\n")
sys.stderr.flush()

READ = libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP
pending = bytearray()
done = []

def write_out(data):
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]

def flush_input():
    while pending:
        n = st.send(bytes(pending))
        if n == -2:
            st.eventUpdateCallback(READ | libvirt.VIR_STREAM_EVENT_WRITABLE)
            return
        del pending[:n]
    st.eventUpdateCallback(READ)

def on_stream(stream, events, _opaque):
    try:
        if events & libvirt.VIR_STREAM_EVENT_WRITABLE:
            flush_input()
        if events & (libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_HANGUP | libvirt.VIR_STREAM_EVENT_ERROR):
            while True:
                data = stream.recv(256 * 1024)
                if data == -2:
                    return
                if not data:
                    done.append(0)
                    return
                write_out(data)
    except libvirt.libvirtError as e:
        fail(e)
    except BrokenPipeError:
        os._exit(0)

def on_stdin(_watch, fd, _events, _opaque):
    data = os.read(fd, 64 * 1024)
    if not data:
        done.append(0)
        return
    pending.extend(data)
    try:
        flush_input()
    except libvirt.libvirtError as e:
        fail(e)

st.eventAddCallback(READ, on_stream, None)
libvirt.virEventAddHandle(0, libvirt.VIR_EVENT_HANDLE_READABLE, on_stdin, None)
while not done:
    libvirt.virEventRunDefaultImpl()
try:
    st.finish()
except libvirt.libvirtError:
    pass
os._exit(0)
`;
