"""Every jute record pyzk speaks, declared once, in zookeeper.jute's field order.

Sections follow the jute modules: data, proto (client wire), quorum, persistence, txn.
ConnectRequest/ConnectResponse carry the trailing `readOnly` flag that 3.8 reads leniently
(see pyzk.protocol.connect); here they are declared without it.
"""

from __future__ import annotations

from typing import Any

from .jute import BOOL, BUFFER, INT, LONG, USTRING, Vector, record

# --- org.apache.zookeeper.data ------------------------------------------------------------
Id: Any = record("Id", [("scheme", USTRING), ("id", USTRING)])
ACL: Any = record("ACL", [("perms", INT), ("id", Id)])
Stat: Any = record("Stat", [
    ("czxid", LONG), ("mzxid", LONG), ("ctime", LONG), ("mtime", LONG),
    ("version", INT), ("cversion", INT), ("aversion", INT), ("ephemeralOwner", LONG),
    ("dataLength", INT), ("numChildren", INT), ("pzxid", LONG),
])
StatPersisted: Any = record("StatPersisted", [
    ("czxid", LONG), ("mzxid", LONG), ("ctime", LONG), ("mtime", LONG),
    ("version", INT), ("cversion", INT), ("aversion", INT), ("ephemeralOwner", LONG),
    ("pzxid", LONG),
])
ClientInfo: Any = record("ClientInfo", [("authScheme", USTRING), ("user", USTRING)])

# --- org.apache.zookeeper.proto -----------------------------------------------------------
ConnectRequest: Any = record("ConnectRequest", [
    ("protocolVersion", INT), ("lastZxidSeen", LONG), ("timeOut", INT),
    ("sessionId", LONG), ("passwd", BUFFER),
])
ConnectResponse: Any = record("ConnectResponse", [
    ("protocolVersion", INT), ("timeOut", INT), ("sessionId", LONG), ("passwd", BUFFER),
])
SetWatches: Any = record("SetWatches", [
    ("relativeZxid", LONG), ("dataWatches", Vector(USTRING)),
    ("existWatches", Vector(USTRING)), ("childWatches", Vector(USTRING)),
])
SetWatches2: Any = record("SetWatches2", [
    ("relativeZxid", LONG), ("dataWatches", Vector(USTRING)),
    ("existWatches", Vector(USTRING)), ("childWatches", Vector(USTRING)),
    ("persistentWatches", Vector(USTRING)), ("persistentRecursiveWatches", Vector(USTRING)),
])
RequestHeader: Any = record("RequestHeader", [("xid", INT), ("type", INT)])
MultiHeader: Any = record("MultiHeader", [("type", INT), ("done", BOOL), ("err", INT)])
AuthPacket: Any = record("AuthPacket", [("type", INT), ("scheme", USTRING), ("auth", BUFFER)])
ReplyHeader: Any = record("ReplyHeader", [("xid", INT), ("zxid", LONG), ("err", INT)])
GetDataRequest: Any = record("GetDataRequest", [("path", USTRING), ("watch", BOOL)])
SetDataRequest: Any = record("SetDataRequest", [
    ("path", USTRING), ("data", BUFFER), ("version", INT),
])
ReconfigRequest: Any = record("ReconfigRequest", [
    ("joiningServers", USTRING), ("leavingServers", USTRING), ("newMembers", USTRING),
    ("curConfigId", LONG),
])
SetDataResponse: Any = record("SetDataResponse", [("stat", Stat)])
GetSASLRequest: Any = record("GetSASLRequest", [("token", BUFFER)])
SetSASLRequest: Any = record("SetSASLRequest", [("token", BUFFER)])
SetSASLResponse: Any = record("SetSASLResponse", [("token", BUFFER)])
CreateRequest: Any = record("CreateRequest", [
    ("path", USTRING), ("data", BUFFER), ("acl", Vector(ACL)), ("flags", INT),
])
CreateTTLRequest: Any = record("CreateTTLRequest", [
    ("path", USTRING), ("data", BUFFER), ("acl", Vector(ACL)), ("flags", INT), ("ttl", LONG),
])
DeleteRequest: Any = record("DeleteRequest", [("path", USTRING), ("version", INT)])
GetChildrenRequest: Any = record("GetChildrenRequest", [("path", USTRING), ("watch", BOOL)])
GetAllChildrenNumberRequest: Any = record("GetAllChildrenNumberRequest", [("path", USTRING)])
GetChildren2Request: Any = record("GetChildren2Request", [("path", USTRING), ("watch", BOOL)])
CheckVersionRequest: Any = record("CheckVersionRequest", [("path", USTRING), ("version", INT)])
GetMaxChildrenRequest: Any = record("GetMaxChildrenRequest", [("path", USTRING)])
GetMaxChildrenResponse: Any = record("GetMaxChildrenResponse", [("max", INT)])
SetMaxChildrenRequest: Any = record("SetMaxChildrenRequest", [("path", USTRING), ("max", INT)])
SyncRequest: Any = record("SyncRequest", [("path", USTRING)])
SyncResponse: Any = record("SyncResponse", [("path", USTRING)])
GetACLRequest: Any = record("GetACLRequest", [("path", USTRING)])
SetACLRequest: Any = record("SetACLRequest", [
    ("path", USTRING), ("acl", Vector(ACL)), ("version", INT),
])
SetACLResponse: Any = record("SetACLResponse", [("stat", Stat)])
AddWatchRequest: Any = record("AddWatchRequest", [("path", USTRING), ("mode", INT)])
WatcherEvent: Any = record("WatcherEvent", [("type", INT), ("state", INT), ("path", USTRING)])
ErrorResponse: Any = record("ErrorResponse", [("err", INT)])
CreateResponse: Any = record("CreateResponse", [("path", USTRING)])
Create2Response: Any = record("Create2Response", [("path", USTRING), ("stat", Stat)])
ExistsRequest: Any = record("ExistsRequest", [("path", USTRING), ("watch", BOOL)])
ExistsResponse: Any = record("ExistsResponse", [("stat", Stat)])
GetDataResponse: Any = record("GetDataResponse", [("data", BUFFER), ("stat", Stat)])
GetChildrenResponse: Any = record("GetChildrenResponse", [("children", Vector(USTRING))])
GetAllChildrenNumberResponse: Any = record("GetAllChildrenNumberResponse", [
    ("totalNumber", INT),
])
GetChildren2Response: Any = record("GetChildren2Response", [
    ("children", Vector(USTRING)), ("stat", Stat),
])
GetACLResponse: Any = record("GetACLResponse", [("acl", Vector(ACL)), ("stat", Stat)])
CheckWatchesRequest: Any = record("CheckWatchesRequest", [("path", USTRING), ("type", INT)])
RemoveWatchesRequest: Any = record("RemoveWatchesRequest", [("path", USTRING), ("type", INT)])
GetEphemeralsRequest: Any = record("GetEphemeralsRequest", [("prefixPath", USTRING)])
GetEphemeralsResponse: Any = record("GetEphemeralsResponse", [("ephemerals", Vector(USTRING))])
WhoAmIResponse: Any = record("WhoAmIResponse", [("clientInfo", Vector(ClientInfo))])

