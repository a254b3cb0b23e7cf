"""The few GSS-API (RFC 2744) calls Kerberos SASL needs, over MIT's libgssapi_krb5 via ctypes.

ctypes rather than the PyPI `gssapi` package: that one ships no Linux wheel (it needs
libkrb5-dev, Cython and a C compiler), while libgssapi_krb5.so.2 is on every Debian that has
Kerberos at all. The library is loaded on first use, so pyzk runs without it unless a JAAS
section logs in with Krb5LoginModule.

This is an edge: it owns C handles. Acceptor credentials come from a named keytab through MIT's
gss_acquire_cred_from (as Java's Krb5LoginModule reads keyTab=), never from process-wide state.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass

GSS_C_INDEFINITE = 0xFFFFFFFF
GSS_C_BOTH, GSS_C_INITIATE, GSS_C_ACCEPT = 0, 1, 2
GSS_C_GSS_CODE, GSS_C_MECH_CODE = 1, 2
GSS_S_CONTINUE_NEEDED = 1
MUTUAL_FLAG, CONF_FLAG, INTEG_FLAG, SEQUENCE_FLAG = 2, 16, 32, 8

_u32 = ctypes.c_uint32
_handle = ctypes.c_void_p


class _Buffer(ctypes.Structure):
    _fields_ = [("length", ctypes.c_size_t), ("value", ctypes.c_void_p)]


class _Oid(ctypes.Structure):
    _fields_ = [("length", _u32), ("elements", ctypes.c_void_p)]


class _KeyValue(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("value", ctypes.c_char_p)]


class _KeyValueSet(ctypes.Structure):
    _fields_ = [("count", _u32), ("elements", ctypes.POINTER(_KeyValue))]


class GssError(Exception):
    """A GSS-API call failed; the message is the library's major and minor status text."""

    def __init__(self, call: str, major: int, minor: int, text: str) -> None:
        super().__init__(f"{call}: {text}")
        self.major = major
        self.minor = minor


class GssUnavailable(GssError):
    """libgssapi_krb5 cannot be loaded."""


_lib: ctypes.CDLL | None = None


def use_config(krb5_conf: str) -> None:
    """The Kerberos configuration file for this process (MIT reads KRB5_CONFIG whenever it
    makes a context), as -Djava.security.krb5.conf is for a JVM."""
    os.environ["KRB5_CONFIG"] = krb5_conf


def library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("gssapi_krb5") or "libgssapi_krb5.so.2"
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            raise GssUnavailable("load", 0, 0, f"cannot load {name}: {e}") from None
        _declare(lib)
        _lib = lib
    return _lib


def _declare(lib: ctypes.CDLL) -> None:
    P = ctypes.POINTER
    sig = {
        "gss_import_name": [P(_u32), P(_Buffer), ctypes.c_void_p, P(_handle)],
        "gss_display_name": [P(_u32), _handle, P(_Buffer), ctypes.c_void_p],
        "gss_release_name": [P(_u32), P(_handle)],
        "gss_release_buffer": [P(_u32), P(_Buffer)],
        "gss_release_cred": [P(_u32), P(_handle)],
        "gss_delete_sec_context": [P(_u32), P(_handle), ctypes.c_void_p],
        "gss_acquire_cred_from": [P(_u32), _handle, _u32, ctypes.c_void_p, ctypes.c_int,
                                  P(_KeyValueSet), P(_handle), ctypes.c_void_p, P(_u32)],
        "gss_accept_sec_context": [P(_u32), P(_handle), _handle, P(_Buffer), ctypes.c_void_p,
                                   P(_handle), ctypes.c_void_p, P(_Buffer), P(_u32), P(_u32),
                                   ctypes.c_void_p],
        "gss_init_sec_context": [P(_u32), _handle, P(_handle), _handle, ctypes.c_void_p, _u32,
                                 _u32, ctypes.c_void_p, P(_Buffer), ctypes.c_void_p, P(_Buffer),
                                 P(_u32), P(_u32)],
        "gss_wrap": [P(_u32), _handle, ctypes.c_int, _u32, P(_Buffer), P(ctypes.c_int),
                     P(_Buffer)],
        "gss_unwrap": [P(_u32), _handle, P(_Buffer), P(_Buffer), P(ctypes.c_int), P(_u32)],
        "gss_display_status": [P(_u32), _u32, ctypes.c_int, ctypes.c_void_p, P(_u32),
                               P(_Buffer)],
    }
    for fn, args in sig.items():
        f = getattr(lib, fn)
        f.argtypes = args
        f.restype = _u32


