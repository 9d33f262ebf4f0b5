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


# APTPL images (src/pr/pr_aptpl.h, format version 1), for fuzz_aptpl: a
# mode byte (bit 0: the harness fixes the CRC up), then the image.
def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def tid(name, isid=None):
    s = name.encode() + (b",i,0x" + isid.encode() if isid else b"")
    n = max((len(s) + 1 + 3) & ~3, 20)
    fmt = 1 if isid else 0
    return bytes([fmt << 6 | 5, 0]) + n.to_bytes(2, "big") + s.ljust(n, b"\0")


def aptpl_image(regs, gen=1, epoch=0, rtype=0, holder=0xFFFFFFFF, aptpl=True):
    recs = b""
    for key, rtpi, all_tg_pt, t in regs:
        recs += struct.pack(">QHBBHH", key, rtpi, 1 if all_tg_pt else 0, 0,
                            len(t), 0) + t
    hdr = b"CTPR" + struct.pack(">HHQIIIBBBBII", 1, 40, epoch, gen, len(regs),
                                holder, rtype, 0, 1 if aptpl else 0, 0,
                                len(recs), 0)
    body = hdr + recs
    return body + crc32c(body).to_bytes(4, "big")


I1 = tid("iqn.2026-11.test:i1", "00023d000001")
I2 = tid("iqn.2026-11.test:i2", "00023d000002")
write("aptpl", "empty-aptpl-0", b"\0" + aptpl_image([], gen=7, epoch=3,
                                                 aptpl=False))
write("aptpl", "empty-aptpl-1", b"\1" + aptpl_image([], gen=0))
write("aptpl", "two-regs-wr-ex", b"\0" + aptpl_image(
    [(0xAAAA0000000000A1, 1, False, I1), (0xBBBB0000000000B2, 2, False, I2)],
    gen=2, epoch=1, rtype=1, holder=1))
write("aptpl", "all-registrants-all-tg-pt", b"\1" + aptpl_image(
    [(0xA1, 1, True, I1), (0xB2, 1, False, I2)], gen=5, rtype=8))
write("aptpl", "device-format-tid", b"\1" + aptpl_image(
    [(0xC3, 2, False, tid("iqn.2026-11.test:spec-i-pt"))], gen=9))
write("aptpl", "four-regs-ex-ac-ro", b"\1" + aptpl_image(
    [(0x10 + i, 1 + i % 2, i == 3,
      tid("iqn.2026-11.test:n%u" % i, "80000000000%u" % i)) for i in range(4)],
    gen=0xFFFFFFFF, epoch=0xFFFFFFFFFFFFFFFF, rtype=6, holder=2))