# --- org.apache.zookeeper.server.quorum ---------------------------------------------------
LearnerInfo: Any = record("LearnerInfo", [
    ("serverid", LONG), ("protocolVersion", INT), ("configVersion", LONG),
])
QuorumPacket: Any = record("QuorumPacket", [
    ("type", INT), ("zxid", LONG), ("data", BUFFER), ("authinfo", Vector(Id)),
])
QuorumAuthPacket: Any = record("QuorumAuthPacket", [
    ("magic", LONG), ("status", INT), ("token", BUFFER),
])

# --- org.apache.zookeeper.server.persistence ----------------------------------------------
FileHeader: Any = record("FileHeader", [("magic", INT), ("version", INT), ("dbid", LONG)])

# --- org.apache.zookeeper.txn -------------------------------------------------------------
TxnDigest: Any = record("TxnDigest", [("version", INT), ("treeDigest", LONG)])
TxnHeader: Any = record("TxnHeader", [
    ("clientId", LONG), ("cxid", INT), ("zxid", LONG), ("time", LONG), ("type", INT),
])
CreateTxnV0: Any = record("CreateTxnV0", [
    ("path", USTRING), ("data", BUFFER), ("acl", Vector(ACL)), ("ephemeral", BOOL),
])
CreateTxn: Any = record("CreateTxn", [
    ("path", USTRING), ("data", BUFFER), ("acl", Vector(ACL)), ("ephemeral", BOOL),
    ("parentCVersion", INT),
])
CreateTTLTxn: Any = record("CreateTTLTxn", [
    ("path", USTRING), ("data", BUFFER), ("acl", Vector(ACL)), ("parentCVersion", INT),
    ("ttl", LONG),
])
CreateContainerTxn: Any = record("CreateContainerTxn", [
    ("path", USTRING), ("data", BUFFER), ("acl", Vector(ACL)), ("parentCVersion", INT),
])
DeleteTxn: Any = record("DeleteTxn", [("path", USTRING)])
SetDataTxn: Any = record("SetDataTxn", [("path", USTRING), ("data", BUFFER), ("version", INT)])
CheckVersionTxn: Any = record("CheckVersionTxn", [("path", USTRING), ("version", INT)])
SetACLTxn: Any = record("SetACLTxn", [("path", USTRING), ("acl", Vector(ACL)), ("version", INT)])
SetMaxChildrenTxn: Any = record("SetMaxChildrenTxn", [("path", USTRING), ("max", INT)])
CreateSessionTxn: Any = record("CreateSessionTxn", [("timeOut", INT)])
CloseSessionTxn: Any = record("CloseSessionTxn", [("paths2Delete", Vector(USTRING))])
ErrorTxn: Any = record("ErrorTxn", [("err", INT)])
Txn: Any = record("Txn", [("type", INT), ("data", BUFFER)])
MultiTxn: Any = record("MultiTxn", [("txns", Vector(Txn))])

# --- names for annotations ------------------------------------------------------------------
# record() builds every class above at run time, so mypy sees each record as Any. These
# aliases are Any for that reason; they only say in a signature which record a value holds.
Record = Any  # an instance of any record above
TxnHeaderRecord = Any  # a TxnHeader
TxnRecord = Any  # a txn body: CreateTxn ... MultiTxn, ErrorTxn
TxnDigestRecord = Any  # a TxnDigest (None where digests are off)