def _oid(name: str) -> ctypes.c_void_p:
    """One of the library's exported gss_OID constants."""
    return ctypes.c_void_p.in_dll(library(), name)


def _status_text(major: int, minor: int) -> str:
    lib = library()
    parts: list[str] = []
    for code, kind in ((major, GSS_C_GSS_CODE), (minor, GSS_C_MECH_CODE)):
        if kind == GSS_C_MECH_CODE and not code:
            continue
        ctx = _u32(0)
        for _ in range(8):  # bounded: a status has at most a few messages
            m = _u32(0)
            buf = _Buffer()
            lib.gss_display_status(ctypes.byref(m), code, kind, None, ctypes.byref(ctx),
                                   ctypes.byref(buf))
            parts.append(_take(buf).decode("utf-8", "replace"))
            if not ctx.value:
                break
    return ", ".join(p for p in parts if p)


def _check(call: str, major: int, minor: ctypes.c_uint32) -> None:
    if major & 0xFFFF0000:
        raise GssError(call, major, minor.value, _status_text(major, minor.value))


def _take(buf: _Buffer) -> bytes:
    """The buffer's bytes; the library's memory is released."""
    data = ctypes.string_at(buf.value, buf.length) if buf.value and buf.length else b""
    if buf.value:
        library().gss_release_buffer(ctypes.byref(_u32(0)), ctypes.byref(buf))
    return data


def _in(data: bytes) -> tuple[_Buffer, ctypes.Array[ctypes.c_char]]:
    """An input buffer over a copy of data (the copy is returned to keep it alive)."""
    raw = ctypes.create_string_buffer(data, len(data) or 1)
    return _Buffer(len(data), ctypes.cast(raw, ctypes.c_void_p)), raw


@dataclass
class Name:
    handle: _handle

    @classmethod
    def host_based(cls, service_at_host: str) -> Name:
        """service@host (GSS_C_NT_HOSTBASED_SERVICE), how Java's GSSAPI SASL names a service."""
        return cls._import(service_at_host, "GSS_C_NT_HOSTBASED_SERVICE")

    @classmethod
    def principal(cls, name: str) -> Name:
        return cls._import(name, "GSS_KRB5_NT_PRINCIPAL_NAME")

    @classmethod
    def _import(cls, text: str, kind: str) -> Name:
        lib = library()
        minor = _u32(0)
        out = _handle()
        buf, _keep = _in(text.encode())
        major = lib.gss_import_name(ctypes.byref(minor), ctypes.byref(buf), _oid(kind),
                                    ctypes.byref(out))
        _check("gss_import_name", major, minor)
        return cls(out)

    def release(self) -> None:
        if self.handle.value:
            library().gss_release_name(ctypes.byref(_u32(0)), ctypes.byref(self.handle))


def display(handle: _handle) -> str:
    minor = _u32(0)
    buf = _Buffer()
    major = library().gss_display_name(ctypes.byref(minor), handle, ctypes.byref(buf), None)
    _check("gss_display_name", major, minor)
    return _take(buf).decode("utf-8", "replace")


@dataclass
class Credential:
    handle: _handle

    @classmethod
    def acquire(cls, name: Name | None, usage: int, store: Mapping[str, str]) -> Credential:
        """gss_acquire_cred_from: store keys are MIT's ("keytab", "client_keytab", "ccache")."""
        items = list(store.items())
        elems = (_KeyValue * max(1, len(items)))(
            *[_KeyValue(k.encode(), v.encode()) for k, v in items])
        kvs = _KeyValueSet(len(items), elems)
        minor = _u32(0)
        out = _handle()
        # Kerberos only (Java's GSSAPI SASL asks for the krb5 mechanism): with the library's
        # default set, SPNEGO would answer tokens Java refuses.
        major = library().gss_acquire_cred_from(
            ctypes.byref(minor), name.handle if name else None, GSS_C_INDEFINITE,
            _oid("gss_mech_set_krb5"), usage,
            ctypes.byref(kvs), ctypes.byref(out), None, None)
        _check("gss_acquire_cred_from", major, minor)
        return cls(out)

    def release(self) -> None:
        if self.handle.value:
            library().gss_release_cred(ctypes.byref(_u32(0)), ctypes.byref(self.handle))


