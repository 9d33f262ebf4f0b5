#!/usr/bin/env python3
"""Writes the seed corpus for the fuzz harnesses (checked in; re-run to
regenerate). Seeds are valid inputs the fuzzers mutate from: a login the way
libiscsi sends it, a CHAP start, and key=value segments."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def kv(pairs):
    return b"".join(k.encode() + b"=" + v.encode() + b"\0" for k, v in pairs)


def login_pdu(csg, nsg, transit, data, isid=b"\x80\x00\x00\x00\x00\x01", cmdsn=1):
    b1 = (0x80 if transit else 0) | (csg << 2) | nsg
    dsl = len(data)
    bhs = struct.pack(">BBBBB3s6sHIHHII16x", 0x43, b1, 0, 0, 0,
                      dsl.to_bytes(3, "big"), isid, 0, 1, 0, 0, cmdsn, 0)
    assert len(bhs) == 48
    pad = (-dsl) % 4
    return bhs + data + b"\0" * pad


def write(sub, name, blob):
    d = os.path.join(HERE, "corpus", sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)


ops = [("HeaderDigest", "None"), ("DataDigest", "None"),
       ("InitialR2T", "Yes"), ("ImmediateData", "Yes"),
       ("MaxBurstLength", "262144"), ("FirstBurstLength", "262144"),
       ("MaxRecvDataSegmentLength", "262144"), ("MaxConnections", "1"),
       ("ErrorRecoveryLevel", "0"), ("DefaultTime2Wait", "2"),
       ("DefaultTime2Retain", "0"), ("MaxOutstandingR2T", "1"),
       ("DataPDUInOrder", "Yes"), ("DataSequenceInOrder", "Yes")]
ident = [("InitiatorName", "iqn.2026-11.test:ok"),
         ("TargetName", "iqn.2026-11.test:fuzz"), ("SessionType", "Normal")]

# mode byte: bit0 open access, bit1 CHAP required
write("login", "none-two-stages", b"\x01" +
      login_pdu(0, 1, True, kv(ident + [("AuthMethod", "None")])) +
      login_pdu(1, 3, True, kv(ops)))
write("login", "straight-to-ffp", b"\x00" +
      login_pdu(1, 3, True, kv(ident + ops)))
write("login", "chap-start", b"\x02" +
      login_pdu(0, 0, False, kv(ident + [("AuthMethod", "CHAP,None")])) +
      login_pdu(0, 0, False, kv([("CHAP_A", "7,6,5")])) +
      login_pdu(0, 1, True, kv([("CHAP_N", "u"), ("CHAP_R", "0x" + "00" * 32)])))
write("login", "discovery", b"\x00" +
      login_pdu(1, 3, True, kv([("InitiatorName", "iqn.2026-11.test:ok"),
                                ("SessionType", "Discovery")] + ops)))
write("kv", "ops", kv(ops))
write("kv", "sendtargets", kv([("SendTargets", "All")]))
write("kv", "no-terminator", b"HeaderDigest=CRC32C,None")
write("kv", "no-equals", b"HeaderDigest\0DataDigest=None\0")