# lu_repl messages and snapshots (src/scsi/lu_repl.h, version 1), for
# fuzz_lu_repl: a mode byte (0: 2-byte-length framed messages, 1: one
# snapshot), then the bytes. The harness's ports are RTPIs 1..5 and its
# LU holds 4 registrations with PTPL_C and CRH.
def lu_repl_corpus():
    def nexus(rtpi, t):
        return struct.pack(">HH", rtpi, len(t)) + t

    def msg(mtype, body):
        return bytes([1, mtype, 0, 0]) + body

    def pr_out(nx, sa, rtype, key, sa_key, flags=0, move_rtpi=0, tids=()):
        scope_type = rtype if sa in (1, 2, 4, 5, 7) else 0
        body = nx + struct.pack(">BBBBQQHH", sa, 0, scope_type, flags, key,
                                sa_key, move_rtpi, len(tids))
        for off, t in tids:
            body += struct.pack(">HH", off, len(t)) + t
        return msg(1, body)

    def frames(*msgs):
        return b"\0" + b"".join(struct.pack(">H", len(m)) + m for m in msgs)

    def snapshot(regs, gen=0, rtype=0, holder=0xFFFFFFFF, aptpl=False,
                 s2=None, resets=0, epoch=0):
        flags = (1 if aptpl else 0) | (2 if s2 else 0)
        b = b"CTLU" + struct.pack(">HHIB3sQQIIIIBBBB", 1, 0, 4, 3,
                                  b"\0" * 3, resets, epoch, gen if epoch
                                  else 0, gen, len(regs), holder, rtype, 0,
                                  flags, 0)
        if s2:
            b += nexus(*s2)
        for key, rtpi, all_tg_pt, t in regs:
            b += struct.pack(">QHBBH", key, rtpi, 1 if all_tg_pt else 0, 0,
                             len(t)) + t
        return b"\1" + b

    A = tid("iqn.2026-11.test:i1", "00023d000001")
    B = tid("iqn.2026-11.test:i2", "00023d000002")
    D = tid("iqn.2026-11.test:device")
    KA, KB = 0xAAAA0000000000A1, 0xBBBB0000000000B2
    a1, b4 = nexus(1, A), nexus(4, B)
    write("lu_repl", "register-reserve-preempt-abort", frames(
        pr_out(a1, 0, 0, 0, KA), pr_out(b4, 0, 0, 0, KB, flags=1),
        pr_out(a1, 1, 1, KA, 0), pr_out(b4, 5, 3, KB, KA)))
    write("lu_repl", "scsi2-reset-nexus-loss", frames(
        msg(2, a1), msg(2, b4), msg(3, b4), msg(4, b4), msg(2, b4),
        msg(5, b4)))
    write("lu_repl", "register-and-move", frames(
        pr_out(a1, 0, 0, 0, KA), pr_out(a1, 1, 1, KA, 0),
        pr_out(a1, 7, 1, KA, KB, flags=8, move_rtpi=9, tids=[(24, B)]),
        pr_out(a1, 7, 1, KA, KB, flags=8, move_rtpi=4, tids=[(24, B)])))
    write("lu_repl", "spec-i-pt-all-tg-pt", frames(
        pr_out(a1, 0, 0, 0, KA, flags=2 | 4,
               tids=[(28, D), (28 + len(D), B)]),
        pr_out(b4, 1, 7, KA, 0)))
    write("lu_repl", "node-left", frames(
        msg(2, nexus(3, A)),
        msg(6, struct.pack(">IHH", 2, 2, 0) + struct.pack(">HH", 3, 4))))
    write("lu_repl", "snapshot-scsi2", snapshot([], s2=(2, A), resets=3))
    write("lu_repl", "snapshot-wr-ex-aptpl", snapshot(
        [(KA, 1, False, A), (KB, 4, True, B)], gen=2, rtype=1, holder=0,
        aptpl=True, epoch=7))
    write("lu_repl", "snapshot-ex-ac-ar", snapshot(
        [(KA, 1, True, A), (KB, 4, False, D)], gen=9, rtype=8))

    # port directory (src/scsi/port_dir.h, version 1): mode 2, framed
    # ANNOUNCE messages; mode 3, one directory snapshot
    def port_rec(node, rtpi, group, tpg, target, portals, live=False):
        r = struct.pack(">IHHHBBB", node, rtpi, group, tpg, 1 if live else 0,
                        len(portals), len(target)) + target.encode()
        for p in portals:
            r += bytes([len(p)]) + p.encode()
        return r

    def announce(node, group, rtpis):
        recs = b"".join(port_rec(node, r, group, i + 1,
                                 "iqn.2026-11.test:t%u" % node,
                                 ["192.168.0.%u:3260" % node])
                        for i, r in enumerate(rtpis))
        return bytes([1, 1, 0, 0]) + struct.pack(">IHH", node, len(rtpis),
                                                 0) + recs

    def framed(mode, *msgs):
        return bytes([mode]) + b"".join(struct.pack(">H", len(m)) + m
                                        for m in msgs)

    write("lu_repl", "announce-two-nodes-clash", framed(
        2, announce(1, 1, [1, 2]), announce(2, 2, [3, 4]),
        announce(3, 3, [4, 5]), announce(3, 2, [5]), announce(2, 2, [3])))
    write("lu_repl", "port-dir-snapshot", b"\3" + b"CTPD" + struct.pack(
        ">HHI", 1, 0, 3) + port_rec(1, 1, 1, 1, "iqn.2026-11.test:t1",
                                    ["10.0.0.1:3260", "[fd00::1]:3260"], True)
        + port_rec(1, 2, 1, 2, "iqn.2026-11.test:t1", [], True)
        + port_rec(2, 3, 2, 1, "iqn.2026-11.test:t2", ["10.0.0.2:3260"]))