class Context:
    """One security context, acceptor or initiator side."""

    def __init__(self, cred: Credential) -> None:
        self.cred = cred
        self.handle = _handle()
        self.established = False
        self.flags = 0

    def accept(self, token: bytes) -> tuple[bytes, str]:
        """gss_accept_sec_context: (output token, source name once established, else "")."""
        minor, flags = _u32(0), _u32(0)
        src = _handle()
        out = _Buffer()
        buf, _keep = _in(token)
        major = library().gss_accept_sec_context(
            ctypes.byref(minor), ctypes.byref(self.handle), self.cred.handle, ctypes.byref(buf),
            None, ctypes.byref(src), None, ctypes.byref(out), ctypes.byref(flags), None, None)
        data = _take(out)
        _check("gss_accept_sec_context", major, minor)
        peer = ""
        if not major & GSS_S_CONTINUE_NEEDED:
            self.established = True
            self.flags = flags.value
            peer = display(src)
        if src.value:
            Name(src).release()
        return data, peer

    def init(self, target: Name, token: bytes | None, flags: int) -> bytes:
        """gss_init_sec_context with the Kerberos mechanism's default; the output token."""
        minor, ret = _u32(0), _u32(0)
        out = _Buffer()
        buf, _keep = _in(token or b"")
        major = library().gss_init_sec_context(
            ctypes.byref(minor), self.cred.handle, ctypes.byref(self.handle), target.handle,
            None, flags, 0, None, ctypes.byref(buf) if token is not None else None, None,
            ctypes.byref(out), ctypes.byref(ret), None)
        data = _take(out)
        _check("gss_init_sec_context", major, minor)
        if not major & GSS_S_CONTINUE_NEEDED:
            self.established = True
            self.flags = ret.value
        return data

    def wrap(self, data: bytes, confidential: bool = False) -> bytes:
        minor = _u32(0)
        state = ctypes.c_int(0)
        out = _Buffer()
        buf, _keep = _in(data)
        major = library().gss_wrap(ctypes.byref(minor), self.handle, int(confidential), 0,
                                   ctypes.byref(buf), ctypes.byref(state), ctypes.byref(out))
        result = _take(out)
        _check("gss_wrap", major, minor)
        return result

    def unwrap(self, data: bytes) -> bytes:
        minor, qop = _u32(0), _u32(0)
        state = ctypes.c_int(0)
        out = _Buffer()
        buf, _keep = _in(data)
        major = library().gss_unwrap(ctypes.byref(minor), self.handle, ctypes.byref(buf),
                                     ctypes.byref(out), ctypes.byref(state), ctypes.byref(qop))
        result = _take(out)
        _check("gss_unwrap", major, minor)
        return result

    def close(self) -> None:
        if self.handle.value:
            library().gss_delete_sec_context(ctypes.byref(_u32(0)), ctypes.byref(self.handle),
                                             None)

    def __del__(self) -> None:  # a connection dropped mid-exchange leaves its context here
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to free into
            pass


def acceptor(principal: str, keytab: str | None) -> Credential:
    """Accepting credentials for principal (service/host@REALM) from keytab (None: the
    library's default keytab)."""
    name = Name.principal(principal)
    try:
        return Credential.acquire(name, GSS_C_ACCEPT, {"keytab": keytab} if keytab else {})
    finally:
        name.release()


_caches = itertools.count(1)


def initiator(principal: str, keytab: str | None) -> Credential:
    """Initiating credentials for principal, logged in with the keytab's key (as
    Krb5LoginModule does with useKeyTab=true) into a private in-memory ticket cache that this
    credential alone uses: the process's own KRB5CCNAME and default client keytab are never
    read or written."""
    name = Name.principal(principal)
    store = {"ccache": f"MEMORY:pyzk-initiator-{os.getpid()}-{next(_caches)}"}
    if keytab:
        store["client_keytab"] = keytab
    try:
        return Credential.acquire(name, GSS_C_INITIATE, store)
    finally:
        name.release()


def check_login(principal: str, keytab: str | None) -> None:
    """Log in as principal with the keytab's key (an AS exchange with the KDC, then a service
    ticket to itself), in a private in-memory credential cache; GssError when the KDC refuses."""
    name = Name.principal(principal)
    # A fresh cache name per login: MIT keeps a MEMORY: cache for the life of the process, and
    # id() of a freed object comes back, so a second login (another section's principal) could
    # land in the first one's cache ("Principal in credential cache does not match").
    store = {"ccache": f"MEMORY:pyzk-login-{os.getpid()}-{next(_caches)}"}
    if keytab:
        store["client_keytab"] = keytab
    try:
        cred = Credential.acquire(name, GSS_C_INITIATE, store)
        ctx = Context(cred)
        try:
            ctx.init(name, None, 0)
        finally:
            ctx.close()
            cred.release()
    finally:
        name.release()
