#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (run from anywhere).

Seeds are small, valid or nearly valid inputs of each format, so the fuzzers start from the
shapes real clients send instead of rediscovering them. Re-running rewrites the same files.
"""
import base64
import hashlib
import hmac
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- BSON, just enough for seeds -------------------------------------------------------------

def cstr(s):
    return s.encode() + b"\0"


def bson_elem(k, v):
    if isinstance(v, bool):
        return b"\x08" + cstr(k) + (b"\x01" if v else b"\x00")
    if isinstance(v, int):
        if -2**31 <= v < 2**31:
            return b"\x10" + cstr(k) + struct.pack("<i", v)
        return b"\x12" + cstr(k) + struct.pack("<q", v)
    if isinstance(v, float):
        return b"\x01" + cstr(k) + struct.pack("<d", v)
    if isinstance(v, str):
        b = v.encode() + b"\0"
        return b"\x02" + cstr(k) + struct.pack("<i", len(b)) + b
    if v is None:
        return b"\x0a" + cstr(k)
    if isinstance(v, dict):
        return b"\x03" + cstr(k) + bson_doc(v)
    if isinstance(v, list):
        return b"\x04" + cstr(k) + bson_doc({str(i): x for i, x in enumerate(v)})
    if isinstance(v, tuple):  # (type byte, raw value bytes)
        return bytes([v[0]]) + cstr(k) + v[1]
    raise TypeError(v)


def bson_doc(d):
    body = b"".join(bson_elem(k, v) for k, v in d.items())
    return struct.pack("<i", len(body) + 5) + body + b"\0"


OID = (0x07, bytes.fromhex("65a1b2c3d4e5f60718293a4b"))
DATE = (0x09, struct.pack("<q", 1700000000123))
BINARY = (0x05, struct.pack("<i", 3) + b"\x00abc")
UUID = (0x05, struct.pack("<i", 16) + b"\x04" + bytes(range(16)))
REGEX = (0x0B, b"^a.b\0i\0")
TIMESTAMP = (0x11, struct.pack("<II", 1, 1700000000))
DECIMAL = (0x13, bytes(16))


def corpus_notice():
    write("fuzz_notice", "basic", bson_doc({"_id": OID, "userId": "alice", "type": "hello",
                                            "createdAt": DATE, "n": 1, "x": 1.5}))
    write("fuzz_notice", "types", bson_doc({"_id": "s1", "userId": OID, "type": "t",
                                            "bin": BINARY, "uuid": UUID, "re": REGEX,
                                            "ts": TIMESTAMP, "dec": DECIMAL, "null": None,
                                            "b": True, "big": 2**40,
                                            "arr": [1, "two", {"three": 3}],
                                            "utf": "h\u00e9\u20ac\U0001f600\n\"\\"}))
    write("fuzz_notice", "nested", bson_doc({"_id": 1, "userId": "u", "type": "t",
                                             "a": {"b": {"c": {"d": [[[]]]}}}}))
    write("fuzz_notice", "minmax", bson_doc({"_id": 2, "userId": "u", "type": "t",
                                             "min": (0xFF, b""), "max": (0x7F, b""),
                                             "undef": (0x06, b""), "sym": (0x0E, struct.pack("<i", 2) + b"s\0"),
                                             "code": (0x0D, struct.pack("<i", 2) + b"f\0")}))


# --- mongo-emu wire ---------------------------------------------------------------------------

def op_msg(req_id, body, flags=0, seqs=()):
    payload = struct.pack("<I", flags) + b"\x00" + bson_doc(body)
    for ident, docs in seqs:
        inner = cstr(ident) + b"".join(bson_doc(d) for d in docs)
        payload += b"\x01" + struct.pack("<i", len(inner) + 4) + inner
    return struct.pack("<iiii", 16 + len(payload), req_id, 0, 2013) + payload


def op_query(req_id, ns, query):
    payload = struct.pack("<i", 0) + cstr(ns) + struct.pack("<ii", 0, -1) + bson_doc(query)
    return struct.pack("<iiii", 16 + len(payload), req_id, 0, 2004) + payload


def corpus_emu():
    write("fuzz_emu_wire", "hello", op_msg(1, {"hello": 1, "$db": "admin"}))
    write("fuzz_emu_wire", "insert_seq", op_msg(2, {"insert": "notifications", "$db": "test"},
                                                seqs=[("documents", [{"_id": 1, "userId": "a"},
                                                                     {"_id": 2}])]))
    write("fuzz_emu_wire", "isMaster_query", op_query(3, "admin.$cmd", {"isMaster": 1}))
    write("fuzz_emu_wire", "two_messages", op_msg(4, {"ping": 1, "$db": "admin"}) +
          op_msg(5, {"find": "c", "filter": {"a": {"$gt": 1}}, "$db": "test"}, flags=0x10000))
    write("fuzz_emu_wire", "watch", op_msg(6, {"aggregate": "notifications", "pipeline": [
        {"$changeStream": {"fullDocument": "updateLookup"}}], "cursor": {}, "$db": "test"}))


# --- Engine.IO --------------------------------------------------------------------------------

def corpus_eio():
    write("fuzz_eio_codec", "message", "4hello")
    write("fuzz_eio_codec", "payload", "4hello\x1e2\x1e3probe\x1ebAQIDBA==\x1e6")
    write("fuzz_eio_codec", "binary", "bAAECAwQF")
    write("fuzz_eio_codec", "socketio", '42["notification",{"a":1}]\x1e40')
    write("fuzz_eio_codec", "query", "EIO=4&transport=polling&t=N8hyd6w&sid=abcdefghijklmnopqrst")
    write("fuzz_eio_codec", "query_ws", "EIO=4&transport=websocket&sid=AbC-_0123456789abcde")
    write("fuzz_eio_codec", "utf8", "4h\u00e9llo \u20ac \U0001f600".encode() + b"\xed\xa0\x80")


def corpus_base64():
    write("fuzz_base64", "text", "aGVsbG8gd29ybGQ=")
    write("fuzz_base64", "url", "_-8AAQ")
    write("fuzz_base64", "pad2", "YQ==")
    write("fuzz_base64", "bytes", bytes(range(0, 256, 7)))


def chunked(parts, trailer=""):
    out = "".join("%x\r\n%s\r\n" % (len(p), p) for p in parts)
    return out + "0\r\n" + trailer + "\r\n"


def corpus_chunked():
    write("fuzz_chunked", "simple", b"\x05" + chunked(["4hello", "\x1e2"]).encode())
    write("fuzz_chunked", "ext_trailer", b"\x10" + ("6;name=value\r\n4hello\r\n0\r\n"
                                                   "X-Trailer: 1\r\n\r\n").encode())
    write("fuzz_chunked", "upper_hex", b"\x02" + ("A\r\n0123456789\r\n0\r\n\r\n").encode())
    write("fuzz_chunked", "leading_zeros", b"\x00" + chunked(["x" * 20]).replace("14\r\n", "0014\r\n").encode())


def corpus_sio():
    rs = "\x1e"
    write("fuzz_sio_codec", "connect", "0")
    write("fuzz_sio_codec", "connect_auth", '0/admin,{"token":"abc"}')
    write("fuzz_sio_codec", "event", '2["hello",1,{"a":[true,null,1.5]}]')
    write("fuzz_sio_codec", "event_id", '2/chat,12["msg","x"]')
    write("fuzz_sio_codec", "ack", '3/chat,12["ok"]')
    write("fuzz_sio_codec", "disconnect", "1/chat,")
    write("fuzz_sio_codec", "binary_event",
          '52-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
          + rs + "B\x01\x02" + rs + "Babc" + rs + '2["after"]')
    write("fuzz_sio_codec", "binary_ack", '61-/x,5[{"_placeholder":true,"num":0}]' + rs + "B")
    write("fuzz_sio_codec", "connect_error", '4{"message":"nope","data":{"code":"X"}}')


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


SECRET = b"fuzz-secret-0123456789abcdefghijk"  # the secret fuzz_jwt.c uses


def hs256(header, claims):
    signing = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    sig = hmac.new(SECRET, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64u(sig)


def corpus_jwt():
    hdr = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": "alice", "exp": 1800000000, "iat": 1690000000}
    # mode 0: raw tokens (a valid one with a bit changed, alg none, bearer prefix)
    tok = hs256(hdr, claims)
    write("fuzz_jwt", "raw_tampered", b"\x00" + (tok[:-2] + "AA").encode())
    write("fuzz_jwt", "raw_bearer", b"\x00Bearer  " + tok[:-1].encode() + b"x")
    none = b64u(b'{"alg":"none"}') + "." + b64u(json.dumps(claims).encode()) + "."
    write("fuzz_jwt", "raw_none", b"\x00" + none.encode())
    # mode 1: header NUL payload NUL signature
    write("fuzz_jwt", "parts_rs", b"\x01" + b'{"alg":"RS256","kid":"k"}' + b"\0" +
          json.dumps(claims).encode() + b"\0" + bytes(256))
    write("fuzz_jwt", "parts_hs", b"\x01" + b'{"alg":"HS256","crit":["x"]}' + b"\0" +
          b'{"sub":"a","nbf":1e400}' + b"\0" + bytes(32))
    # mode 2: claims signed with the real secret
    write("fuzz_jwt", "signed_ok", b"\x02" + json.dumps(claims).encode())
    write("fuzz_jwt", "signed_claims", b"\x02" + b'{"sub":12345,"exp":1.7e9,"nbf":1600000000,'
          b'"aud":["x","y"],"iss":"me"}')
    write("fuzz_jwt", "signed_bad_sub", b"\x02" + b'{"sub":"a\\u0001b","exp":"soon"}')


def corpus_config():
    write("fuzz_config", "defaults", b"\x00")
    write("fuzz_config", "typical", b"\x00" + b"\n".join([
        b"PORT=3000", b"HOST=127.0.0.1", b"SOCKETIO_PATH=/ws",
        b"JWT_SECRET=0123456789abcdef0123456789abcdef", b"JWT_ALGORITHMS=HS256, HS512",
        b"CORS_ORIGINS=https://Example.com, http://localhost:8080",
        b"MONGODB_URI=mongodb://u:p@127.0.0.1:27017,h2:27018/db?replicaSet=rs0&w=majority",
        b"ENABLE_CHANGE_STREAMS=TRUE", b"PING_INTERVAL_MS=25000", b"PING_TIMEOUT_MS=20000",
        b"MAX_PAYLOAD_BYTES=1000000", b"LOG_FORMAT=json", b"DEBUG=1",
        b"JWT_LEEWAY_SECONDS=5", b"NOTIFICATION_USER_FIELD=recipient.id"]))
    write("fuzz_config", "errors", b"\x30" + b"\n".join([
        b"PORT=70000", b"JWT_ALGORITHMS=none", b"MONGODB_URI=mongodb://:bad", b"HOST=",
        b"MAX_PAYLOAD_BYTES=12x", b"TLS_CERT_FILE=/nonexistent", b"MONGODB_DB=a.b",
        b"LOG_FORMAT=xml", b"CORS_ORIGINS=*", b"OUTBOX_MAX_BYTES=99999999999999999999"]))
    write("fuzz_config", "files", b"\x00TLS_CERT_FILE=/etc/hostname\nTLS_KEY_FILE=/dev/null\n"
          b"JWT_PUBLIC_KEY_FILE=/etc/passwd\nRESUME_TOKEN_ID=x\nNOTIFICATIONS_COLLECTION=c")


if __name__ == "__main__":
    corpus_notice()
    corpus_emu()
    corpus_eio()
    corpus_base64()
    corpus_chunked()
    corpus_sio()
    corpus_jwt()
    corpus_config()