lu_repl_corpus()


def cluster_corpus():
    """fuzz_cluster: mode byte, then a wire message (0), runs of KV ops
    (1) or lock ops (3) framed as [u8 node][u16 length][op], or a saved
    KV map (2) / lock table (4). Formats: src/cluster/cluster_msg.h,
    cluster_kv_state.h, cluster_lock_table.h."""
    def hdr(mtype, channel, payload, seq=1, inc=0x1234):
        return struct.pack(">IBBHIQQ", 0x43544743, 1, mtype, channel,
                           len(payload), seq, inc) + payload

    write("cluster", "msg-data", b"\0" + hdr(1, 16, b"hello"))
    write("cluster", "msg-ack", b"\0" + hdr(2, 0, struct.pack(">Q", 7)))
    write("cluster", "msg-announce", b"\0" + hdr(3, 0, struct.pack(
        ">QQQQ", 0xabc, 3 << 24 | 5, 3 << 24 | 5, 42)))
    write("cluster", "msg-snapshot", b"\0" + hdr(4, 0, struct.pack(
        ">QII", 0xabc, 10, 0) + b"0123456789"))
    write("cluster", "msg-loaded", b"\0" + hdr(5, 0, struct.pack(">Q", 9)))

    def kv_op(otype, key, val=b"", expect=0):
        return struct.pack(">BBHIQ", 1, otype, len(key), len(val),
                           expect) + key + val

    def chunk(node, op):
        return struct.pack(">BH", node, len(op)) + op

    write("cluster", "kv-ops", b"\1" + chunk(1, kv_op(1, b"a", b"one")) +
          chunk(1, kv_op(1, b"b", b"two")) +
          chunk(2, kv_op(2, b"a", b"three", expect=1)) +
          chunk(2, kv_op(2, b"c", b"new", expect=0)) +
          chunk(1, kv_op(3, b"b")))

    def kv_map(ents):
        out = b"CKVS" + struct.pack(">HHI", 1, 0, len(ents))
        for key, val, ver in sorted(ents):
            out += struct.pack(">HHIQ", len(key), 0, len(val), ver) + key + val
        return out

    write("cluster", "kv-map", b"\2" + kv_map([(b"a", b"one", 1),
                                               (b"lun/1", b"x" * 300, 9)]))

    def lock_op(otype, req, name, start=0, length=0, mode=1, cache=False):
        return struct.pack(">BBBBHHQQQ", 1, otype, mode, 1 if cache else 0,
                           len(name), 0, req, start, length) + name

    write("cluster", "lock-ops", b"\3" +
          chunk(1, lock_op(1, 1, b"lun", 0, 8, mode=1)) +
          chunk(2, lock_op(1, 1, b"lun", 4, 8, mode=0)) +
          chunk(3, lock_op(1, 1, b"lun", 100, 8, mode=1, cache=True)) +
          chunk(1, lock_op(2, 1, b"lun")) +
          chunk(3, b"") +
          chunk(2, lock_op(3, 1, b"lun")) +
          chunk(4, lock_op(1, 2, b"name", mode=0)))

    def lock_table(resources):
        out = b"CLKT" + struct.pack(">HHI", 1, 0, len(resources))
        for name, ents in sorted(resources):
            out += struct.pack(">HHI", len(name), 0, len(ents)) + name
            for node, mode, flags, req, start, length in ents:
                out += struct.pack(">IBBHQQQ", node, mode, flags, 0, req,
                                   start, length)
        return out

    write("cluster", "lock-table", b"\4" + lock_table([
        (b"lun", [(1, 1, 1, 1, 0, 8), (2, 0, 0, 1, 4, 8),
                  (3, 1, 3, 1, 100, 8)])]))


cluster_corpus()
